/**
 * `chainrule ner tag`: tags English text with a trained model: the arguments, a file (`--input FILE`), or
 * standard input (no text, or `-`). A file or standard input is read as a stream and tagged a piece at a time
 * (pieces end at paragraph breaks), so that the text and conll formats keep in memory the model and one piece
 * (or the longest paragraph), whatever the size of the input; the output is what tagging the whole text at once
 * gives.
 */
import { createReadStream } from "node:fs";
import { once } from "node:events";
import type { Command } from "commander";
import { ValueError } from "../../../errors.js";
import type { TagScheme } from "../../../ner/tags.js";
import type { NerTagger, TaggedText } from "../../../ner/tagger.js";
import { formatTaggedConll, formatTaggedText } from "./format.js";
import { choiceOption, loadTagger, requireFile, write } from "./shared.js";
import { stat } from "node:fs/promises";

interface TagCommandOptions {
  model: string;
  input?: string;
  format?: string;
  scheme?: string;
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

/**
 * The last place in `text` at or after `from` where it can be cut so that tagging the two sides apart gives what
 * tagging them together gives, or -1: inside a blank line (a sentence never spans one, and no token does),
 * unless the text before it ends in a letter and a period, where the tokenizer looks across the blank line (to
 * tell the initial of "J.\n\nRowling" from a sentence's end).
 */
export function lastSafeCut(text: string, from: number): number {
  let cut = -1;
  BLANK_LINE.lastIndex = from;
  for (let match = BLANK_LINE.exec(text); match !== null; match = BLANK_LINE.exec(text)) {
    const before = text.slice(Math.max(0, match.index - 8), match.index).trimEnd();
    if (!/\p{L}\.$/u.test(before)) cut = match.index + 1;
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
  const tagger = await loadTagger(o.model);
  const pieces = piecesOf(await textToTag(texts, o.input));
  if (format === "json") {
    // One JSON document holds the whole text and every token: it is put together whole, then printed.
    const text: string[] = [];
    const parts: TaggedText[] = [];
    const seen = tee(pieces, (piece) => text.push(piece.text));
    for await (const { tagged, tokenOffset } of tagPieces(tagger, seen, scheme)) {
      parts.push(shift(tagged, 0, tokenOffset));
    }
    const whole: TaggedText = {
      text: text.join(""),
      tokens: parts.flatMap((p) => p.tokens),
      entities: parts.flatMap((p) => p.entities),
      sentences: parts.flatMap((p) => p.sentences),
    };
    write(JSON.stringify(whole, null, 2) + "\n");
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

/** The items of `items`, each also given to `see` first. */
async function* tee<T>(items: AsyncIterable<T>, see: (item: T) => void): AsyncGenerator<T> {
  for await (const item of items) {
    see(item);
    yield item;
  }
}

export function registerTag(ner: Command): void {
  ner
    .command("tag")
    .description("tag English text (arguments, a file with --input, or standard input) with a trained model")
    .argument("[text...]", "the text to tag (none, or -: read standard input)")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .option("--input <file>", "tag the contents of this file (- for standard input)")
    .option("--format <format>", "text, json or conll", "text")
    .option("--scheme <scheme>", "tag scheme of the output: IOB2, IOB1 or IOBES", "IOB2")
    .action((texts: string[], o: TagCommandOptions) => tagCommand(texts, o));
}
