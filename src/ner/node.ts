/**
 * The Node-only NER file I/O in one place (`chainrule/ner/node`): CoNLL files, GloVe files and model
 * directories. The browser-safe rest is `chainrule/ner` (or the `ner` namespace of the main entry).
 */
export { readConllFile, readPredictionsFile, writePredictionsFile, writeFileAtomic } from "./conll-node.js";
export { readEmbeddingsFile, readEmbeddingsForVocabulary } from "./embeddings-node.js";
export { saveNerModel, readNerModelFiles } from "./tagger-node.js";
