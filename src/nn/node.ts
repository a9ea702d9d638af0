/**
 * chainrule/nn for Node: everything of the browser-safe `chainrule/nn`, plus `save` and `load`, which write
 * and read safetensors files. `import { save } from "chainrule/nn"` resolves here in Node (the package's
 * "node" export condition); `chainrule/nn/node` names it explicitly.
 */
export * from "./index.js";
export { save, load } from "./safetensors-node.js";
