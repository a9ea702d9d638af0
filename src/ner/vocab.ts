/**
 * Word and tag vocabularies: the maps from strings to the integer ids that index embedding rows and softmax
 * outputs. Both serialise to plain JSON for a model directory's `config.json`.
 */
import { ValueError, quoteInput } from "../errors.js";
import { compareCodePoints } from "./tags.js";
import { sortTags } from "./conll.js";

/** The unknown-word entry: every word not in the vocabulary maps here. */
export const UNKNOWN_WORD = "<unk>";
/** Padding before a sentence's first word, for windows at the left edge. */
export const SENTENCE_START = "<s>";
/** Padding after a sentence's last word, for windows at the right edge. */
export const SENTENCE_END = "</s>";

/** The special entries, in id order: they always have ids 0, 1 and 2. */
export const SPECIAL_WORDS: readonly string[] = [UNKNOWN_WORD, SENTENCE_START, SENTENCE_END];

/** Options of {@link Vocabulary.build}. */
export interface VocabularyOptions {
  /** Keep only words seen at least this often (after normalisation). Default 1. */
  minCount?: number;
  /** Lower-case words before counting and looking up. Default true. */
  lowercase?: boolean;
  /** Replace every decimal digit by `0` (`1989` → `0000`, `3.5` → `0.0`). Default true. */
  normalizeDigits?: boolean;
  /** Keep at most this many words besides the special entries (the most frequent). Default unlimited. */
  maxSize?: number;
}

/** The JSON form of a {@link Vocabulary}. */
export interface VocabularyJSON {
  /** Every entry in id order, the special ones first. */
  words: string[];
  /** Whether words are lower-cased before lookup. */
  lowercase: boolean;
  /** Whether digits are replaced by `0` before lookup. */
  normalizeDigits: boolean;
}

const DIGIT = /\p{Nd}/gu;

/** Checks the counting options of {@link Vocabulary.build}; `where` names the caller in messages. */
function checkBuildOptions(options: VocabularyOptions, where: string): { minCount: number; maxSize: number } {
  const minCount = options.minCount ?? 1;
  if (!Number.isInteger(minCount) || minCount < 1) {
    throw new ValueError(`${where}: minCount must be a positive integer, got ${quoteInput(minCount)}`);
  }
  const maxSize = options.maxSize ?? Infinity;
  if (maxSize !== Infinity && (!Number.isInteger(maxSize) || maxSize < 0)) {
    throw new ValueError(`${where}: maxSize must be a non-negative integer, got ${quoteInput(maxSize)}`);
  }
  return { minCount, maxSize };
}

/**
 * A word vocabulary. Ids 0, 1, 2 are `<unk>`, `<s>` and `</s>`; the words follow by decreasing training count
 * (ties in code-point order), so the table is deterministic. Words are normalised (lower-cased, digits
 * replaced by `0`, as configured) both when the vocabulary is built and when it is looked up. A word whose
 * normalised form is one of the special strings maps to `<unk>`, so text can never produce a padding id.
 */
export class Vocabulary {
  /** Whether words are lower-cased before lookup. */
  readonly lowercase: boolean;
  /** Whether digits are replaced by `0` before lookup. */
  readonly normalizeDigits: boolean;
  private readonly wordList: string[];
  private readonly ids: Map<string, number>;

  /** Use {@link Vocabulary.build} or {@link Vocabulary.fromJSON}; `words` must start with the special entries. */
  constructor(words: readonly string[], options: { lowercase?: boolean; normalizeDigits?: boolean } = {}) {
    this.lowercase = options.lowercase ?? true;
    this.normalizeDigits = options.normalizeDigits ?? true;
    for (let i = 0; i < SPECIAL_WORDS.length; i++) {
      if (words[i] !== SPECIAL_WORDS[i]) {
        throw new ValueError(
          `Vocabulary: entry ${i} must be ${JSON.stringify(SPECIAL_WORDS[i])}, got ${quoteInput(words[i])}`,
        );
      }
    }
    this.wordList = [...words];
    this.ids = new Map();
    for (let i = 0; i < this.wordList.length; i++) {
      const word = this.wordList[i]!;
      if (typeof word !== "string" || word.length === 0) {
        throw new ValueError(`Vocabulary: entry ${i} must be a non-empty string, got ${quoteInput(word)}`);
      }
      if (this.ids.has(word)) throw new ValueError(`Vocabulary: the word ${quoteInput(word)} appears twice`);
      if (i >= SPECIAL_WORDS.length && this.normalize(word) !== word) {
        throw new ValueError(
          `Vocabulary: the word ${quoteInput(word)} is not normalised (expected ${quoteInput(this.normalize(word))})`,
        );
      }
      this.ids.set(word, i);
    }
  }

  /**
   * Builds a vocabulary from training sentences (or any lists of words): counts normalised words, keeps those
   * seen at least `minCount` times (at most `maxSize` of them).
   */
  static build(sentences: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    checkBuildOptions(options, "Vocabulary.build");
    const counts = new Map<string, number>();
    for (const words of sentences) {
      for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
    return Vocabulary.fromCounts(counts, options);
  }

  /**
   * {@link Vocabulary.build} from words already counted: `[word, count]` pairs (a word may come more than once,
   * and words that normalise alike add up), e.g. the distinct tokens of a `CompactCorpus` and their counts.
   */
  static fromCounts(
    counts: Iterable<readonly [word: string, count: number]>,
    options: VocabularyOptions = {},
  ): Vocabulary {
    const { minCount, maxSize } = checkBuildOptions(options, "Vocabulary.fromCounts");
    const normalizer = new Vocabulary(SPECIAL_WORDS, options);
    const normalized = new Map<string, number>();
    for (const [word, count] of counts) {
      if (typeof word !== "string" || !Number.isInteger(count) || count < 0) {
        throw new ValueError(
          `Vocabulary.fromCounts: expected [word, count] pairs of a string and a non-negative integer, got [${quoteInput(word)}, ${quoteInput(count)}]`,
        );
      }
      const key = normalizer.normalize(word);
      normalized.set(key, (normalized.get(key) ?? 0) + count);
    }
    const special = new Set(SPECIAL_WORDS);
    const kept = [...normalized]
      .filter(([word, count]) => count >= minCount && !special.has(word) && word.length > 0)
      .sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]))
      .slice(0, maxSize)
      .map(([word]) => word);
    return new Vocabulary([...SPECIAL_WORDS, ...kept], options);
  }

  /** Restores a vocabulary from {@link Vocabulary.toJSON}'s output, checking it. */
  static fromJSON(json: unknown): Vocabulary {
    if (json === null || typeof json !== "object")
      throw new ValueError("Vocabulary.fromJSON: expected an object");
    const { words, lowercase, normalizeDigits } = json as Partial<VocabularyJSON>;
    if (!Array.isArray(words))
      throw new ValueError("Vocabulary.fromJSON: `words` must be an array of strings");
    if (typeof lowercase !== "boolean" || typeof normalizeDigits !== "boolean") {
      throw new ValueError("Vocabulary.fromJSON: `lowercase` and `normalizeDigits` must be booleans");
    }
    return new Vocabulary(words, { lowercase, normalizeDigits });
  }

  /** The vocabulary as JSON-safe data, for a model directory's `config.json`. */
  toJSON(): VocabularyJSON {
    return { words: [...this.wordList], lowercase: this.lowercase, normalizeDigits: this.normalizeDigits };
  }

  /** Number of entries, the special ones included (the embedding table's row count). */
  get size(): number {
    return this.wordList.length;
  }

  /** The id of `<unk>` (0): the row every unknown word's lookup reads. */
  get unknownId(): number {
    return 0;
  }

  /** The id of `<s>` (1), the padding left of a sentence. */
  get startId(): number {
    return 1;
  }

  /** The id of `</s>` (2), the padding right of a sentence. */
  get endId(): number {
    return 2;
  }

  /** All entries in id order (a copy). */
  get words(): string[] {
    return [...this.wordList];
  }

  /** The form a word is stored and looked up under. */
  normalize(word: string): string {
    let normalized = this.lowercase ? word.toLowerCase() : word;
    if (this.normalizeDigits) normalized = normalized.replace(DIGIT, "0");
    return normalized;
  }

  /** The id of a word (normalised first), or {@link unknownId} if it is not in the vocabulary. */
  idOf(word: string): number {
    const id = this.ids.get(this.normalize(word));
    return id === undefined || id < SPECIAL_WORDS.length ? 0 : id;
  }

  /** The id of an already normalised entry, special entries included, or -1 if absent. */
  entryId(entry: string): number {
    return this.ids.get(entry) ?? -1;
  }

  /** True if the word (normalised first) has its own entry. */
  has(word: string): boolean {
    return this.idOf(word) !== 0;
  }

  /** The entry with id `id`. */
  wordOf(id: number): string {
    const word = this.wordList[id];
    if (word === undefined) throw new ValueError(`Vocabulary.wordOf: id ${id} is outside [0, ${this.size})`);
    return word;
  }
}

/** The JSON form of a {@link TagSet}. */
export interface TagSetJSON {
  /** The tags in id order. */
  tags: string[];
}

/**
 * The output classes: the distinct tags of the training data, `O` first (id 0) when present, the others in
 * code-point order.
 */
export class TagSet {
  private readonly tagList: string[];
  private readonly ids: Map<string, number>;

  constructor(tags: readonly string[]) {
    if (!Array.isArray(tags) || tags.length === 0) throw new ValueError("TagSet: needs at least one tag");
    this.tagList = [...tags];
    this.ids = new Map();
    this.tagList.forEach((tag, i) => {
      if (typeof tag !== "string" || tag.length === 0) {
        throw new ValueError(`TagSet: tag ${i} must be a non-empty string, got ${quoteInput(tag)}`);
      }
      if (this.ids.has(tag)) throw new ValueError(`TagSet: the tag ${quoteInput(tag)} appears twice`);
      this.ids.set(tag, i);
    });
  }

  /** The tags of some sentences (e.g. the training corpus), sorted as described above. */
  static fromSentences(sentences: Iterable<{ readonly tags: readonly string[] }>): TagSet {
    const seen = new Set<string>();
    for (const sentence of sentences) for (const tag of sentence.tags) seen.add(tag);
    return new TagSet(sortTags(seen));
  }

  /** Restores a tag set from {@link TagSet.toJSON}'s output; throws a `ValueError` naming the problem. */
  static fromJSON(json: unknown): TagSet {
    if (json === null || typeof json !== "object" || !Array.isArray((json as TagSetJSON).tags)) {
      throw new ValueError("TagSet.fromJSON: expected an object with a `tags` array");
    }
    return new TagSet((json as TagSetJSON).tags);
  }

  /** The tag set as JSON-safe data. */
  toJSON(): TagSetJSON {
    return { tags: [...this.tagList] };
  }

  /** Number of tags (the softmax classifier's output size). */
  get size(): number {
    return this.tagList.length;
  }

  /** All tags in id order (a copy). */
  get tags(): string[] {
    return [...this.tagList];
  }

  /** The id of a tag, or -1 if it is not in the set. */
  idOf(tag: string): number {
    return this.ids.get(tag) ?? -1;
  }

  /** True if the tag is in the set. */
  has(tag: string): boolean {
    return this.ids.has(tag);
  }

  /** The tag with id `id`. */
  tagOf(id: number): string {
    const tag = this.tagList[id];
    if (tag === undefined) throw new ValueError(`TagSet.tagOf: id ${id} is outside [0, ${this.size})`);
    return tag;
  }
}
