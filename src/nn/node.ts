/**
 * chainrule/nn for Node: everything of the browser-safe `chainrule/nn`, plus `save` and `load`, which write
 * and read safetensors files. `import { save } from "chainrule/nn"` resolves here in Node (the package's
 * "node" export condition); `chainrule/nn/node` names it explicitly.
 */
import { installTensorMethods } from "../autograd/tensor-methods.js";

// Tensor methods (t.add(u), t.backward(), …) sit above the tensor layer; attach them for this entry point.
installTensorMethods();
export * from "./index.js";
export { save, load } from "./safetensors-node.js";
