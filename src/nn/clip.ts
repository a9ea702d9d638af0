import { ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import type { RowSparse } from "../tensor/sparse.js";
import { noGrad } from "../autograd/mode.js";
import { mul } from "../ops/index.js";
import { Module, type AnyModule } from "./module.js";

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** The p of the p-norm (default 2); `Infinity` for the largest absolute value. */
  normType?: number;
  /** Throw when the total norm is NaN or infinite instead of scaling by it (default false). */
  errorIfNonfinite?: boolean;
}

/**
 * Rescales the gradients of `parameters` together so that their joint p-norm (as if all gradients were one
 * vector) is at most `maxNorm`, and returns the norm before clipping. Gradients are replaced by scaled
 * copies, never changed in place. A row-sparse gradient has its repeated rows summed first (the norm is
 * that of the gradient it stands for) and stays row-sparse. Parameters without a gradient are skipped.
 */
export function clipGradNorm(
  parameters: Iterable<Tensor> | AnyModule,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): number {
  if (typeof maxNorm !== "number" || !(maxNorm >= 0)) {
    throw new ValueError(`clipGradNorm: maxNorm must be a number ≥ 0, got ${maxNorm}`);
  }
  const p = options.normType ?? 2;
  if (typeof p !== "number" || !(p > 0)) {
    throw new ValueError(`clipGradNorm: normType must be a positive number or Infinity, got ${p}`);
  }
  const list = parameters instanceof Module ? parameters.parameters() : [...(parameters as Iterable<Tensor>)];
  return noGrad(() => {
    const grads: { parameter: Tensor; dense: Tensor | null; sparse: RowSparse | null }[] = [];
    let accumulated = 0;
    for (const parameter of list) {
      if (!(parameter instanceof Tensor)) throw new ValueError("clipGradNorm: parameters must be tensors");
      const sparse = parameter.sparseGrad === null ? null : parameter.sparseGrad.coalesce();
      const dense = sparse === null ? parameter.grad : null;
      const values = sparse !== null ? sparse.values.data : dense !== null ? dense.data : null;
      if (values === null) continue;
      grads.push({ parameter, dense, sparse });
      for (let i = 0; i < values.length; i++) {
        const a = Math.abs(values[i]!);
        accumulated = p === Infinity ? Math.max(accumulated, a) : accumulated + Math.pow(a, p);
      }
    }
    const total = p === Infinity ? accumulated : Math.pow(accumulated, 1 / p);
    if (!Number.isFinite(total) && options.errorIfNonfinite) {
      throw new ValueError(`clipGradNorm: the total gradient norm is ${total}`);
    }
    const coefficient = maxNorm / (total + 1e-6);
    if (coefficient < 1) {
      for (const { parameter, dense, sparse } of grads) {
        if (sparse !== null) parameter.sparseGrad = sparse.scale(coefficient);
        else parameter.grad = mul(dense!, coefficient);
      }
    }
    return total;
  });
}
