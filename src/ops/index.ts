import type { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../graph/mode.js";
import { add } from "./elementwise.js";

export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./shape.js";
export * from "./linalg.js";
export * from "./nn.js";
export { checkSameShapeAndDType } from "./helpers.js";
export { noGrad };
export type { Reduction, OpName, OpAttrs } from "./types.js";

/** a + b without recording (for gradient bookkeeping). */
export function noGradAdd(a: Tensor, b: Tensor): Tensor {
  return noGrad(() => add(a, b));
}
