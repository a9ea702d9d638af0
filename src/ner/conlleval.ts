/**
 * Entity-level scoring that agrees with the conlleval script of the CoNLL-2000 shared task (the one every NER
 * paper reports), to the last printed digit.
 *
 * The scorer runs the same state machine as conlleval over the gold and predicted tags of each sentence,
 * followed by a sentence boundary, exactly as if the sentences had been written with
 * {@link formatPredictions} (one `token gold predicted` line per token, a blank line after each sentence) and
 * piped through the script. The details that matter for agreement:
 *
 * - An entity is counted correct only if gold and prediction start at the same token with the same type and
 *   both end at the same token (chunk rules in `tags.ts`: `I-` after `O` starts an entity, a change of type
 *   ends one, a sentence boundary ends everything).
 * - Token accuracy compares whole tags (`B-PER` against `I-PER` is wrong) over all tokens.
 * - A tag is split at its first hyphen; a type spelled `0` counts as no type (conlleval tests types for truth
 *   in Perl, where `"0"` is false). Types are sorted by bytes. A token spelled `-X-` is a sentence boundary
 *   to conlleval, so it is treated as one here when tokens are given.
 * - Percentages are printed with C's `%6.2f`, whose ties round to even (`12.125` → `12.12`), unlike
 *   `Number.prototype.toFixed`.
 *
 * IOBES tags are rewritten as IOB2 before scoring when `scheme: "IOBES"` is given, because conlleval itself
 * does not know the `S-` prefix.
 */
import { ValueError } from "../errors.js";
import {
  checkTagScheme,
  compareCodePoints,
  isChunkEnd,
  isChunkStart,
  iobesToIob2,
  type TagScheme,
} from "./tags.js";

/** One sentence to score: gold and predicted tags of the same length, and optionally the tokens. */
export interface ScoredSentence {
  /** The gold tag of each token. */
  readonly gold: readonly string[];
  /** The predicted tag of each token (as many as `gold`). */
  readonly predicted: readonly string[];
  /** The words, when known (used in error messages only). */
  readonly tokens?: readonly string[];
}

/** Options of {@link conlleval}. */
export interface ConllevalOptions {
  /**
   * The scheme both tag sequences are written in. IOB1 and IOB2 are scored as they are (conlleval reads them
   * identically); IOBES is rewritten as IOB2 first. Default IOB2.
   */
  scheme?: TagScheme;
}

/** Scores for one entity type, in percent (0–100), as conlleval prints them. */
export interface EntityTypeScore {
  /** The entity type (`LOC`, `PER`, …). */
  readonly type: string;
  /** Correct predicted entities of this type over predicted ones. */
  readonly precision: number;
  /** Correct predicted entities of this type over gold ones. */
  readonly recall: number;
  /** The harmonic mean of precision and recall. */
  readonly f1: number;
  /** Entities of this type in the gold tags. */
  readonly goldCount: number;
  /** Entities of this type in the predicted tags (the last number on conlleval's line). */
  readonly predictedCount: number;
  /** Predicted entities of this type that match a gold entity exactly. */
  readonly correctCount: number;
}

/** conlleval's figures. Precision, recall, F1 and accuracy are percentages (0–100). */
export interface ConllevalResult {
  /** Tokens scored. */
  readonly tokenCount: number;
  /** Tokens whose predicted tag equals the gold tag. */
  readonly correctTagCount: number;
  /** correctTagCount over tokenCount. */
  readonly accuracy: number;
  /** "phrases" in conlleval's first line: entities in the gold tags. */
  readonly goldCount: number;
  /** "found": entities in the predicted tags. */
  readonly predictedCount: number;
  /** "correct": predicted entities that match a gold entity exactly. */
  readonly correctCount: number;
  /** Entity-level precision: correctCount over predictedCount. */
  readonly precision: number;
  /** Entity-level recall: correctCount over goldCount. */
  readonly recall: number;
  /** Entity-level F1, the harmonic mean of precision and recall: the figure NER is usually judged on. */
  readonly f1: number;
  /** Per-type scores, in conlleval's order (byte order of the type names). */
  readonly types: readonly EntityTypeScore[];
}

interface TagParts {
  prefix: string;
  type: string;
}

/** conlleval's split of a tag, with its Perl truthiness rule: a type `"0"` or `""` is no type. */
function conllevalParts(tag: string): TagParts {
  const hyphen = tag.indexOf("-");
  if (hyphen < 0) return { prefix: tag, type: "" };
  const type = tag.slice(hyphen + 1);
  return { prefix: tag.slice(0, hyphen), type: type === "0" ? "" : type };
}

const BOUNDARY: TagParts = { prefix: "O", type: "" };

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * Accumulates conlleval's counts sentence by sentence (useful for scoring a large set without holding all the
 * predictions); {@link conlleval} is the one-call form.
 */
export class ConllevalCounter {
  private readonly scheme: TagScheme;
  private previousGold: TagParts = BOUNDARY;
  private previousPredicted: TagParts = BOUNDARY;
  private insideCorrect = false;
  private tokenCount = 0;
  private correctTagCount = 0;
  private goldCount = 0;
  private predictedCount = 0;
  private correctCount = 0;
  private readonly goldByType = new Map<string, number>();
  private readonly predictedByType = new Map<string, number>();
  private readonly correctByType = new Map<string, number>();

  constructor(options: ConllevalOptions = {}) {
    this.scheme = checkTagScheme(options.scheme ?? "IOB2", "conlleval");
  }

  /** Adds one sentence; a sentence boundary follows it. */
  addSentence(gold: readonly string[], predicted: readonly string[], tokens?: readonly string[]): void {
    if (!Array.isArray(gold) || !Array.isArray(predicted)) {
      throw new ValueError("conlleval: a sentence needs arrays of gold and predicted tags");
    }
    if (gold.length !== predicted.length) {
      throw new ValueError(
        `conlleval: a sentence has ${gold.length} gold tags but ${predicted.length} predicted tags`,
      );
    }
    if (tokens !== undefined && tokens.length !== gold.length) {
      throw new ValueError(`conlleval: a sentence has ${tokens.length} tokens but ${gold.length} tags`);
    }
    const goldTags = this.scheme === "IOBES" ? iobesToIob2(gold) : gold;
    const predictedTags = this.scheme === "IOBES" ? iobesToIob2(predicted) : predicted;
    for (let i = 0; i < goldTags.length; i++) {
      const goldTag = goldTags[i]!;
      const predictedTag = predictedTags[i]!;
      if (typeof goldTag !== "string" || typeof predictedTag !== "string") {
        throw new ValueError(`conlleval: tag ${i} of a sentence is not a string`);
      }
      if (tokens !== undefined && tokens[i] === "-X-") this.step(BOUNDARY, BOUNDARY, false);
      else this.step(conllevalParts(goldTag), conllevalParts(predictedTag), true);
    }
    this.step(BOUNDARY, BOUNDARY, false);
  }

  /** One line of conlleval's input: a token (counted) or a sentence boundary (not counted). */
  private step(gold: TagParts, predicted: TagParts, isToken: boolean): void {
    const lastGold = this.previousGold;
    const lastPredicted = this.previousPredicted;
    if (this.insideCorrect) {
      const goldEnds = isChunkEnd(lastGold.prefix, gold.prefix, lastGold.type, gold.type);
      const predictedEnds = isChunkEnd(
        lastPredicted.prefix,
        predicted.prefix,
        lastPredicted.type,
        predicted.type,
      );
      if (goldEnds && predictedEnds && lastPredicted.type === lastGold.type) {
        this.insideCorrect = false;
        this.correctCount++;
        increment(this.correctByType, lastGold.type);
      } else if (goldEnds !== predictedEnds || predicted.type !== gold.type) {
        this.insideCorrect = false;
      }
    }
    const goldStarts = isChunkStart(lastGold.prefix, gold.prefix, lastGold.type, gold.type);
    const predictedStarts = isChunkStart(
      lastPredicted.prefix,
      predicted.prefix,
      lastPredicted.type,
      predicted.type,
    );
    if (goldStarts && predictedStarts && predicted.type === gold.type) this.insideCorrect = true;
    if (goldStarts) {
      this.goldCount++;
      increment(this.goldByType, gold.type);
    }
    if (predictedStarts) {
      this.predictedCount++;
      increment(this.predictedByType, predicted.type);
    }
    if (isToken) {
      if (gold.prefix === predicted.prefix && gold.type === predicted.type) this.correctTagCount++;
      this.tokenCount++;
    }
    this.previousGold = gold;
    this.previousPredicted = predicted;
  }

  /** The scores so far (the counter can keep accumulating afterwards). */
  result(): ConllevalResult {
    let correctCount = this.correctCount;
    let correctByType = this.correctByType;
    if (this.insideCorrect) {
      // conlleval closes an entity still open at the end of its input.
      correctCount++;
      correctByType = new Map(this.correctByType);
      increment(correctByType, this.previousGold.type);
    }
    const precision = this.predictedCount > 0 ? (100 * correctCount) / this.predictedCount : 0;
    const recall = this.goldCount > 0 ? (100 * correctCount) / this.goldCount : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    const names = [...new Set([...this.goldByType.keys(), ...this.predictedByType.keys()])].sort(
      compareCodePoints,
    );
    const types = names.map((type): EntityTypeScore => {
      const goldCount = this.goldByType.get(type) ?? 0;
      const predictedCount = this.predictedByType.get(type) ?? 0;
      const typeCorrect = correctByType.get(type) ?? 0;
      const typePrecision = predictedCount > 0 ? (100 * typeCorrect) / predictedCount : 0;
      const typeRecall = goldCount > 0 ? (100 * typeCorrect) / goldCount : 0;
      const typeF1 =
        typePrecision + typeRecall === 0
          ? 0
          : (2 * typePrecision * typeRecall) / (typePrecision + typeRecall);
      return {
        type,
        precision: typePrecision,
        recall: typeRecall,
        f1: typeF1,
        goldCount,
        predictedCount,
        correctCount: typeCorrect,
      };
    });
    return {
      tokenCount: this.tokenCount,
      correctTagCount: this.correctTagCount,
      accuracy: this.tokenCount > 0 ? (100 * this.correctTagCount) / this.tokenCount : 0,
      goldCount: this.goldCount,
      predictedCount: this.predictedCount,
      correctCount,
      precision,
      recall,
      f1,
      types,
    };
  }
}

/** Scores sentences of gold and predicted tags exactly as conlleval does. */
export function conlleval(
  sentences: Iterable<ScoredSentence>,
  options: ConllevalOptions = {},
): ConllevalResult {
  const counter = new ConllevalCounter(options);
  let index = 0;
  for (const sentence of sentences) {
    if (sentence === null || typeof sentence !== "object") {
      throw new ValueError(`conlleval: sentence ${index} is not an object with gold and predicted tags`);
    }
    counter.addSentence(sentence.gold, sentence.predicted, sentence.tokens);
    index++;
  }
  return counter.result();
}

/**
 * Formats a non-negative number as C's `printf("%*.2f")` does: correctly rounded from the exact binary value,
 * ties to even (`Number.prototype.toFixed` breaks exact ties upwards), right-aligned in `width` characters.
 */
export function formatFixed2(value: number, width = 0): string {
  if (!Number.isFinite(value)) return String(value).padStart(width);
  let text: string;
  const eighths = value * 8;
  if (value >= 0 && Number.isInteger(eighths) && Math.abs(eighths % 2) === 1) {
    // An exact tie between two hundredths (only odd multiples of 1/8 are): round to the even hundredth.
    const lower = Math.floor(value * 100);
    const hundredths = lower % 2 === 0 ? lower : lower + 1;
    text = `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, "0")}`;
  } else {
    text = value.toFixed(2);
  }
  return text.padStart(width);
}

/** The number of bytes of a string in UTF-8 (Perl pads bytes, not characters, in `%17s`). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/**
 * conlleval's report, line for line:
 *
 * ```text
 * processed 12 tokens with 3 phrases; found: 3 phrases; correct: 2.
 * accuracy:  83.33%; precision:  66.67%; recall:  66.67%; FB1:  66.67
 *               LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
 * ```
 *
 * The accuracy line is left out when there are no tokens, as conlleval does. Ends with a newline.
 */
export function formatConllevalReport(result: ConllevalResult): string {
  const lines: string[] = [];
  lines.push(
    `processed ${result.tokenCount} tokens with ${result.goldCount} phrases; ` +
      `found: ${result.predictedCount} phrases; correct: ${result.correctCount}.`,
  );
  if (result.tokenCount > 0) {
    lines.push(
      `accuracy: ${formatFixed2(result.accuracy, 6)}%; precision: ${formatFixed2(result.precision, 6)}%; ` +
        `recall: ${formatFixed2(result.recall, 6)}%; FB1: ${formatFixed2(result.f1, 6)}`,
    );
  }
  for (const score of result.types) {
    const line =
      `${" ".repeat(Math.max(0, 17 - utf8Length(score.type)))}${score.type}: ` +
      `precision: ${formatFixed2(score.precision, 6)}%; recall: ${formatFixed2(score.recall, 6)}%; ` +
      `FB1: ${formatFixed2(score.f1, 6)}  ${score.predictedCount}`;
    lines.push(line);
    // conlleval de-duplicates its sorted list of types with a truth test, so the empty type (tags without a
    // hyphen) is listed twice when it occurs in both the gold and the predicted tags.
    if (score.type === "" && score.goldCount > 0 && score.predictedCount > 0) lines.push(line);
  }
  return lines.join("\n") + "\n";
}
