import type { Tensor } from "../tensor/tensor.js";
import { applyRule } from "../graph/apply.js";
import type { OpRule } from "../graph/rule.js";
import { opTable, type OpAttrs, type OpName } from "../ops/table.js";

/** Runs the primitive named `op` from the op table on `inputs`, recording it (see graph/apply.ts). */
export function apply<P extends OpName>(op: P, inputs: Tensor[], attrs: OpAttrs[P]): Tensor {
  return applyRule(op, opTable[op] as OpRule<OpAttrs[P]>, inputs, attrs);
}
