import type { TypedArray } from "../../tensor/dtype.js";
import type { AxisView } from "../backend.js";
import { softmax as jsSoftmax } from "../js/reduce.js";
import { align16, commonKernels, requireKernels } from "./runtime.js";
import { wasmThresholds } from "./thresholds.js";

/**
 * The softmax (or log-softmax) of float32 rows (`inner` 1) of at least `wasmThresholds.elementwise` values with
 * its exponentials taken in WebAssembly (softmaxRowsWasm); any other runs the JavaScript kernel.
 */
export function softmax(x: TypedArray, view: AxisView, out: TypedArray, log: boolean): void {
  const alongRows = view.inner === 1;
  if (!alongRows || softmaxRowsWasm(x, view.outer, view.axis, log ? out : null, log ? null : out) === null) {
    jsSoftmax(x, view, out, log);
  }
}

/**
 * The log-softmax (into `logOut`) and the softmax (into `out`) of each of `rows` rows of `columns` float32 values
 * of x, either or both (null skips one), as the JavaScript kernel computes them (src/backend/js/reduce.ts):
 * shifted by the row's maximum (0 when it is −∞), x − max − log Σ and exp(x − max) / Σ, Σ summed in the row's
 * order. The exponentials are the WebAssembly kernel's (assembly/softmax.ts: float64 lanes, to about 1e-14
 * relative, where the JavaScript kernel calls Math.exp), so Σ, and the values after it, may differ from the
 * JavaScript kernel's in their last bits: a softmax rounded to float32 almost never does. One call gives both
 * outputs from one pass of exponentials, with the bits two calls give, so a compiled cross-entropy (its loss
 * and its gradient) equals the eager rule's.
 *
 * Where x and `scratch` (float64, at least rows·(columns + 2) values) live in one kernel instance's memory (a
 * compiled step's arena), the kernel runs there in place; otherwise x is copied into the kernels' memory.
 * Returns each row's maximum and Σ (at 2i and 2i + 1, valid until the next kernel call), from which a caller
 * that needs a few log-probabilities only (a cross-entropy's targets) computes them as x − max − log Σ; or null,
 * having done nothing, for another dtype, fewer values than the threshold, or no memory: the caller then runs
 * the JavaScript kernel.
 */
export function softmaxRowsWasm(
  x: TypedArray,
  rows: number,
  columns: number,
  logOut: TypedArray | null,
  out: TypedArray | null,
  scratch: Float64Array | null = null,
): Float64Array | null {
  const values = rows * columns;
  if (!(x instanceof Float32Array) || columns === 0 || values < wasmThresholds.elementwise) return null;
  const statsAt = values;
  const home = scratch !== null && scratch.length >= values + 2 * rows ? commonKernels([x, scratch]) : null;
  if (home !== null) {
    home.exports.softmaxExpsF32(
      x.byteOffset,
      rows,
      columns,
      scratch!.byteOffset,
      scratch!.byteOffset + 8 * statsAt,
    );
    const stats = scratch!.subarray(statsAt, statsAt + 2 * rows);
    finish(x, rows, columns, scratch!, stats, logOut, out);
    return stats;
  }
  const kernels = requireKernels();
  const xAt = kernels.base;
  const expsAt = xAt + align16(4 * values);
  if (!kernels.reserve(expsAt + 8 * (values + 2 * rows))) return null;
  kernels.f32.set(x, xAt / 4);
  kernels.exports.softmaxExpsF32(xAt, rows, columns, expsAt, expsAt + 8 * statsAt);
  const exps = kernels.f64.subarray(expsAt / 8, expsAt / 8 + values + 2 * rows);
  const stats = exps.subarray(statsAt);
  finish(x, rows, columns, exps, stats, logOut, out);
  return stats;
}

/** Each row's outputs from its exponentials and its (maximum, Σ) pair in `stats`. */
function finish(
  x: Float32Array,
  rows: number,
  columns: number,
  exps: Float64Array,
  stats: Float64Array,
  logOut: TypedArray | null,
  out: TypedArray | null,
): void {
  for (let i = 0; i < rows; i++) {
    const base = i * columns;
    const max = stats[2 * i]!;
    const total = stats[2 * i + 1]!;
    if (logOut !== null) {
      const logTotal = Math.log(total);
      for (let j = 0; j < columns; j++) logOut[base + j] = x[base + j]! - max - logTotal;
    }
    if (out !== null) {
      for (let j = 0; j < columns; j++) out[base + j] = exps[base + j]! / total;
    }
  }
}
