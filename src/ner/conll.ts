/**
 * Reading and writing CoNLL-format text (browser-safe: strings in, strings out; `conll-node.ts` reads files).
 *
 * The format: one token per line, columns separated by spaces or tabs, the token first and the tag last (or in
 * a chosen column), a blank line after each sentence. Lines whose first column is `-DOCSTART-` separate
 * documents and are skipped. CoNLL-2003's four-column files (`token POS chunk tag`) and two-column files such as
 * Wikigold (`token tag`) both read with the defaults. Any tag set is accepted, as long as every tag is `O` or
 * `B-`, `I-`, `E-`, `S-` followed by a type.
 *
 * Errors are {@link ParseError}s whose message starts with `file:line:`, e.g.
 * `eng.train:1042: expected at least 2 columns (a token and a tag), found 1`.
 */
import { ParseError, ValueError, quoteInput } from "../errors.js";
import { compareCodePoints, tagProblem } from "./tags.js";

/** One sentence: its tokens, their tags, and where it came from. */
export interface ConllSentence {
  /** The words, in order. */
  readonly tokens: string[];
  /** One tag per token, as the file writes it. */
  readonly tags: string[];
  /** 1-based line of the sentence's first token in the source text. */
  readonly line: number;
  /** 0-based index of the document the sentence belongs to (documents are separated by `-DOCSTART-`). */
  readonly document: number;
}

/** A parsed CoNLL file. */
export interface ConllCorpus {
  /** The name used in messages (a file name, or `<string>`). */
  readonly file: string;
  /** The sentences, in file order. */
  readonly sentences: ConllSentence[];
  /** Number of columns on every token line. */
  readonly columnCount: number;
  /** Number of tokens in all sentences. */
  readonly tokenCount: number;
  /** Documents that hold at least one sentence. */
  readonly documentCount: number;
  /** The distinct tags, sorted (`O` first if present, then by code point). */
  readonly tagSet: string[];
}

/** Options of {@link parseConll}. */
export interface ParseConllOptions {
  /** Name of the source in error messages. Default `<string>`. */
  file?: string;
  /**
   * The column that holds the tag: 0-based from the left, or negative from the right (`-1` is the last
   * column, the default).
   */
  tagColumn?: number;
  /** The column that holds the token (0-based; default 0). */
  tokenColumn?: number;
  /** Check that every tag is `O` or a known prefix and a type (default true). */
  validateTags?: boolean;
  /** Return an empty corpus for text without sentences instead of throwing (default false). */
  allowEmpty?: boolean;
}

/** The marker line between documents. */
export const DOCSTART = "-DOCSTART-";

function isSeparator(code: number): boolean {
  return code === 32 || code === 9;
}

/** Splits a line into columns at runs of spaces and tabs, reporting each column's 1-based start. */
function splitColumns(line: string, starts: number[]): string[] {
  const columns: string[] = [];
  starts.length = 0;
  let i = 0;
  const length = line.length;
  while (i < length) {
    while (i < length && isSeparator(line.charCodeAt(i))) i++;
    if (i >= length) break;
    const start = i;
    while (i < length && !isSeparator(line.charCodeAt(i))) i++;
    columns.push(line.slice(start, i));
    starts.push(start + 1);
  }
  return columns;
}

/**
 * Splits text into lines at `\n`, `\r\n` or `\r`, dropping a leading byte-order mark. Only the very first
 * character of the text can be a byte-order mark: a U+FEFF anywhere else (at the start of a later line, or a
 * second one at the start) is text, part of a token.
 */
export function splitLines(text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(/\r\n|\n|\r/);
  // A final newline ends the last line rather than starting an empty one.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function resolveColumn(column: number, count: number): number {
  return column < 0 ? count + column : column;
}

function checkColumnOption(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new ValueError(`parseConll: ${name} must be an integer, got ${quoteInput(value)}`);
  }
  return value;
}

/** Sorts tags with `O` first, then by code point. */
export function sortTags(tags: Iterable<string>): string[] {
  return [...new Set(tags)].sort((a, b) =>
    a === b ? 0 : a === "O" ? -1 : b === "O" ? 1 : compareCodePoints(a, b),
  );
}

export interface TableOptions {
  file: string;
  tokenColumn: number;
  /** The tag columns to read (0-based, or negative from the right). */
  tagColumns: readonly number[];
  /** Fewest columns a token line may have. */
  minimumColumns: number;
  /** What the columns are, for the "expected at least" message. */
  columnNames: string;
  validateTags: boolean;
  allowEmpty: boolean;
}

export interface TableSentence {
  tokens: string[];
  /** One array of tags per requested tag column. */
  tagColumns: string[][];
  line: number;
  document: number;
}

/**
 * The shared reader behind {@link parseConll}, {@link parsePredictions} and the streaming reader of
 * `conll-node.ts`: fed one line at a time, it hands over each sentence as soon as the sentence ends, so that a
 * stream's memory is bounded by its longest sentence.
 */
export class ConllTableReader {
  private readonly options: TableOptions;
  private readonly onSentence: (sentence: TableSentence) => void;
  private readonly tagsSeen = new Set<string>();
  private readonly starts: number[] = [];
  private lineCount = 0;
  private columnCount = -1;
  private columnCountLine = 0;
  private tokenColumn = 0;
  private tagColumns: number[] = [];
  private tokenCount = 0;
  private sentenceCount = 0;
  private document = 0;
  private documentHasSentences = false;
  private tokens: string[] = [];
  private tags: string[][];
  private sentenceLine = 0;

  constructor(options: TableOptions, onSentence: (sentence: TableSentence) => void) {
    this.options = options;
    this.onSentence = onSentence;
    this.tags = this.newTags();
  }

  private newTags(): string[][] {
    return Array.from({ length: this.options.tagColumns.length }, () => []);
  }

  private fail(line: number, column: number, message: string): never {
    const { file } = this.options;
    throw new ParseError(`${file}:${line}: ${message}`, line, column, file);
  }

  private endSentence(): void {
    if (this.tokens.length === 0) return;
    const sentence = {
      tokens: this.tokens,
      tagColumns: this.tags,
      line: this.sentenceLine,
      document: this.document,
    };
    this.tokenCount += this.tokens.length;
    this.sentenceCount++;
    this.documentHasSentences = true;
    this.tokens = [];
    this.tags = this.newTags();
    this.onSentence(sentence);
  }

  /** Reads the next line (without its line break, and without the byte-order mark of the text's first line). */
  addLine(text: string): void {
    const lineNumber = ++this.lineCount;
    const { options, starts } = this;
    const columns = splitColumns(text, starts);
    if (columns.length === 0) {
      this.endSentence();
      return;
    }
    if (columns[0] === DOCSTART) {
      this.endSentence();
      if (this.documentHasSentences) {
        this.document++;
        this.documentHasSentences = false;
      }
      return;
    }
    if (columns.length < options.minimumColumns) {
      this.fail(
        lineNumber,
        1,
        `expected at least ${options.minimumColumns} columns (${options.columnNames}), found ${columns.length}`,
      );
    }
    if (this.columnCount < 0) {
      const columnCount = columns.length;
      this.columnCount = columnCount;
      this.columnCountLine = lineNumber;
      this.tokenColumn = resolveColumn(options.tokenColumn, columnCount);
      if (this.tokenColumn < 0 || this.tokenColumn >= columnCount) {
        this.fail(
          lineNumber,
          1,
          `token column ${options.tokenColumn} does not exist on a line of ${columnCount} columns`,
        );
      }
      this.tagColumns = options.tagColumns.map((requested) => {
        const column = resolveColumn(requested, columnCount);
        if (column < 0 || column >= columnCount) {
          this.fail(
            lineNumber,
            1,
            `tag column ${requested} does not exist on a line of ${columnCount} columns`,
          );
        }
        if (column === this.tokenColumn) {
          this.fail(lineNumber, 1, `the token column and the tag column are both column ${column}`);
        }
        return column;
      });
    } else if (columns.length !== this.columnCount) {
      this.fail(
        lineNumber,
        1,
        `expected ${this.columnCount} columns as on line ${this.columnCountLine}, found ${columns.length}`,
      );
    }
    if (this.tokens.length === 0) this.sentenceLine = lineNumber;
    this.tokens.push(columns[this.tokenColumn]!);
    for (let k = 0; k < this.tagColumns.length; k++) {
      const tag = columns[this.tagColumns[k]!]!;
      if (options.validateTags && !this.tagsSeen.has(tag)) {
        const problem = tagProblem(tag);
        if (problem !== undefined) this.fail(lineNumber, starts[this.tagColumns[k]!]!, problem);
      }
      this.tagsSeen.add(tag);
      this.tags[k]!.push(tag);
    }
  }

  /** Ends the input: hands over the last sentence, and throws if there was none (unless allowed). */
  finish() {
    this.endSentence();
    const { file } = this.options;
    if (this.sentenceCount === 0 && !this.options.allowEmpty) {
      const what =
        this.lineCount === 0 ? "the text is empty" : "it holds only blank lines and -DOCSTART- lines";
      throw new ParseError(`${file}: no sentences found (${what})`, Math.max(1, this.lineCount), 1, file);
    }
    return {
      columnCount: Math.max(this.columnCount, 0),
      tokenCount: this.tokenCount,
      documentCount: this.document + (this.documentHasSentences ? 1 : 0),
      tagsSeen: this.tagsSeen,
    };
  }
}

/** Reads a whole text with a {@link ConllTableReader}. */
function parseTable(text: string, options: TableOptions) {
  const sentences: TableSentence[] = [];
  const reader = new ConllTableReader(options, (sentence) => sentences.push(sentence));
  for (const line of splitLines(text)) reader.addLine(line);
  return { sentences, ...reader.finish() };
}

/** Parses CoNLL-format text. Throws a {@link ParseError} (with file and line) for malformed input. */
export function parseConll(text: string, options: ParseConllOptions = {}): ConllCorpus {
  if (typeof text !== "string") throw new ValueError(`parseConll: expected a string, got ${typeof text}`);
  const file = options.file ?? "<string>";
  const table = parseTable(text, {
    file,
    tokenColumn: checkColumnOption(options.tokenColumn ?? 0, "tokenColumn"),
    tagColumns: [checkColumnOption(options.tagColumn ?? -1, "tagColumn")],
    minimumColumns: 2,
    columnNames: "a token and a tag",
    validateTags: options.validateTags ?? true,
    allowEmpty: options.allowEmpty ?? false,
  });
  return {
    file,
    sentences: table.sentences.map((s) => ({
      tokens: s.tokens,
      tags: s.tagColumns[0]!,
      line: s.line,
      document: s.document,
    })),
    columnCount: table.columnCount,
    tokenCount: table.tokenCount,
    documentCount: table.documentCount,
    tagSet: sortTags(table.tagsSeen),
  };
}

/** One sentence with its tokens and, for each token, a gold and a predicted tag. */
export interface PredictedSentence {
  /** The words, in order. */
  readonly tokens: readonly string[];
  /** The gold tag of each token. */
  readonly gold: readonly string[];
  /** The predicted tag of each token. */
  readonly predicted: readonly string[];
}

function checkToken(token: unknown, where: string): string {
  if (typeof token !== "string" || token.length === 0) {
    throw new ValueError(`${where}: a token must be a non-empty string, got ${quoteInput(token)}`);
  }
  if (/[ \t\n\r]/.test(token)) {
    throw new ValueError(
      `${where}: the token ${quoteInput(token)} contains a space, tab or line break, which CoNLL cannot hold`,
    );
  }
  return token;
}

function checkField(value: unknown, where: string, what: string): string {
  if (typeof value !== "string" || value.length === 0 || /[ \t\n\r]/.test(value)) {
    throw new ValueError(
      `${where}: ${what} ${quoteInput(value)} must be a non-empty string without spaces, tabs or line breaks`,
    );
  }
  return value;
}

/**
 * Joins the parts of written CoNLL text. A reader drops a byte-order mark at the very start, so text whose first
 * token starts with U+FEFF gets a byte-order mark of its own in front, and that token reads back whole.
 */
function joinWritten(parts: string[]): string {
  const text = parts.join("");
  return text.charCodeAt(0) === 0xfeff ? `\uFEFF${text}` : text;
}

/**
 * Writes sentences as CoNLL text: `token tag` per line (space-separated), a blank line after each sentence.
 * With `documentStarts`, a `-DOCSTART- O` line and a blank line precede the first sentence of each document
 * (the `document` field of each sentence, when sentences carry one).
 */
export function formatConll(
  sentences: Iterable<{
    readonly tokens: readonly string[];
    readonly tags: readonly string[];
    readonly document?: number;
  }>,
  options: { documentStarts?: boolean } = {},
): string {
  const parts: string[] = [];
  let lastDocument: number | undefined;
  let first = true;
  for (const sentence of sentences) {
    if (sentence.tokens.length !== sentence.tags.length) {
      throw new ValueError(
        `formatConll: a sentence has ${sentence.tokens.length} tokens but ${sentence.tags.length} tags`,
      );
    }
    if (options.documentStarts && (first || sentence.document !== lastDocument)) {
      parts.push(`${DOCSTART} O\n\n`);
    }
    first = false;
    lastDocument = sentence.document;
    for (let i = 0; i < sentence.tokens.length; i++) {
      const token = checkToken(sentence.tokens[i], "formatConll");
      if (token === DOCSTART) throw new ValueError(`formatConll: a token cannot be ${DOCSTART}`);
      parts.push(`${token} ${checkField(sentence.tags[i], "formatConll", "tag")}\n`);
    }
    parts.push("\n");
  }
  return joinWritten(parts);
}

/**
 * Writes predictions in the format the conlleval script reads: `token gold predicted` per line, separated by
 * single spaces, a blank line after each sentence. (conlleval treats a token spelled `-X-` as a sentence
 * boundary; the scorer in `conlleval.ts` does the same, so scores still agree.)
 */
export function formatPredictions(sentences: Iterable<PredictedSentence>): string {
  const parts: string[] = [];
  for (const sentence of sentences) pushPredictionLines(sentence, parts);
  return joinWritten(parts);
}

/** Appends one sentence's lines of {@link formatPredictions} to `parts`. */
function pushPredictionLines(sentence: PredictedSentence, parts: string[]): void {
  const { tokens, gold, predicted } = sentence;
  if (tokens.length !== gold.length || tokens.length !== predicted.length) {
    throw new ValueError(
      `formatPredictions: a sentence has ${tokens.length} tokens, ${gold.length} gold tags and ${predicted.length} predicted tags`,
    );
  }
  for (let i = 0; i < tokens.length; i++) {
    const token = checkToken(tokens[i], "formatPredictions");
    parts.push(
      `${token} ${checkField(gold[i], "formatPredictions", "gold tag")} ${checkField(predicted[i], "formatPredictions", "predicted tag")}\n`,
    );
  }
  parts.push("\n");
}

/**
 * {@link formatPredictions} in pieces, for output written as a stream: each call formats the next sentences,
 * and the pieces joined are exactly `formatPredictions` of all the sentences.
 */
export class PredictionsFormatter {
  private first = true;

  /** The text of the next `sentences` (the byte-order mark rule applies to the first piece only). */
  format(sentences: Iterable<PredictedSentence>): string {
    const parts: string[] = [];
    for (const sentence of sentences) pushPredictionLines(sentence, parts);
    if (parts.length === 0) return "";
    const text = this.first ? joinWritten(parts) : parts.join("");
    this.first = false;
    return text;
  }
}

/**
 * Reads a predictions file: the token in the first column, the gold tag in the second-to-last and the
 * predicted tag in the last (the layout conlleval reads, and what {@link formatPredictions} writes). Tags are
 * not validated, since conlleval scores any tag.
 */
export function parsePredictions(text: string, options: { file?: string } = {}): PredictedSentence[] {
  if (typeof text !== "string")
    throw new ValueError(`parsePredictions: expected a string, got ${typeof text}`);
  const table = parseTable(text, {
    file: options.file ?? "<string>",
    tokenColumn: 0,
    tagColumns: [-2, -1],
    minimumColumns: 3,
    columnNames: "token, gold tag, predicted tag",
    validateTags: false,
    allowEmpty: false,
  });
  return table.sentences.map((s) => ({
    tokens: s.tokens,
    gold: s.tagColumns[0]!,
    predicted: s.tagColumns[1]!,
  }));
}
