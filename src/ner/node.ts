/**
 * chainrule/ner for Node: everything of the browser-safe `chainrule/ner`, plus the file I/O (CoNLL files,
 * GloVe files, model directories, atomic writes) and `NerTagger` with `load(directory)`. In Node,
 * `import … from "chainrule/ner"` resolves here (the package's "node" export condition); `chainrule/ner/node`
 * names it explicitly.
 */
import { installTensorMethods } from "../autograd/tensor-methods.js";

// Tensor methods (t.add(u), t.backward(), …) sit above the tensor layer; attach them for this entry point.
installTensorMethods();
export * from "./index.js";
export {
  readConllFile,
  readConllSentences,
  readCompactCorpus,
  readPredictionsFile,
  writePredictionsFile,
  writeFileAtomic,
} from "./conll-node.js";
export { readEmbeddingsFile, readEmbeddingsForVocabulary } from "./embeddings-node.js";
export { NerTagger, saveNerModel, readNerModelFiles } from "./tagger-node.js";
export type { SaveModelOptions } from "./model-directory-node.js";
