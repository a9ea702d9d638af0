/**
 * `chainrule ner tag`: tags English text with a trained model: the arguments, a file (`--input FILE`), or
 * standard input (no text, or `-`). A file or standard input is read as a stream and tagged a piece at a time
 * (pieces end at paragraph breaks), so that memory holds the model and one piece (or the longest paragraph),
 * whatever the size of the input; the output is what tagging the whole text at once gives. The text and conll
 * formats print each piece as it is tagged; the json format prints the text as it comes and spools the tokens,
 * entities and sentences, which follow the whole text in the document, to a temporary folder until the input
 * ends.
 */
import { createReadStream } from "node:fs";
import { appendFile, mkdtemp, rm, stat } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { ValueError } from "../../../errors.js";
import type { TagScheme } from "../../../ner/tags.js";
import type { NerTagger, TaggedText } from "../../../ner/tagger.js";
import { formatTaggedConll, formatTaggedText } from "./format.js";
import { ALLOW_NON_FINITE, choiceOption, loadTagger, requireFile, write } from "./shared.js";

interface TagCommandOptions {
  model: string;
  input?: string;
  format?: string;
  scheme?: string;
  allowNonFinite?: boolean;
}

/** About how many characters are tagged at once (a piece ends at the first safe paragraph break after this). */
export const PIECE_CHARACTERS = 1 << 16;

/** The text of standard input, decoded as it arrives; on a terminal, says first how to end it. */
async function* stdinText(): AsyncGenerator<string> {
  if (process.stdin.isTTY === true) {
    process.stderr.write(
      "chainrule: reading the text to tag from the terminal; end it with Ctrl-D (Ctrl-Z then Enter on Windows)\n",
    );
  }
  // A byte-order mark is kept, as Buffer.toString keeps it.
  yield* decodeChunks(process.stdin, true);
}

/** UTF-8 chunks decoded as one text (a character split between chunks is decoded whole). */
async function* decodeChunks(chunks: AsyncIterable<unknown>, keepBom: boolean): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: keepBom });
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk as Uint8Array, { stream: true });
    if (text.length > 0) yield text;
  }
  const rest = decoder.decode();
  if (rest.length > 0) yield rest;
}

/** True if `text` names an existing file (then tagging it as text is most likely a mistake). */
async function namesAFile(text: string): Promise<boolean> {
  if (text.length > 4096 || /\s/.test(text)) return false;
  try {
    return (await stat(text)).isFile();
  } catch {
    return false;
  }
}

/** The text to tag, in chunks: from `--input`, standard input, or the arguments. */
async function textToTag(texts: string[], input: string | undefined): Promise<AsyncIterable<string>> {
  if (input !== undefined) {
    if (input === "-") return stdinText();
    await requireFile(input, "--input");
    // A leading byte-order mark is dropped, as TextDecoder drops it.
    return decodeChunks(createReadStream(input), false);
  }
  if (texts.length === 0 || (texts.length === 1 && texts[0] === "-")) return stdinText();
  if (texts.length === 1 && (await namesAFile(texts[0]!))) {
    process.stderr.write(
      `chainrule: note: tagging the text "${texts[0]}" itself; to tag the file's contents, use --input ${texts[0]}\n`,
    );
  }
  return (async function* () {
    yield texts.join(" ");
  })();
}

/** A blank line: a line break, spaces or tabs, and another line break. */
const BLANK_LINE = /\n[ \t\r\f\v]*\n/g;

/** One code unit of white space, as the tokenizer (and JavaScript's `\s`) reads it. */
const WHITESPACE = /\s/;

/** A letter and a period at the end. */
const LETTER_PERIOD = /\p{L}\.$/u;

/**
 * The last place in `text` at or after `from` where it can be cut so that tagging the two sides apart gives what
 * tagging them together gives, or -1: inside a blank line (a sentence never spans one, and no token does),
 * unless the text before it ends in a letter and a period, where the tokenizer looks across the blank line (to
 * tell the initial of "J.\n\nRowling" from a sentence's end).
 */
export function lastSafeCut(text: string, from: number): number {
  let cut = -1;
  // The end of the text before the blank line with its white space trimmed, however long that white space is
  // (it can hold several blank lines): found once from `from`, then moved forward from match to match.
  let scanned = from;
  let lastVisible = from;
  while (lastVisible > 0 && WHITESPACE.test(text[lastVisible - 1]!)) lastVisible--;
  BLANK_LINE.lastIndex = from;
  for (let match = BLANK_LINE.exec(text); match !== null; match = BLANK_LINE.exec(text)) {
    for (; scanned < match.index; scanned++) if (!WHITESPACE.test(text[scanned]!)) lastVisible = scanned + 1;
    // Three code units hold a letter outside the Basic Multilingual Plane and its period.
    if (!LETTER_PERIOD.test(text.slice(Math.max(0, lastVisible - 3), lastVisible))) cut = match.index + 1;
    BLANK_LINE.lastIndex = match.index + 1;
  }
  return cut;
}

/** A piece of the text and where it starts in the whole. */
export interface TextPiece {
  readonly text: string;
  readonly offset: number;
}

/**
 * The text of `chunks` in pieces of about `size` characters or more, each ending at a safe cut (see
 * {@link lastSafeCut}); the last piece holds the rest. A text without any safe cut is one piece.
 */
export async function* piecesOf(
  chunks: AsyncIterable<string>,
  size = PIECE_CHARACTERS,
): AsyncGenerator<TextPiece> {
  let buffer = "";
  let offset = 0;
  let searched = 0;
  for await (const chunk of chunks) {
    buffer += chunk;
    if (buffer.length < size) continue;
    // Only what was added needs searching (with a margin for a blank line across the old end).
    const cut = lastSafeCut(buffer, Math.max(0, searched - 16));
    searched = buffer.length;
    if (cut <= 0) continue;
    yield { text: buffer.slice(0, cut), offset };
    offset += cut;
    buffer = buffer.slice(cut);
    searched = buffer.length;
  }
  if (buffer.length > 0 || offset === 0) yield { text: buffer, offset };
}

/** `tagged` (of a piece) with its character offsets moved by `offset` and its token indices by `tokenOffset`. */
function shift(tagged: TaggedText, offset: number, tokenOffset: number): TaggedText {
  return {
    text: tagged.text,
    tokens: tagged.tokens.map((t) => ({ ...t, start: t.start + offset, end: t.end + offset })),
    entities: tagged.entities.map((e) => ({
      ...e,
      start: e.start + offset,
      end: e.end + offset,
      tokenStart: e.tokenStart + tokenOffset,
      tokenEnd: e.tokenEnd + tokenOffset,
    })),
    sentences: tagged.sentences.map((s) => ({
      tokenStart: s.tokenStart + tokenOffset,
      tokenEnd: s.tokenEnd + tokenOffset,
      start: s.start + offset,
      end: s.end + offset,
    })),
  };
}

/** Writes to standard output, waiting when the reader (a pipe) is behind, so that output is not held. */
async function writeInTurn(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, "drain");
}

/** One piece tagged: character offsets into the whole text, token indices into the piece's tokens. */
interface TaggedPiece {
  readonly tagged: TaggedText;
  /** The number of tokens of the pieces before. */
  readonly tokenOffset: number;
}

/** Tags `pieces` one at a time. */
async function* tagPieces(
  tagger: NerTagger,
  pieces: AsyncIterable<TextPiece>,
  scheme: TagScheme,
): AsyncGenerator<TaggedPiece> {
  let tokenOffset = 0;
  for await (const piece of pieces) {
    const tagged = shift(tagger.tag(piece.text, { scheme }), piece.offset, 0);
    yield { tagged, tokenOffset };
    tokenOffset += tagged.tokens.length;
  }
}

async function tagCommand(texts: string[], o: TagCommandOptions): Promise<void> {
  const format = choiceOption(o.format ?? "text", "--format", ["text", "json", "conll"] as const)!;
  const scheme = choiceOption<TagScheme>(o.scheme ?? "IOB2", "--scheme", ["IOB2", "IOB1", "IOBES"])!;
  if (o.input !== undefined && texts.length > 0) {
    throw new ValueError("give the text as arguments or as --input FILE, not both");
  }
  const tagger = await loadTagger(o.model, { allowNonFinite: o.allowNonFinite === true });
  const pieces = piecesOf(await textToTag(texts, o.input));
  if (format === "json") {
    // The document's text comes first, whole, then every token: the text is printed as it comes and the rest
    // is spooled (in a temporary folder, removed at the end) until the input ends.
    const folder = await mkdtemp(join(tmpdir(), "chainrule-tag-"));
    try {
      await writeTaggedJson(tagger, pieces, scheme, writeInTurn, folder);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    return;
  }
  let sentences = 0;
  for await (const { tagged } of tagPieces(tagger, pieces, scheme)) {
    if (tagged.sentences.length === 0) continue;
    sentences += tagged.sentences.length;
    await writeInTurn(format === "conll" ? formatTaggedConll(tagged) : formatTaggedText(tagged));
  }
  // Text without sentences prints as before: an empty line in the text format, nothing in conll.
  if (sentences === 0 && format === "text") {
    write(formatTaggedText({ text: "", tokens: [], entities: [], sentences: [] }));
  }
}

/** The key of each array of a `TaggedText`, in the order `JSON.stringify` writes them. */
const TAGGED_ARRAYS = ["tokens", "entities", "sentences"] as const;

/** About how many characters of JSON a spool keeps in memory before it writes them to its file. */
export const SPOOL_CHARACTERS = 1 << 20;

/** Text kept in memory up to a limit, then appended to a temporary file, read back in order at the end. */
class Spool {
  private readonly path: string;
  private readonly limit: number;
  private buffered: string[] = [];
  private bufferedLength = 0;
  private written = false;

  constructor(path: string, limit: number) {
    this.path = path;
    this.limit = limit;
  }

  async add(text: string): Promise<void> {
    this.buffered.push(text);
    this.bufferedLength += text.length;
    if (this.bufferedLength >= this.limit) await this.flush();
  }

  private async flush(): Promise<void> {
    await appendFile(this.path, this.buffered.join(""));
    this.written = true;
    this.buffered = [];
    this.bufferedLength = 0;
  }

  /** Everything added, in order, a chunk at a time. */
  async *contents(): AsyncGenerator<string> {
    if (this.written) {
      for await (const chunk of createReadStream(this.path, { encoding: "utf8" })) yield chunk as string;
    }
    if (this.bufferedLength > 0) yield this.buffered.join("");
  }
}

/**
 * Writes `JSON.stringify(tagged, null, 2) + "\n"` of a whole tagged text, byte for byte, as the text's pieces
 * are tagged: the text (the document's first field) goes out as each piece arrives, and the tokens, entities and
 * sentences (which follow the whole text in the document) are spooled, in memory up to a megabyte each and in
 * temporary files beyond it, then copied out at the end. Memory holds one piece, whatever the input's size.
 */
export class TaggedJsonWriter {
  private readonly write: (text: string) => Promise<void>;
  private readonly spools: Record<(typeof TAGGED_ARRAYS)[number], Spool>;
  private readonly counts = { tokens: 0, entities: 0, sentences: 0 };
  private started = false;

  /**
   * `write` prints; `folder` (which must exist) holds the spool files; each spool keeps up to `spoolCharacters`
   * characters in memory at a time.
   */
  constructor(write: (text: string) => Promise<void>, folder: string, spoolCharacters = SPOOL_CHARACTERS) {
    this.write = write;
    const spool = (key: string) => new Spool(join(folder, `${key}.json`), spoolCharacters);
    this.spools = { tokens: spool("tokens"), entities: spool("entities"), sentences: spool("sentences") };
  }

  /** Adds the next piece: its text and what tagging it gave (offsets and indices into the whole text). */
  async add(tagged: TaggedText): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.write('{\n  "text": "');
    }
    // A piece never ends inside a surrogate pair (pieces end at blank lines), so its escaped text is its part of
    // the whole text's escaped text.
    if (tagged.text.length > 0) await this.write(JSON.stringify(tagged.text).slice(1, -1));
    for (const key of TAGGED_ARRAYS) {
      for (const item of tagged[key]) {
        const json = JSON.stringify(item, null, 2).replace(/\n/g, "\n    ");
        await this.spools[key].add(`${this.counts[key] > 0 ? ",\n" : ""}    ${json}`);
        this.counts[key]++;
      }
    }
  }

  /** Writes the rest of the document. */
  async finish(): Promise<void> {
    if (!this.started) await this.write('{\n  "text": "');
    await this.write('"');
    for (const key of TAGGED_ARRAYS) {
      await this.write(`,\n  "${key}": [`);
      if (this.counts[key] === 0) {
        await this.write("]");
        continue;
      }
      await this.write("\n");
      for await (const chunk of this.spools[key].contents()) await this.write(chunk);
      await this.write("\n  ]");
    }
    await this.write("\n}\n");
  }
}

/**
 * Tags `pieces` one at a time and writes the JSON document of the whole text (`JSON.stringify(tagged, null, 2)`
 * and a line break) through a {@link TaggedJsonWriter} spooling in `folder`.
 */
export async function writeTaggedJson(
  tagger: NerTagger,
  pieces: AsyncIterable<TextPiece>,
  scheme: TagScheme,
  write: (text: string) => Promise<void>,
  folder: string,
  spoolCharacters = SPOOL_CHARACTERS,
): Promise<void> {
  const writer = new TaggedJsonWriter(write, folder, spoolCharacters);
  for await (const { tagged, tokenOffset } of tagPieces(tagger, pieces, scheme)) {
    await writer.add(shift(tagged, 0, tokenOffset));
  }
  await writer.finish();
}

export function registerTag(ner: Command): void {
  ner
    .command("tag")
    .description("tag English text (arguments, a file with --input, or standard input) with a trained model")
    .argument("[text...]", "the text to tag (none, or -: read standard input)")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .option(ALLOW_NON_FINITE, "load a model whose weights hold NaN or infinity (refused by default)")
    .option("--input <file>", "tag the contents of this file (- for standard input)")
    .option("--format <format>", "text, json or conll", "text")
    .option("--scheme <scheme>", "tag scheme of the output: IOB2, IOB1 or IOBES", "IOB2")
    .action((texts: string[], o: TagCommandOptions) => tagCommand(texts, o));
}
