/**
 * Pretrained word vectors in GloVe's text format (browser-safe; `embeddings-node.ts` streams files):
 * one word per line followed by its d numbers, separated by spaces (or tabs), e.g. `the 0.418 0.24968 …`.
 * A first line of exactly two integers (`400000 100`, as word2vec and fastText `.vec` files have) is read as a
 * header giving the dimension. Blank lines are skipped.
 *
 * Every line is checked: a line whose vector has another dimension than the first, or a field that is not a
 * finite decimal number, is a {@link ParseError} naming the file, the line and the word. The readers work line
 * by line (`EmbeddingTableBuilder`, `VocabularyEmbeddingsBuilder`), so a 400,000-line file never
 * has to be one string.
 */
import { ParseError, ValueError, quoteInput } from "../errors.js";
import { SPECIAL_WORDS, type Vocabulary } from "./vocab.js";

/** Options of the word-vector readers (GloVe text format). */
export interface EmbeddingReadOptions {
  /** Name of the source in error messages. Default `<string>`. */
  file?: string;
  /** The expected dimension; by default the first vector's length sets it. */
  dimension?: number;
}

/** Every vector of a file: row i of `vectors` (length `words.length × dimension`) belongs to `words[i]`. */
export interface EmbeddingTable {
  /** The words, in file order. */
  readonly words: string[];
  /** The length d of every vector. */
  readonly dimension: number;
  /** All vectors, row after row: `words.length × dimension` values. */
  readonly vectors: Float32Array;
}

/** The vectors of a vocabulary's entries, as rows of a [vocabulary.size, dimension] matrix. */
export interface VocabularyEmbeddings {
  /** The length d of every vector. */
  readonly dimension: number;
  /** [vocabulary.size × dimension]; rows of entries not found in the file are zero. */
  readonly vectors: Float32Array;
  /** 1 for each vocabulary id whose row came from the file, 0 otherwise (keep those rows' random init). */
  readonly found: Uint8Array;
  /** Number of vocabulary words found (the special entries `<unk>`, `<s>`, `</s>` never are). */
  readonly foundCount: number;
  /** The vocabulary words not in the file, in id order. */
  readonly missing: string[];
  /** Number of vectors the file holds. */
  readonly fileVectorCount: number;
}

/**
 * The largest dimension accepted, from a header or an option (pretrained vectors have a few hundred). Within
 * it, nothing is allocated for a dimension until a line has shown that many numbers.
 */
export const MAX_EMBEDDING_DIMENSION = 1_000_000;

function isSeparator(code: number): boolean {
  return code === 32 || code === 9;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * Checks the syntax of a decimal number in `line[start, end)` without allocating: an optional sign, digits with
 * at most one point (at least one digit), then optionally `e` or `E`, a sign and digits. Hexadecimal,
 * `Infinity`, `NaN`, `1,5` and the like are rejected.
 */
function isDecimal(line: string, start: number, end: number): boolean {
  let i = start;
  let code = line.charCodeAt(i);
  if (code === 43 || code === 45) code = line.charCodeAt(++i);
  let digits = 0;
  while (i < end && isDigit(code)) {
    digits++;
    code = line.charCodeAt(++i);
  }
  if (i < end && code === 46) {
    code = line.charCodeAt(++i);
    while (i < end && isDigit(code)) {
      digits++;
      code = line.charCodeAt(++i);
    }
  }
  if (digits === 0) return false;
  if (i < end && (code === 101 || code === 69)) {
    code = line.charCodeAt(++i);
    if (i < end && (code === 43 || code === 45)) code = line.charCodeAt(++i);
    let exponentDigits = 0;
    while (i < end && isDigit(code)) {
      exponentDigits++;
      code = line.charCodeAt(++i);
    }
    if (exponentDigits === 0) return false;
  }
  return i === end;
}

/**
 * A pattern for a whole line with a word and exactly `dimension` decimal numbers (the grammar of
 * {@link isDecimal}, written so that a failing match backtracks only linearly).
 */
function linePatternFor(dimension: number): RegExp {
  const decimal = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?`;
  return new RegExp(String.raw`^[ \t]*[^ \t]+(?:[ \t]+${decimal}){${dimension}}[ \t]*$`);
}

/**
 * The line-level reader shared by the builders: tracks line numbers, the header and the dimension, checks
 * every line's syntax and dimension, and parses a line's numbers only when asked ({@link vector}), so lines a
 * builder skips cost little.
 */
export class GloveLineReader {
  readonly file: string;
  private expectedDimension: number | undefined;
  private dimensionLine = 0;
  private lineNumber = 0;
  private sawContent = false;
  private scratch = new Float32Array(0);
  private currentLine = "";
  private numbersStart = 0;
  private currentWord = "";
  private linePattern: RegExp | null = null;

  constructor(options: EmbeddingReadOptions = {}) {
    this.file = options.file ?? "<string>";
    if (options.dimension !== undefined) {
      const dimension = options.dimension;
      if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_EMBEDDING_DIMENSION) {
        throw new ValueError(
          `embeddings: dimension must be an integer from 1 to ${MAX_EMBEDDING_DIMENSION}, got ${quoteInput(dimension)}`,
        );
      }
      this.expectedDimension = dimension;
    }
  }

  /** The dimension, once known. */
  get dimension(): number | undefined {
    return this.expectedDimension;
  }

  /** Lines read so far. */
  get lines(): number {
    return this.lineNumber;
  }

  private fail(message: string, column = 1): never {
    throw new ParseError(`${this.file}:${this.lineNumber}: ${message}`, this.lineNumber, column, this.file);
  }

  /**
   * Reads the next line (without its line break) and checks it. Returns the line's word, or null for a blank
   * line or a header. After a word, {@link vector} parses its numbers.
   */
  read(line: string): string | null {
    this.lineNumber++;
    if (this.lineNumber === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (this.linePattern === null && this.expectedDimension !== undefined) {
      this.linePattern = linePatternFor(this.expectedDimension);
    }
    if (this.linePattern !== null && this.linePattern.test(line)) {
      // The common case, checked by one compiled pattern: a word and exactly `dimension` decimal numbers.
      let i = 0;
      while (isSeparator(line.charCodeAt(i))) i++;
      const wordStart = i;
      while (!isSeparator(line.charCodeAt(i))) i++;
      const word = line.slice(wordStart, i);
      while (isSeparator(line.charCodeAt(i))) i++;
      this.sawContent = true;
      this.currentLine = line;
      this.numbersStart = i;
      this.currentWord = word;
      return word;
    }
    return this.readSlowly(line);
  }

  /** Reads a line that the fast pattern did not accept: blank lines, the header, the first line, and errors. */
  private readSlowly(line: string): string | null {
    const length = line.length;
    let i = 0;
    while (i < length && isSeparator(line.charCodeAt(i))) i++;
    if (i >= length) return null;
    const wordStart = i;
    while (i < length && !isSeparator(line.charCodeAt(i))) i++;
    const word = line.slice(wordStart, i);

    // Count and check the numbers after the word.
    let count = 0;
    let firstNumber = -1;
    while (true) {
      while (i < length && isSeparator(line.charCodeAt(i))) i++;
      if (i >= length) break;
      const start = i;
      while (i < length && !isSeparator(line.charCodeAt(i))) i++;
      if (firstNumber < 0) firstNumber = start;
      count++;
      if (!isDecimal(line, start, i)) {
        this.fail(
          `${quoteInput(line.slice(start, i))} is not a decimal number (number ${count} of the word ${quoteInput(word)})`,
          start + 1,
        );
      }
    }

    const firstContent = !this.sawContent;
    this.sawContent = true;
    if (firstContent && count === 1 && /^\d+$/.test(word) && /^\d+$/.test(line.slice(firstNumber, i))) {
      // A word2vec / fastText header: "<count> <dimension>".
      const declared = Number(line.slice(firstNumber, i));
      if (declared < 1 || declared > MAX_EMBEDDING_DIMENSION) {
        this.fail(
          `the header declares dimension ${quoteInput(line.slice(firstNumber, i))} (expected 1 to ${MAX_EMBEDDING_DIMENSION})`,
          firstNumber + 1,
        );
      }
      if (this.expectedDimension !== undefined && declared !== this.expectedDimension) {
        this.fail(
          `the header declares dimension ${declared}, but ${this.expectedDimension} was expected`,
          firstNumber + 1,
        );
      }
      this.setDimension(declared);
      return null;
    }
    if (count === 0) this.fail(`the word ${quoteInput(word)} has no numbers after it`);
    if (this.expectedDimension === undefined) this.setDimension(count);
    else if (count !== this.expectedDimension) {
      const origin =
        this.dimensionLine > 0
          ? `line ${this.dimensionLine} has ${this.expectedDimension}`
          : "the expected dimension";
      this.fail(
        `expected ${this.expectedDimension} number${this.expectedDimension === 1 ? "" : "s"} after the word ` +
          `${quoteInput(word)}, found ${count} (${origin})`,
      );
    }
    this.currentLine = line;
    this.numbersStart = firstNumber;
    this.currentWord = word;
    return word;
  }

  /**
   * The vector of the line last read by {@link read}, in a scratch array that the next call overwrites.
   * Throws if a number does not fit in float32.
   */
  vector(): Float32Array {
    const line = this.currentLine;
    // Allocated only now, when a line has shown `dimension` numbers.
    if (this.scratch.length !== this.expectedDimension)
      this.scratch = new Float32Array(this.expectedDimension!);
    const vector = this.scratch;
    let i = this.numbersStart;
    for (let j = 0; j < vector.length; j++) {
      while (isSeparator(line.charCodeAt(i))) i++;
      const start = i;
      while (i < line.length && !isSeparator(line.charCodeAt(i))) i++;
      const value = Math.fround(Number(line.slice(start, i)));
      if (!Number.isFinite(value)) {
        this.fail(
          `${quoteInput(line.slice(start, i))} is too large for float32 (number ${j + 1} of the word ${quoteInput(this.currentWord)})`,
          start + 1,
        );
      }
      vector[j] = value;
    }
    return vector;
  }

  /** Sets the dimension (from a header or the first line); the fast pattern is compiled from the next line on. */
  private setDimension(dimension: number): void {
    this.expectedDimension = dimension;
    this.dimensionLine = this.lineNumber;
  }

  /** Throws if no vector was read (an empty file, or only a header); returns the dimension. */
  checkNotEmpty(vectorCount: number): number {
    if (vectorCount === 0 || this.expectedDimension === undefined) {
      throw new ParseError(
        `${this.file}: no word vectors found (${this.sawContent ? "no line holds a word and numbers" : "the text is empty"})`,
        Math.max(1, this.lineNumber),
        1,
        this.file,
      );
    }
    return this.expectedDimension;
  }
}

/**
 * Values per storage block of {@link EmbeddingTableBuilder} (blocks avoid copying a growing array): 4096 rows of
 * 100 dimensions, fewer rows of longer vectors, so a block never costs much more than the lines that fill it.
 */
const BLOCK_VALUES = 4096 * 100;

/**
 * Collects every vector of a file, line by line. Memory grows with the file (a 400,000 × 100 table is 160 MB);
 * for pretrained vectors of a vocabulary, `VocabularyEmbeddingsBuilder` keeps only what it needs.
 */
export class EmbeddingTableBuilder {
  private readonly reader: GloveLineReader;
  private readonly words: string[] = [];
  private readonly blocks: Float32Array[] = [];

  constructor(options: EmbeddingReadOptions = {}) {
    this.reader = new GloveLineReader(options);
  }

  addLine(line: string): void {
    const word = this.reader.read(line);
    if (word === null) return;
    const vector = this.reader.vector();
    const dimension = vector.length;
    const blockRows = Math.max(1, Math.floor(BLOCK_VALUES / dimension));
    const row = this.words.length % blockRows;
    if (row === 0) this.blocks.push(new Float32Array(blockRows * dimension));
    this.blocks[this.blocks.length - 1]!.set(vector, row * dimension);
    this.words.push(word);
  }

  finish(): EmbeddingTable {
    const dimension = this.reader.checkNotEmpty(this.words.length);
    const vectors = new Float32Array(this.words.length * dimension);
    let offset = 0;
    for (const block of this.blocks) {
      const part = block.subarray(0, Math.min(block.length, vectors.length - offset));
      vectors.set(part, offset);
      offset += part.length;
    }
    this.blocks.length = 0;
    return { words: this.words, dimension, vectors };
  }
}

/**
 * Collects the vectors of a vocabulary's words, line by line. A file word matches the vocabulary entry equal
 * to its normalised form (`Vocabulary.normalize`: lower-cased, digits as `0`, as the vocabulary was built);
 * when several file words normalise alike (`1989`, `2000` → `0000`), the first one in the file wins (GloVe
 * files list frequent words first). The special entries are never filled from a file.
 */
export class VocabularyEmbeddingsBuilder {
  private readonly reader: GloveLineReader;
  private readonly vocabulary: Vocabulary;
  private readonly found: Uint8Array;
  private vectors: Float32Array | null = null;
  private foundCount = 0;
  private fileVectorCount = 0;

  constructor(vocabulary: Vocabulary, options: EmbeddingReadOptions = {}) {
    this.reader = new GloveLineReader(options);
    this.vocabulary = vocabulary;
    this.found = new Uint8Array(vocabulary.size);
  }

  addLine(line: string): void {
    const word = this.reader.read(line);
    if (word === null) return;
    this.fileVectorCount++;
    const dimension = this.reader.dimension!;
    this.vectors ??= new Float32Array(this.vocabulary.size * dimension);
    const id = this.vocabulary.entryId(this.vocabulary.normalize(word));
    if (id < SPECIAL_WORDS.length || this.found[id] === 1) return;
    this.vectors.set(this.reader.vector(), id * dimension);
    this.found[id] = 1;
    this.foundCount++;
  }

  finish(): VocabularyEmbeddings {
    const dimension = this.reader.checkNotEmpty(this.fileVectorCount);
    const missing: string[] = [];
    for (let id = SPECIAL_WORDS.length; id < this.vocabulary.size; id++) {
      if (this.found[id] === 0) missing.push(this.vocabulary.wordOf(id));
    }
    return {
      dimension,
      vectors: this.vectors!,
      found: this.found,
      foundCount: this.foundCount,
      missing,
      fileVectorCount: this.fileVectorCount,
    };
  }
}

/** Calls `onLine` for each line of `text` (split at `\n`; a `\r` before it is dropped by the reader). */
function forEachLine(text: string, onLine: (line: string) => void): void {
  if (typeof text !== "string") throw new ValueError(`embeddings: expected a string, got ${typeof text}`);
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    onLine(text.slice(start, end));
    start = end + 1;
  }
}

/** Parses GloVe-format text into a table of every word's vector. */
export function parseEmbeddings(text: string, options: EmbeddingReadOptions = {}): EmbeddingTable {
  const builder = new EmbeddingTableBuilder(options);
  forEachLine(text, (line) => builder.addLine(line));
  return builder.finish();
}

/** Parses GloVe-format text, keeping only the vectors of `vocabulary`'s words (see `VocabularyEmbeddingsBuilder`). */
export function parseEmbeddingsForVocabulary(
  text: string,
  vocabulary: Vocabulary,
  options: EmbeddingReadOptions = {},
): VocabularyEmbeddings {
  const builder = new VocabularyEmbeddingsBuilder(vocabulary, options);
  forEachLine(text, (line) => builder.addLine(line));
  return builder.finish();
}
