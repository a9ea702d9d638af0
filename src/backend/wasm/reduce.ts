import type { TypedArray } from "../../tensor/dtype.js";
import type { ReduceKernel } from "../backend.js";
import { reduce as jsReduce } from "../js/reduce.js";
import { align16, commonKernels, requireKernels } from "./runtime.js";
import { wasmThresholds } from "./thresholds.js";
import { blockView } from "../../tensor/shape.js";

/**
 * Sums over one contiguous block of axes run in WebAssembly; max, min, scattered axes, int32 and small arrays
 * run the JavaScript kernel. Arrays that already live in one kernel instance's memory (a compiled step's) are
 * summed there in place; others are copied into WebAssembly memory and the sums copied out.
 */
export function reduce(
  op: ReduceKernel,
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  out: TypedArray,
): void {
  const size = x instanceof Float32Array ? 4 : x instanceof Float64Array ? 8 : 0;
  const block = axes.length > 0 ? blockView(shape, axes) : null;
  const sameType = size === 4 ? out instanceof Float32Array : out instanceof Float64Array;
  if (op !== "sum" || block === null || size === 0 || !sameType || x.length < wasmThresholds.elementwise) {
    jsReduce(op, x, shape, axes, out);
    return;
  }
  const { outer, axis, inner } = block;
  // A sum along contiguous rows runs four rows per vector; with fewer rows WebAssembly has no advantage.
  if (inner === 1 && outer < 4) {
    jsReduce(op, x, shape, axes, out);
    return;
  }
  const home = commonKernels([x, out]);
  if (home !== null) {
    if (size === 4) home.exports.sumAxisF32(x.byteOffset, out.byteOffset, outer, axis, inner);
    else home.exports.sumAxisF64(x.byteOffset, out.byteOffset, outer, axis, inner);
    return;
  }
  const kernels = requireKernels();
  const xAt = kernels.base;
  const outAt = xAt + align16(x.length * size);
  if (!kernels.reserve(outAt + align16(outer * inner * size))) {
    jsReduce(op, x, shape, axes, out);
    return;
  }
  const view = size === 4 ? kernels.f32 : kernels.f64;
  view.set(x, xAt / size);
  if (size === 4) kernels.exports.sumAxisF32(xAt, outAt, outer, axis, inner);
  else kernels.exports.sumAxisF64(xAt, outAt, outer, axis, inner);
  out.set(view.subarray(outAt / size, outAt / size + outer * inner));
}
