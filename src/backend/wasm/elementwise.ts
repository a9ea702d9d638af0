import type { TypedArray } from "../../tensor/dtype.js";
import type { ActivationKernel, BinaryKernel, UnaryKernel } from "../backend.js";
import {
  activationBackward as jsActivationBackward,
  binary as jsBinary,
  unary as jsUnary,
} from "../js/elementwise.js";
import { align16, requireKernels, type Kernels } from "./runtime.js";
import { runningPool, splittingPool, type ThreadPool } from "./threads.js";
import { wasmThresholds } from "./thresholds.js";
import { collapseBroadcast } from "../broadcast.js";

/**
 * Operation codes of assembly/elementwise.ts (its `const NEG = 0;` … lines). test/backend/kernel-interface.test.ts
 * reads them from there and fails if these differ.
 */
export const UNARY_CODES: Partial<Record<UnaryKernel, number>> = {
  neg: 0,
  abs: 1,
  relu: 2,
  square: 3,
  sqrt: 4,
  reciprocal: 5,
  sign: 6,
  exp: 7,
  tanh: 8,
  sigmoid: 9,
};
/** Codes from here on are transcendental: float32 only (float64 keeps JavaScript's Math precision). */
export const FIRST_TRANSCENDENTAL = 7;

export const BINARY_CODES: Partial<Record<BinaryKernel, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
};

function floatKind(x: TypedArray): 4 | 8 | 0 {
  return x instanceof Float32Array ? 4 : x instanceof Float64Array ? 8 : 0;
}

export function unary(op: UnaryKernel, x: TypedArray, out: TypedArray): void {
  const n = x.length;
  const size = floatKind(x);
  const code = UNARY_CODES[op];
  if (
    n < wasmThresholds.elementwise ||
    size === 0 ||
    floatKind(out) !== size ||
    code === undefined ||
    (size === 8 && code >= FIRST_TRANSCENDENTAL)
  ) {
    jsUnary(op, x, out);
    return;
  }
  // A transcendental op (exp, tanh, σ: a few nanoseconds a value) of many float32 values splits across a running
  // pool's threads, in its per-call area. The copies in and out of the shared memory cost more than the private
  // instance's, but the second core halves the op (a tanh of 76,800 values: 209 → 145 µs in isolation, about
  // 220 → 185 µs inside the eager NER step); each value is computed as one call computes it, so the bits are the
  // same. Not when the workers are asleep and the op is small (`ThreadPool.worthSplitting`).
  const pool =
    code >= FIRST_TRANSCENDENTAL && size === 4 ? splittingPool(n, wasmThresholds.threadUnaryValues) : null;
  const area = callArea(pool, align16(n * size));
  if (area === null) {
    jsUnary(op, x, out);
    return;
  }
  const { kernels, at } = area;
  // In place: each vector is read before it is written.
  const view = size === 4 ? kernels.f32 : kernels.f64;
  const index = at / size;
  view.set(x, index);
  if (area.pool !== null) area.pool.unary(true, code, at, at, n);
  else if (size === 4) kernels.exports.unaryF32(code, at, at, n);
  else kernels.exports.unaryF64(code, at, at, n);
  out.set(view.subarray(index, index + n));
}

/**
 * Where a call lays out its copies: the per-call area of `pool` (then the call splits across its threads), or,
 * when `pool` is null or its memory cannot grow, a memory the main thread runs the kernel on: the running pool's
 * per-call area where it already spans `bytes` (the products' copies grew it; see {@link mainThreadArea}), else
 * the private instance's. Null when none can hold `bytes`.
 */
function callArea(
  pool: ThreadPool | null,
  bytes: number,
): { kernels: Kernels; at: number; pool: ThreadPool | null } | null {
  if (pool !== null) {
    const at = pool.base;
    if (pool.reserve(at + bytes, wasmThresholds.maxBytes)) return { kernels: pool.kernels, at, pool };
  }
  return mainThreadArea(bytes);
}

/**
 * Where an op that runs on the main thread lays out `bytes` of copies: the running pool's per-call area, through
 * the main thread's instance of the kernels over the pool's memory, when that area already spans them, else the
 * private instance's memory (grown if needed). WebAssembly memories never shrink: at batch 2048 on two threads, a
 * bias addition's copies (2.4 MB in, 2.4 MB out) grew the private memory to 4.8 MB beside the pool's, whose
 * per-call area the products had already grown past that and leave unused between calls. The same build of the
 * same kernels runs on either memory, so the values are the same. Null when neither can hold `bytes`.
 */
function mainThreadArea(bytes: number): { kernels: Kernels; at: number; pool: null } | null {
  const running = runningPool();
  if (running !== null && !running.failed) {
    const at = running.base;
    if (at + bytes <= running.kernels.memoryBytes && running.reserve(at + bytes, wasmThresholds.maxBytes)) {
      return { kernels: running.kernels, at, pool: null };
    }
  }
  const kernels = requireKernels();
  const at = kernels.base;
  return kernels.reserve(at + bytes) ? { kernels, at, pool: null } : null;
}

/**
 * The broadcast as at most two dimensions [rows, columns] with each operand's row stride and column step, or
 * null when it needs more (or a column step other than 0 or 1).
 */
function asRows(
  aShape: readonly number[],
  bShape: readonly number[],
  outShape: readonly number[],
  aLength: number,
  bLength: number,
  n: number,
): [rows: number, columns: number, aRow: number, aStep: number, bRow: number, bStep: number] | null {
  // The common cases first: same shapes, and a scalar on either side.
  if (aLength === n && bLength === n) return [1, n, 0, 1, 0, 1];
  if (aLength === n && bLength === 1) return [1, n, 0, 1, 0, 0];
  if (aLength === 1 && bLength === n) return [1, n, 0, 0, 0, 1];
  const { shape: dims, aStrides, bStrides } = collapseBroadcast(aShape, bShape, outShape);
  if (dims.length === 0 || dims.length > 2) return null;
  if (dims.length === 1) {
    dims.unshift(1);
    aStrides.unshift(0);
    bStrides.unshift(0);
  }
  const aStep = aStrides[1]!;
  const bStep = bStrides[1]!;
  if (aStep > 1 || bStep > 1) return null;
  return [dims[0]!, dims[1]!, aStrides[0]!, aStep, bStrides[0]!, bStep];
}

export function binary(
  op: BinaryKernel,
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  const n = out.length;
  if (n < wasmThresholds.elementwise) {
    // Small arrays (scalar graphs) go straight to the JavaScript kernel.
    jsBinary(op, a, aShape, b, bShape, out, outShape);
    return;
  }
  const size = floatKind(out);
  const code = BINARY_CODES[op];
  const layout =
    size !== 0 && floatKind(a) === size && floatKind(b) === size && code !== undefined
      ? asRows(aShape, bShape, outShape, a.length, b.length, n)
      : null;
  if (!layout) {
    jsBinary(op, a, aShape, b, bShape, out, outShape);
    return;
  }
  const aBytes = align16(a.length * size);
  const bBytes = align16(b.length * size);
  const area = mainThreadArea(aBytes + bBytes + align16(n * size));
  if (area === null) {
    jsBinary(op, a, aShape, b, bShape, out, outShape);
    return;
  }
  const { kernels, at: aAt } = area;
  const bAt = aAt + aBytes;
  const outAt = bAt + bBytes;
  const view = size === 4 ? kernels.f32 : kernels.f64;
  view.set(a, aAt / size);
  view.set(b, bAt / size);
  const [rows, columns, aRow, aStep, bRow, bStep] = layout;
  if (size === 4) kernels.exports.binaryF32(code!, aAt, aRow, aStep, bAt, bRow, bStep, outAt, rows, columns);
  else kernels.exports.binaryF64(code!, aAt, aRow, aStep, bAt, bRow, bStep, outAt, rows, columns);
  out.set(view.subarray(outAt / size, outAt / size + n));
}

/**
 * The gradient of tanh or σ from its output (Backend.activationBackward) on float32 arrays of 256 values or more:
 * y and g copied into WebAssembly memory, the SIMD kernel run in place over g (`tanhBackwardF32`,
 * `sigmoidBackwardF32`, a compiled step's kernels: the JavaScript loop's bits) and the result copied out. On the
 * running thread pool, split across its threads, from `wasmThresholds.threadDerivativeValues` values when worth
 * waking them for (`splittingPool`); else on the private instance. float64 and small arrays take the JavaScript
 * loop.
 */
export function activationBackward(
  kernel: ActivationKernel,
  y: TypedArray,
  g: TypedArray,
  out: TypedArray,
): void {
  const n = out.length;
  if (
    !(y instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array) ||
    n < wasmThresholds.elementwise ||
    y.length !== n ||
    g.length !== n
  ) {
    jsActivationBackward(kernel, y, g, out);
    return;
  }
  const bytes = align16(n * 4);
  const area = callArea(splittingPool(n, wasmThresholds.threadDerivativeValues), 2 * bytes);
  if (area === null) {
    jsActivationBackward(kernel, y, g, out);
    return;
  }
  const { kernels, at: yAt } = area;
  const gAt = yAt + bytes;
  const view = kernels.f32;
  view.set(y, yAt / 4);
  view.set(g, gAt / 4);
  // In place over g: each position is read before it is written.
  if (area.pool !== null) area.pool.derivative(kernel, yAt, gAt, gAt, n);
  else if (kernel === "tanh") kernels.exports.tanhBackwardF32(yAt, gAt, gAt, n);
  else kernels.exports.sigmoidBackwardF32(yAt, gAt, gAt, n);
  out.set(view.subarray(gAt / 4, gAt / 4 + n));
}
