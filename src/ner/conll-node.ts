/**
 * Node-only CoNLL file I/O: reads files with the parser of `conll.ts` and writes predictions atomically.
 */
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../io/atomic-write-node.js";
import {
  formatPredictions,
  parseConll,
  parsePredictions,
  type ConllCorpus,
  type ParseConllOptions,
  type PredictedSentence,
} from "./conll.js";

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

/** Writes predictions in conlleval's format (`token gold predicted`, see `formatPredictions`), atomically. */
export async function writePredictionsFile(
  path: string,
  sentences: Iterable<PredictedSentence>,
): Promise<void> {
  await writeFileAtomic(path, formatPredictions(sentences));
}
