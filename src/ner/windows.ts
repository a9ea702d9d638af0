/**
 * Windows for the lecture's window classifier: for each token t, the ids of the words t−w … t+w
 * (`x_window = [x_{t−2}; x_{t−1}; x_t; x_{t+1}; x_{t+2}]` for the default w = 2), padded with `<s>` before a
 * sentence and `</s>` after it, and the same for the casing classes. Stored as flat row-major Int32Arrays, one
 * row of 2w + 1 ids per token, ready to index the embedding tables.
 */
import { ValueError, quoteInput } from "../errors.js";
import { fromData } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";
import { CASING_PADDING_ID, casingId } from "./features.js";
import type { TagSet, Vocabulary } from "./vocab.js";
import type { CompactCorpus } from "./conll-compact.js";

/** A sentence to turn into windows; tags are needed only for training and evaluation. */
export interface WindowSentence {
  /** The words, in order: one window is centred on each. */
  readonly tokens: readonly string[];
  /** One tag per token, the label of the window centred on it. */
  readonly tags?: readonly string[];
}

/** Options of {@link buildWindows}. */
export interface WindowOptions {
  /** Turns words into ids (unknown words become `<unk>`, padding `<s>` and `</s>`). */
  vocabulary: Vocabulary;
  /** When given, the sentences' tags are turned into ids (all sentences must then have tags). */
  tagSet?: TagSet;
  /** Words on each side of the centre word, w (default 2: windows of 5). */
  windowSize?: number;
  /**
   * What a tag missing from the tag set becomes: `"error"` (default) throws a ValueError naming the tag,
   * `"ignore"` stores -1 (for a loss that skips such rows, or a dev set with a type train never had).
   */
  unknownTag?: "error" | "ignore";
}

/** Window matrices for a list of sentences: N = total tokens rows, `width` = 2w + 1 columns. */
export interface Windows {
  /** Number of windows N (one per token). */
  readonly count: number;
  /** w: words on each side of the centre. */
  readonly windowSize: number;
  /** 2w + 1. */
  readonly width: number;
  /** [N, width] word ids, row-major. */
  readonly words: Int32Array;
  /** [N, width] casing class ids, row-major. */
  readonly casing: Int32Array;
  /** [N] tag ids of the centre words, or null when no tag set was given. */
  readonly tags: Int32Array | null;
  /** [sentences + 1] row offsets: the windows of sentence s are rows offsets[s] … offsets[s + 1] − 1. */
  readonly offsets: Int32Array;
}

/** Builds the window matrices of `sentences`. */
export function buildWindows(sentences: readonly WindowSentence[], options: WindowOptions): Windows {
  const { vocabulary, tagSet } = options;
  const windowSize = options.windowSize ?? 2;
  if (!Number.isInteger(windowSize) || windowSize < 0) {
    throw new ValueError(
      `buildWindows: windowSize must be a non-negative integer, got ${quoteInput(windowSize)}`,
    );
  }
  const unknownTag = options.unknownTag ?? "error";
  if (unknownTag !== "error" && unknownTag !== "ignore") {
    throw new ValueError(
      `buildWindows: unknownTag must be "error" or "ignore", got ${quoteInput(unknownTag)}`,
    );
  }
  const width = 2 * windowSize + 1;
  const offsets = new Int32Array(sentences.length + 1);
  let count = 0;
  for (let s = 0; s < sentences.length; s++) {
    const sentence = sentences[s]!;
    if (sentence === null || typeof sentence !== "object" || !Array.isArray(sentence.tokens)) {
      throw new ValueError(`buildWindows: sentence ${s} has no tokens array`);
    }
    if (
      tagSet !== undefined &&
      (!Array.isArray(sentence.tags) || sentence.tags.length !== sentence.tokens.length)
    ) {
      throw new ValueError(
        `buildWindows: sentence ${s} has ${sentence.tokens.length} tokens but ${sentence.tags?.length ?? "no"} tags`,
      );
    }
    count += sentence.tokens.length;
    offsets[s + 1] = count;
  }
  if (count * width > 0x7fffffff) {
    throw new ValueError(`buildWindows: ${count} windows of ${width} ids do not fit in one array`);
  }

  // The word and casing ids of every token, then the windows over them.
  const wordIds = new Int32Array(count);
  const casingIds = new Int32Array(count);
  const tags = tagSet === undefined ? null : new Int32Array(count);
  // Many tokens repeat: normalise and classify each distinct token once.
  const wordCache = new Map<string, number>();
  const casingCache = new Map<string, number>();
  for (let s = 0; s < sentences.length; s++) {
    const sentence = sentences[s]!;
    const firstRow = offsets[s]!;
    for (let i = 0; i < sentence.tokens.length; i++) {
      const token = sentence.tokens[i]!;
      if (typeof token !== "string")
        throw new ValueError(`buildWindows: token ${i} of sentence ${s} is not a string`);
      let wordId = wordCache.get(token);
      if (wordId === undefined) {
        wordId = vocabulary.idOf(token);
        wordCache.set(token, wordId);
      }
      wordIds[firstRow + i] = wordId;
      let casingClass = casingCache.get(token);
      if (casingClass === undefined) {
        casingClass = casingId(token);
        casingCache.set(token, casingClass);
      }
      casingIds[firstRow + i] = casingClass;
    }
    if (tags !== null) {
      for (let i = 0; i < sentence.tokens.length; i++) {
        const tag = sentence.tags![i]!;
        const id = tagSet!.idOf(tag);
        if (id < 0 && unknownTag === "error") throw unknownTagError(tag, s, i, tagSet!);
        tags[firstRow + i] = id;
      }
    }
  }
  return {
    count,
    windowSize,
    width,
    words: windowMatrix(wordIds, offsets, windowSize, vocabulary.startId, vocabulary.endId),
    casing: windowMatrix(casingIds, offsets, windowSize, CASING_PADDING_ID, CASING_PADDING_ID),
    tags,
    offsets,
  };
}

/** The error of a tag missing from the tag set (sentence `s`, token `i`). */
export function unknownTagError(tag: string, s: number, i: number, tagSet: TagSet): ValueError {
  return new ValueError(
    `buildWindows: the tag ${quoteInput(tag)} (sentence ${s}, token ${i}) is not in the tag set [${tagSet.tags.join(", ")}]`,
  );
}

/**
 * One window matrix from per-token ids: for the tokens of each sentence (`offsets[s]` … `offsets[s + 1] − 1`
 * of `ids`), rows of the ids of tokens t − w … t + w, with `before` left of the sentence's first token and
 * `after` right of its last. With `lookup`, each token's id is first mapped through it (`lookup[ids[t]]`), e.g.
 * from a distinct token's index to its word id. Returns [tokens, 2w + 1] ids, row-major.
 */
export function windowMatrix(
  ids: Int32Array,
  offsets: Int32Array,
  windowSize: number,
  before: number,
  after: number,
  lookup?: Int32Array,
): Int32Array {
  const width = 2 * windowSize + 1;
  const count = offsets.length > 0 ? offsets[offsets.length - 1]! : 0;
  if (count > ids.length) {
    throw new ValueError(`windowMatrix: the offsets reach token ${count}, but there are ${ids.length} ids`);
  }
  if (count * width > 0x7fffffff) {
    throw new ValueError(`windowMatrix: ${count} windows of ${width} ids do not fit in one array`);
  }
  const out = new Int32Array(count * width);
  for (let s = 0; s + 1 < offsets.length; s++) {
    const start = offsets[s]!;
    const end = offsets[s + 1]!;
    for (let t = start; t < end; t++) {
      let at = t * width;
      for (let k = t - windowSize; k <= t + windowSize; k++) {
        out[at++] = k < start ? before : k >= end ? after : lookup === undefined ? ids[k]! : lookup[ids[k]!]!;
      }
    }
  }
  return out;
}

/** Options of {@link buildCorpusWindows}. */
export interface CorpusWindowOptions {
  /** Turns words into ids (unknown words become `<unk>`, padding `<s>` and `</s>`). */
  vocabulary: Vocabulary;
  /** Words on each side of the centre word, w (default 2: windows of 5). */
  windowSize?: number;
  /** The tag id of each token (the windows' labels), or null for windows without tags. */
  tags?: Int32Array | null;
}

/**
 * The windows of a {@link CompactCorpus}: the same matrices as {@link buildWindows} of its sentences, made
 * from its ids (each distinct token is normalised and classified once) without the sentences as strings.
 */
export function buildCorpusWindows(corpus: CompactCorpus, options: CorpusWindowOptions): Windows {
  const windows = tokenWindowsOf(corpus, options, "buildCorpusWindows");
  const { count, width } = windows;
  if (count * width > 0x7fffffff) {
    throw new ValueError(`buildCorpusWindows: ${count} windows of ${width} ids do not fit in one array`);
  }
  const words = new Int32Array(count * width);
  const casing = new Int32Array(count * width);
  copyWindowRows(windows, null, 0, count, [words, casing]);
  const { windowSize, tags, offsets } = windows;
  return { count, windowSize, width, words, casing, tags, offsets };
}

/**
 * The rows of `windows` for the given row indices (a minibatch), copied into new matrices. The result's
 * `offsets` are `[0, rows.length]`: the selection no longer follows sentence boundaries.
 */
export function selectWindows(windows: Windows, rows: ArrayLike<number>): Windows {
  const { width } = windows;
  const count = rows.length;
  const words = new Int32Array(count * width);
  const casing = new Int32Array(count * width);
  const tags = windows.tags === null ? null : new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const row = rows[r]!;
    if (!Number.isInteger(row) || row < 0 || row >= windows.count) {
      throw new ValueError(`selectWindows: row ${row} is outside [0, ${windows.count})`);
    }
    words.set(windows.words.subarray(row * width, (row + 1) * width), r * width);
    casing.set(windows.casing.subarray(row * width, (row + 1) * width), r * width);
    if (tags !== null) tags[r] = windows.tags![row]!;
  }
  const offsets = Int32Array.of(0, count);
  return { count, windowSize: windows.windowSize, width, words, casing, tags, offsets };
}

/** The window matrices as int32 tensors (sharing the arrays, not copying): words and casing [N, 2w+1], tags [N]. */
export function windowTensors(windows: Windows): {
  /** Word ids [N, 2w+1]: row i is x_window of the lecture, as ids into the embedding table. */
  words: Tensor;
  /** Casing class ids [N, 2w+1]. */
  casing: Tensor;
  /** The centre word's tag id [N], or null without tags. */
  tags: Tensor | null;
} {
  return {
    words: fromData(windows.words, [windows.count, windows.width], "int32"),
    casing: fromData(windows.casing, [windows.count, windows.width], "int32"),
    tags: windows.tags === null ? null : fromData(windows.tags, [windows.count], "int32"),
  };
}

/** The ids that pad a window beyond its sentence's edges. */
export interface WindowPadding {
  /** The id left of the sentence's first token (`<s>` for words). */
  readonly before: number;
  /** The id right of its last token (`</s>` for words). */
  readonly after: number;
}

/** One more id matrix of {@link TokenWindows} (a token feature's). */
export interface ExtraWindowIds {
  /** The id of each distinct token of the corpus. */
  readonly lookup: Int32Array;
  /** The padding id, on both sides of a sentence. */
  readonly padding: number;
}

/**
 * The windows of a corpus kept as token ids instead of matrices: each token's index into a table of distinct
 * tokens, one lookup per id matrix (words, casing, then any token features) from a distinct token to its id,
 * and the sentences' bounds. Any rows of the matrices that `buildCorpusWindows` and
 * `buildFeatureWindows` would give are copied out on demand by {@link copyWindowRows} (a minibatch, a chunk of a
 * dev set), so memory holds about 8 bytes per token rather than 4 (2w + 1) per token and id matrix.
 */
export interface TokenWindows {
  /** Number of windows N (one per token). */
  readonly count: number;
  /** w: words on each side of the centre. */
  readonly windowSize: number;
  /** 2w + 1. */
  readonly width: number;
  /** [N] each token's index into the distinct tokens (what the lookups are indexed by). */
  readonly tokenIds: Int32Array;
  /** [sentences + 1] row offsets: the windows of sentence s are rows offsets[s] … offsets[s + 1] − 1. */
  readonly offsets: Int32Array;
  /** [N] the sentence of each token. */
  readonly sentenceOf: Int32Array;
  /** Per id matrix (words, casing, token features in order): the id of each distinct token. */
  readonly lookups: readonly Int32Array[];
  /** Per id matrix: the ids of the padding before and after a sentence. */
  readonly padding: readonly WindowPadding[];
  /** [N] tag ids of the centre words, or null. */
  readonly tags: Int32Array | null;
}

/** Options of {@link buildTokenWindows}. */
export interface TokenWindowOptions {
  /** Turns words into ids (unknown words become `<unk>`, padding `<s>` and `</s>`). */
  vocabulary: Vocabulary;
  /** Words on each side of the centre word, w (default 2: windows of 5). */
  windowSize?: number;
  /** The tag id of each token (the windows' labels), or null for windows without tags. */
  tags?: Int32Array | null;
  /**
   * More id matrices after words and casing (the token features): the id of each distinct token of the
   * corpus, and the padding id on both sides.
   */
  extra?: readonly ExtraWindowIds[];
}

/** The {@link TokenWindows} of a {@link CompactCorpus}: words and casing, then `extra` id matrices. */
export function buildTokenWindows(corpus: CompactCorpus, options: TokenWindowOptions): TokenWindows {
  return tokenWindowsOf(corpus, options, "buildTokenWindows");
}

/** {@link buildTokenWindows}, with `where` naming the caller in messages. */
function tokenWindowsOf(corpus: CompactCorpus, options: TokenWindowOptions, where: string): TokenWindows {
  const { vocabulary } = options;
  const windowSize = options.windowSize ?? 2;
  if (!Number.isInteger(windowSize) || windowSize < 0) {
    throw new ValueError(
      `${where}: windowSize must be a non-negative integer, got ${quoteInput(windowSize)}`,
    );
  }
  const tags = options.tags ?? null;
  if (tags !== null && tags.length !== corpus.tokenCount) {
    throw new ValueError(`${where}: ${tags.length} tags for a corpus of ${corpus.tokenCount} tokens`);
  }
  const table = corpus.tokenTable;
  const wordIds = new Int32Array(table.length);
  const casingIds = new Int32Array(table.length);
  for (let i = 0; i < table.length; i++) {
    wordIds[i] = vocabulary.idOf(table[i]!);
    casingIds[i] = casingId(table[i]!);
  }
  const lookups: Int32Array[] = [wordIds, casingIds];
  const padding = [
    { before: vocabulary.startId, after: vocabulary.endId },
    { before: CASING_PADDING_ID, after: CASING_PADDING_ID },
  ];
  for (const [i, extra] of (options.extra ?? []).entries()) {
    if (extra.lookup.length !== table.length) {
      throw new ValueError(
        `${where}: id matrix ${i + 2} has ${extra.lookup.length} ids for ${table.length} distinct tokens`,
      );
    }
    lookups.push(extra.lookup);
    padding.push({ before: extra.padding, after: extra.padding });
  }
  const { tokenIds, offsets } = corpus;
  const sentenceOf = new Int32Array(corpus.tokenCount);
  for (let s = 0; s + 1 < offsets.length; s++) sentenceOf.fill(s, offsets[s]!, offsets[s + 1]!);
  return {
    count: corpus.tokenCount,
    windowSize,
    width: 2 * windowSize + 1,
    tokenIds,
    offsets,
    sentenceOf,
    lookups,
    padding,
    tags,
  };
}

/**
 * The lookups of `windows` side by side, token by token (`table[c · M + m]` = lookups[m][c] for M matrices),
 * made once per windows object with many windows and kept while its lookups are the same arrays: a window's ids
 * then come from one cache line per token instead of one per matrix. null where the lookups differ in length.
 */
const interleavedLookups = new WeakMap<
  TokenWindows,
  { lookups: readonly Int32Array[]; table: Int32Array | null }
>();

/** Windows objects with fewer windows than this copy from the separate lookups (nothing to gain). */
const INTERLEAVE_FROM = 1024;

function interleaved(windows: TokenWindows): Int32Array | null {
  const { lookups } = windows;
  const kept = interleavedLookups.get(windows);
  if (kept !== undefined && kept.lookups === lookups) return kept.table;
  const tokens = lookups[0]?.length ?? 0;
  let table: Int32Array | null = null;
  if (lookups.length > 0 && lookups.every((lookup) => lookup.length === tokens)) {
    const matrices = lookups.length;
    table = new Int32Array(tokens * matrices);
    for (let m = 0; m < matrices; m++) {
      const lookup = lookups[m]!;
      for (let c = 0; c < tokens; c++) table[c * matrices + m] = lookup[c]!;
    }
  }
  interleavedLookups.set(windows, { lookups, table });
  return table;
}

/**
 * Copies rows of the id matrices of `windows` into `out` (one array per id matrix, `rows × width` ids each,
 * row-major): row r of the output is window `order[first + r]`, or window `first + r` when `order` is null.
 * The ids are those of the full matrices (`buildWindows`, `buildFeatureWindows`), bit for bit.
 *
 * The windows of a shuffled epoch are scattered over the corpus, so each row's reads miss the cache: its window's
 * sentence, the sentence's bounds, its tokens, their ids. Done row by row, each row waits on those misses one
 * after the other. So the rows are copied in stages — all rows' sentences, then their bounds, then their tokens
 * (reading each token's ids ahead), then the ids — so that each stage's reads do not depend on each other and the
 * processor has many in flight; and with many windows the ids come from the lookups interleaved token by token
 * (one line per token, not one per matrix). `ner train`'s default step (32 windows of 5 tokens, 5 matrices)
 * spent 25 µs here row by row.
 */
export function copyWindowRows(
  windows: TokenWindows,
  order: Int32Array | null,
  first: number,
  rows: number,
  out: readonly Int32Array[],
): void {
  const { width, windowSize, tokenIds, offsets, sentenceOf, lookups, padding } = windows;
  const matrices = Math.min(out.length, lookups.length);
  const table = windows.count >= INTERLEAVE_FROM ? interleaved(windows) : null;
  const stride = lookups.length;
  const sentences = new Int32Array(rows);
  const tokens = new Int32Array(rows * width);
  let sink = 0;
  // Each row's window and sentence (and the window's centre token read ahead).
  for (let r = 0; r < rows; r++) {
    const t = order === null ? first + r : order[first + r]!;
    if (!(t >= 0 && t < windows.count)) {
      throw new ValueError(`copyWindowRows: window ${t} is outside [0, ${windows.count})`);
    }
    tokens[r * width] = t;
    sentences[r] = sentenceOf[t]!;
    sink += tokenIds[t]!;
  }
  // Each column's distinct token, or −1 (padding before the sentence), −2 (after it); its ids read ahead.
  for (let r = 0; r < rows; r++) {
    const at = r * width;
    const t = tokens[at]!;
    const start = offsets[sentences[r]!]!;
    const end = offsets[sentences[r]! + 1]!;
    for (let j = 0; j < width; j++) {
      const k = t - windowSize + j;
      const c = k < start ? -1 : k >= end ? -2 : tokenIds[k]!;
      tokens[at + j] = c;
      if (table !== null && c >= 0) sink += table[c * stride]!;
    }
  }
  touchedIds = sink;
  for (let m = 0; m < matrices; m++) {
    const lookup = lookups[m]!;
    const ids = out[m]!;
    const { before, after } = padding[m]!;
    for (let i = 0; i < rows * width; i++) {
      const c = tokens[i]!;
      ids[i] = c < 0 ? (c === -1 ? before : after) : table !== null ? table[c * stride + m]! : lookup[c]!;
    }
  }
}

/** The sum of the ids the last copyWindowRows read ahead (kept, so that the reads are not left out). */
let touchedIds = 0;

/** See touchedIds. */
export function lastTouchedIds(): number {
  return touchedIds;
}
