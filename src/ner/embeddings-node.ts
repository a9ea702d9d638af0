/**
 * Node-only reading of GloVe-format files, streamed line by line (a 400,000-line, 100-d file is read without
 * ever holding it as one string).
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import {
  EmbeddingTableBuilder,
  VocabularyEmbeddingsBuilder,
  type EmbeddingReadOptions,
  type EmbeddingTable,
  type VocabularyEmbeddings,
} from "./embeddings.js";
import type { Vocabulary } from "./vocab.js";

/** Calls `onLine` for each line of a file, streaming; rejects with the first error (I/O or from `onLine`). */
function forEachFileLine(path: string, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path, { encoding: "utf8" });
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let failed = false;
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      lines.close();
      stream.destroy();
      reject(error);
    };
    stream.on("error", fail);
    lines.on("error", fail);
    lines.on("line", (line: string) => {
      if (failed) return;
      try {
        onLine(line);
      } catch (error) {
        fail(error);
      }
    });
    lines.on("close", () => {
      if (!failed) resolve();
    });
  });
}

/** Reads every vector of a GloVe-format file. Messages name the file as `options.file` or the path. */
export async function readEmbeddingsFile(
  path: string,
  options: EmbeddingReadOptions = {},
): Promise<EmbeddingTable> {
  const builder = new EmbeddingTableBuilder({ ...options, file: options.file ?? path });
  await forEachFileLine(path, (line) => builder.addLine(line));
  return builder.finish();
}

/**
 * Reads the vectors of `vocabulary`'s words from a GloVe-format file; `missing` lists the vocabulary words the
 * file lacks (their rows should keep a random initialisation).
 */
export async function readEmbeddingsForVocabulary(
  path: string,
  vocabulary: Vocabulary,
  options: EmbeddingReadOptions = {},
): Promise<VocabularyEmbeddings> {
  const builder = new VocabularyEmbeddingsBuilder(vocabulary, { ...options, file: options.file ?? path });
  await forEachFileLine(path, (line) => builder.addLine(line));
  return builder.finish();
}
