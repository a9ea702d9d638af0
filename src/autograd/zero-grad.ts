import type { Tensor } from "../tensor/tensor.js";

/** Resets the accumulated gradient of each tensor (the same as `t.grad = null` on each). */
export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) t.grad = null;
}
