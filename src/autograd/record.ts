import type { Tensor } from "../tensor/tensor.js";
import { applyRule } from "../graph/apply.js";
import { getOpTable } from "../ops/table.js";
import type { OpAttrs, OpName } from "../ops/types.js";

/** Runs the primitive named `op` from the op table on `inputs`, recording it (see graph/apply.ts). */
export function apply<P extends OpName>(op: P, inputs: Tensor[], attrs: OpAttrs[P]): Tensor {
  return applyRule(op, getOpTable()[op], inputs, attrs);
}
