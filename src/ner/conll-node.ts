/**
 * Node-only CoNLL file I/O: reads files with the parser of `conll.ts` and writes predictions atomically.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { ValueError, quoteInput } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-write-node.js";
import {
  ConllTableReader,
  PredictionsFormatter,
  formatPredictions,
  parseConll,
  parsePredictions,
  type ConllCorpus,
  type ConllSentence,
  type ParseConllOptions,
  type PredictedSentence,
} from "./conll.js";
import { CompactCorpus, CompactCorpusBuilder } from "./conll-compact.js";

/**
 * Decodes UTF-8 (invalid bytes become U+FFFD rather than failing). A byte-order mark is kept for the parser to
 * drop, so that exactly one is dropped (a second U+FEFF belongs to the first token).
 */
function decode(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
}

/**
 * Reads a CoNLL file. Messages name the file as `options.file` or, by default, the path as given
 * (`data/eng.train:1042: expected at least 2 columns …`).
 */
export async function readConllFile(path: string, options: ParseConllOptions = {}): Promise<ConllCorpus> {
  const bytes = await readFile(path);
  return parseConll(decode(bytes), { ...options, file: options.file ?? path });
}

/** Reads a predictions file (`token … gold predicted` per line), e.g. one written by {@link writePredictionsFile}. */
export async function readPredictionsFile(
  path: string,
  options: { file?: string } = {},
): Promise<PredictedSentence[]> {
  const bytes = await readFile(path);
  return parsePredictions(decode(bytes), { file: options.file ?? path });
}

export { writeFileAtomic };

/**
 * Writes predictions in conlleval's format (`token gold predicted`, see `formatPredictions`), atomically. The
 * sentences may come as an async iterable (made while the file is written, in memory one batch at a time).
 */
export async function writePredictionsFile(
  path: string,
  sentences: Iterable<PredictedSentence> | AsyncIterable<PredictedSentence>,
): Promise<void> {
  if (Symbol.asyncIterator in sentences) await writeFileAtomic(path, formatPredictionsStream(sentences));
  else await writeFileAtomic(path, formatPredictions(sentences));
}

/** About how much predictions text is gathered before it is written. */
const PREDICTIONS_CHUNK = 1 << 16;

async function* formatPredictionsStream(sentences: AsyncIterable<PredictedSentence>): AsyncGenerator<string> {
  const formatter = new PredictionsFormatter();
  let pending: PredictedSentence[] = [];
  let tokens = 0;
  for await (const sentence of sentences) {
    pending.push(sentence);
    tokens += sentence.tokens.length;
    if (tokens * 16 >= PREDICTIONS_CHUNK) {
      yield formatter.format(pending);
      pending = [];
      tokens = 0;
    }
  }
  yield formatter.format(pending);
}

/**
 * Reads CoNLL sentences from a file (a path) or a stream of UTF-8 text, one at a time, as an async iterable:
 * memory is bounded by the longest sentence, whatever the size of the input. The sentences, and the errors
 * for malformed input, are those of {@link parseConll}.
 *
 * ```ts
 * for await (const sentence of readConllSentences("eng.testa")) counter.addSentence(sentence.tags, …);
 * ```
 */
export async function* readConllSentences(
  source: string | Readable,
  options: ParseConllOptions = {},
): AsyncGenerator<ConllSentence> {
  const file = options.file ?? (typeof source === "string" ? source : "<stream>");
  const tokenColumn = options.tokenColumn ?? 0;
  const tagColumn = options.tagColumn ?? -1;
  for (const [name, value] of [
    ["tokenColumn", tokenColumn],
    ["tagColumn", tagColumn],
  ] as const) {
    if (!Number.isInteger(value)) {
      throw new ValueError(`readConllSentences: ${name} must be an integer, got ${quoteInput(value)}`);
    }
  }
  const ready: ConllSentence[] = [];
  const reader = new ConllTableReader(
    {
      file,
      tokenColumn,
      tagColumns: [tagColumn],
      minimumColumns: 2,
      columnNames: "a token and a tag",
      validateTags: options.validateTags ?? true,
      allowEmpty: options.allowEmpty ?? false,
    },
    (s) => ready.push({ tokens: s.tokens, tags: s.tagColumns[0]!, line: s.line, document: s.document }),
  );
  const input = typeof source === "string" ? createReadStream(source) : source;
  input.setEncoding("utf8");
  const lines = createInterface({ input, crlfDelay: Infinity });
  let first = true;
  try {
    for await (let line of lines) {
      if (first && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
      first = false;
      reader.addLine(line);
      while (ready.length > 0) yield ready.shift()!;
    }
    reader.finish();
    while (ready.length > 0) yield ready.shift()!;
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * Reads a CoNLL file (a path) or a stream straight into a {@link CompactCorpus}: the sentences of
 * {@link readConllSentences}, one at a time, stored as ids, so that memory grows with the number of tokens (about
 * 8 bytes each, plus one copy of each distinct token and tag), never with the size of the text. The errors for
 * malformed input are those of {@link parseConll}.
 */
export async function readCompactCorpus(
  source: string | Readable,
  options: ParseConllOptions = {},
): Promise<CompactCorpus> {
  const file = options.file ?? (typeof source === "string" ? source : "<stream>");
  const builder = new CompactCorpusBuilder(file);
  for await (const sentence of readConllSentences(source, { ...options, file })) {
    builder.add(sentence.tokens, sentence.tags);
  }
  return builder.finish();
}
