/**
 * chainrule for Node: everything of the browser-safe main entry, with the namespaces `nn` and `ner` and the
 * class `NerTagger` in their Node versions, which add file I/O (`nn.save`, `nn.load`, `NerTagger.load`,
 * `ner.readConllFile`, `ner.readEmbeddingsFile`, …). In Node, `import … from "chainrule"` resolves here (the
 * package's "node" export condition); `chainrule/node` names it explicitly.
 */
import { installTensorMethods } from "./autograd/tensor-methods.js";

// Tensor methods (t.add(u), t.backward(), …) sit above the tensor layer; attach them for this entry point.
installTensorMethods();
export * from "./index.js";
export * as nn from "./nn/node.js";
export * as ner from "./ner/node.js";
export { NerTagger } from "./ner/tagger-node.js";
