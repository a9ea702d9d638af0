import type {
  AdaGradArguments,
  AdaGradRowsArguments,
  AdamArguments,
  AdamRowsArguments,
  KernelExports,
  SgdArguments,
  SgdRowsArguments,
} from "./runtime.js";
import { align16, commonKernels, requireKernels, type Kernels } from "./runtime.js";
import { poolOf, type RowUpdateKernel, type UpdateKernel } from "./threads.js";
import { wasmThresholds } from "./thresholds.js";

/**
 * The optimisers' updates on the WebAssembly kernels (assembly/optim.ts): SGD (momentum, dampening, Nesterov,
 * weight decay), Adam / AdamW and AdaGrad, on dense spans and on the rows of a row-sparse gradient. They compute
 * in float64 in the JavaScript loops' order and round once per stored value, so they give src/nn/optim.ts's
 * results bit for bit.
 *
 * Two ways in:
 * - {@link optimizerKernels}: the kernels themselves, on byte addresses in the module's memory, for code that
 *   keeps its buffers there (a compiled step);
 * - {@link wasmSgd}, {@link wasmAdam}, {@link wasmAdaGrad}: an update of typed arrays. One whose arrays all live in
 *   one instance's memory (a compiled step's parameters, gradients and rows) runs there in place; one whose
 *   parameter and state live in the thread pool's shared memory (an eager optimiser's resident parameter, see
 *   resident.ts) copies only its gradient (and row list) in and runs on the parameter in place; a dense one
 *   elsewhere is copied in and out; a row-sparse one elsewhere is left to the JavaScript loop, which is faster
 *   than copying the rows in and out.
 */

/** A float array the optimiser kernels update. */
export type OptimizerArray = Float32Array | Float64Array;

/** The optimiser kernels for one storage type, taking byte addresses (see the argument types in runtime.ts). */
export interface OptimizerKernels {
  sgd(...args: SgdArguments): void;
  sgdRows(...args: SgdRowsArguments): void;
  adam(...args: AdamArguments): void;
  adamRows(...args: AdamRowsArguments): void;
  adagrad(...args: AdaGradArguments): void;
  adagradRows(...args: AdaGradRowsArguments): void;
}

/** The SGD kernels' `flags`: Nesterov momentum. */
export const SGD_NESTEROV = 1;
/** The SGD kernels' `flags`: the parameter's first step (the momentum buffer starts as the gradient). */
export const SGD_FIRST = 2;

/**
 * The optimiser kernels of the loaded module for float32 or float64 storage (loading it synchronously if needed;
 * throws where that is not possible, see requireKernels). Addresses are byte offsets into
 * `requireKernels().memory`; the caller owns the layout from `requireKernels().base` up.
 */
export function optimizerKernels(dtype: "float32" | "float64"): OptimizerKernels {
  return kernelsFor(requireKernels().exports, dtype === "float32" ? 4 : 8);
}

function kernelsFor(e: KernelExports, size: 4 | 8): OptimizerKernels {
  return size === 4
    ? {
        sgd: e.sgdF32,
        sgdRows: e.sgdRowsF32,
        adam: e.adamF32,
        adamRows: e.adamRowsF32,
        adagrad: e.adagradF32,
        adagradRows: e.adagradRowsF32,
      }
    : {
        sgd: e.sgdF64,
        sgdRows: e.sgdRowsF64,
        adam: e.adamF64,
        adamRows: e.adamRowsF64,
        adagrad: e.adagradF64,
        adagradRows: e.adagradRowsF64,
      };
}

/**
 * One parameter's update as the eager optimisers hold it: the parameter, its gradient (dense: the parameter's
 * size; row-sparse: `rows.length` rows of `rowSize` values, the rows distinct) and its state buffers (each of the
 * parameter's size), all of one float type.
 */
export interface OptimizerSpans {
  param: OptimizerArray;
  grad: OptimizerArray;
  /** null for a dense gradient; otherwise the distinct rows the gradient holds, in its order. */
  rows: Int32Array | null;
  rowSize: number;
  /** The state buffers the kernel reads and writes (momentum; Adam's two moments; AdaGrad's sum). */
  state: readonly OptimizerArray[];
}

/** SGD's settings; keep = 1 − dampening; `first` is the parameter's first step. */
export interface SgdSettings {
  lr: number;
  weightDecay: number;
  momentum: number;
  keep: number;
  nesterov: boolean;
  first: boolean;
}

/** Adam's settings at one step (see AdamArguments in runtime.ts). */
export interface AdamSettings {
  beta1: number;
  beta2: number;
  stepSize: number;
  correction2: number;
  eps: number;
  l2: number;
  shrink: number;
}

/** AdaGrad's settings at one step (rate = α / (1 + (t − 1)·lrDecay)). */
export interface AdaGradSettings {
  rate: number;
  weightDecay: number;
  eps: number;
}

/**
 * A dense update: its kernel (without the storage type) and its arguments after (param, grad, state…, n) — see
 * the argument types in runtime.ts — where `states` is how many state addresses the kernel takes (SGD takes its
 * momentum buffer's, 0 without momentum).
 */
interface DenseCall {
  kernel: "sgd" | "adam" | "adagrad";
  states: number;
  scalars: number[];
}

/** A kernel's addresses: the parameter's, the gradient's and its `call.states` state buffers' (0 where unused). */
function updateAddresses(
  call: DenseCall,
  paramAt: number,
  gradAt: number,
  stateAt: readonly number[],
): number[] {
  const addresses = [paramAt, gradAt];
  for (let i = 0; i < call.states; i++) addresses.push(stateAt[i] ?? 0);
  return addresses;
}

/**
 * Runs a dense update of n values on `home`'s memory (`addresses` from `updateAddresses`): split across the
 * thread pool's threads when that memory is the pool's and the update is large
 * (`wasmThresholds.threadUpdateValues`), else in one call. Unless `mayWake`, only while the workers are still
 * spinning from the last task or the update is large (`ThreadPool.worthSplitting`).
 */
function runDense(
  home: Kernels,
  size: number,
  call: DenseCall,
  addresses: readonly number[],
  n: number,
  mayWake = true,
): void {
  const kernel: UpdateKernel = `${call.kernel}${size === 4 ? "F32" : "F64"}`;
  const pool = mayWake || poolOf(home)?.worthSplitting(n) ? poolOf(home) : null;
  if (pool?.splits(n, wasmThresholds.threadUpdateValues)) pool.update(kernel, addresses, n, call.scalars);
  else (home.exports[kernel] as (...values: number[]) => void)(...addresses, n, ...call.scalars);
}

/**
 * Runs a row-sparse update on `home`'s memory (`addresses` from `updateAddresses`) split across the thread
 * pool's threads, by rows, when that memory is the pool's and the update is large
 * (`wasmThresholds.threadRowValues`); returns false (nothing done) otherwise. The rows are a coalesced
 * gradient's, so distinct. At batch 256 the NER step's embedding update (1,240 rows of 50 scattered over a
 * 20,000-row table) took 143–160 µs on one thread, against 35 µs for the same rows already in cache: it waits
 * on cache misses, which two cores wait out side by side.
 */
function splitRows(
  home: Kernels,
  size: number,
  call: DenseCall,
  addresses: readonly number[],
  rows: Int32Array,
  rowSize: number,
): boolean {
  const pool = poolOf(home);
  if (!pool?.splits(rows.length * rowSize, wasmThresholds.threadRowValues)) return false;
  const kernel: RowUpdateKernel = `${call.kernel}Rows${size === 4 ? "F32" : "F64"}`;
  pool.updateRows(kernel, addresses, rows.byteOffset, rows.length, rowSize, call.scalars);
  return true;
}

/**
 * An update whose parameter and state live in the thread pool's shared memory (an eager optimiser's resident
 * parameter, see resident.ts) and whose gradient (and row list) do not: the gradient is copied into the pool's
 * per-call area and the update runs on the parameter in place (split across the threads when large), so the
 * parameter itself is neither copied in nor out. A row-sparse one runs on the used rows of the table where it is.
 */
function runOverResident(
  home: Kernels,
  size: 4 | 8,
  spans: OptimizerSpans,
  n: number,
  dense: DenseCall,
  rowsKernel: RowsKernel,
): boolean {
  const { param, grad, rows, rowSize, state } = spans;
  const pool = poolOf(home)!;
  // The pool's per-call area, above its regions (not the instance's own `base`).
  const gradAt = pool.base;
  const rowsAt = gradAt + align16(n * size);
  const end = rowsAt + (rows === null ? 0 : align16(rows.length * 4));
  if (!pool.reserve(end, wasmThresholds.maxBytes)) return false;
  // Reserving may grow the memory; it renews `home`'s views.
  (size === 4 ? home.f32 : home.f64).set(n === grad.length ? grad : grad.subarray(0, n), gradAt / size);
  const stateAt = state.map((s) => s.byteOffset);
  const addresses = updateAddresses(dense, param.byteOffset, gradAt, stateAt);
  if (rows === null) {
    // An eager step's products may not have split, leaving the workers asleep.
    runDense(home, size, dense, addresses, n, false);
    return true;
  }
  home.i32.set(rows, rowsAt / 4);
  const residentRows = home.i32.subarray(rowsAt / 4, rowsAt / 4 + rows.length);
  if (!splitRows(home, size, dense, addresses, residentRows, rowSize)) {
    rowsKernel(
      kernelsFor(home.exports, size),
      param.byteOffset,
      gradAt,
      stateAt,
      rowsAt,
      rows.length,
      rowSize,
    );
  }
  return true;
}

/** A row-sparse update's kernel call, on byte addresses. */
type RowsKernel = (
  kernels: OptimizerKernels,
  param: number,
  grad: number,
  state: number[],
  rows: number,
  rowCount: number,
  rowSize: number,
) => void;

/**
 * Runs an update on the kernels. In place where its arrays (and rows) all live in one kernel instance's memory
 * (a compiled step's): the dense kernel on the whole parameter, the rows kernel on the rows of a row-sparse
 * gradient. Where the parameter and its state live in the thread pool's shared memory (an eager optimiser's
 * resident parameter) and the gradient does not, only the gradient is copied in (`runOverResident`). Otherwise a
 * dense update is copied into WebAssembly memory, run there and copied back. Returns false (nothing touched) when
 * the arrays are not all of one float type, the update is below the size threshold, memory cannot grow, or it is
 * a row-sparse update outside WebAssembly memory; the caller then runs its JavaScript loop. (Gathering the used rows of the parameter and state into WebAssembly memory and back
 * made a row-sparse update 25–40 % slower than the loop: 150 rows of 50 float32, SGD 35 against 26 µs, Adam
 * 140 against 110 µs.)
 */
function runCopied(spans: OptimizerSpans, dense: DenseCall, rowsKernel: RowsKernel): boolean {
  const { param, grad, rows, rowSize, state } = spans;
  const size = param instanceof Float32Array ? 4 : 8;
  const type = size === 4 ? Float32Array : Float64Array;
  if (!(grad instanceof type) || state.some((s) => !(s instanceof type) || s.length !== param.length)) {
    return false;
  }
  const n = rows === null ? param.length : rows.length * rowSize;
  if (n < wasmThresholds.elementwise || grad.length < n) return false;
  const home = commonKernels(rows === null ? [param, grad, ...state] : [param, grad, rows, ...state]);
  if (home !== null) {
    const kernels = kernelsFor(home.exports, size);
    const stateAt = state.map((s) => s.byteOffset);
    const addresses = updateAddresses(dense, param.byteOffset, grad.byteOffset, stateAt);
    if (rows === null) runDense(home, size, dense, addresses, n);
    else if (!splitRows(home, size, dense, addresses, rows, rowSize))
      rowsKernel(kernels, param.byteOffset, grad.byteOffset, stateAt, rows.byteOffset, rows.length, rowSize);
    return true;
  }
  const resident = commonKernels([param, ...state]);
  if (resident !== null && poolOf(resident) !== null) {
    return runOverResident(resident, size, spans, n, dense, rowsKernel);
  }
  if (rows !== null) return false;
  const kernels = requireKernels();
  const bytes = align16(n * size);
  const paramAt = kernels.base;
  const gradAt = paramAt + bytes;
  const stateAt = state.map((_, i) => gradAt + bytes * (i + 1));
  if (!kernels.reserve(gradAt + bytes * (state.length + 1))) return false;
  const view = size === 4 ? kernels.f32 : kernels.f64;
  const paramIndex = paramAt / size;
  const stateIndex = stateAt.map((at) => at / size);
  view.set(n === grad.length ? grad : grad.subarray(0, n), gradAt / size);
  view.set(param, paramIndex);
  state.forEach((s, i) => view.set(s, stateIndex[i]!));
  runDense(kernels, size, dense, updateAddresses(dense, paramAt, gradAt, stateAt), n);
  param.set(view.subarray(paramIndex, paramIndex + n));
  state.forEach((s, i) => s.set(view.subarray(stateIndex[i]!, stateIndex[i]! + n)));
  return true;
}

/** SGD on typed arrays through the kernels (state: the momentum buffer when momentum ≠ 0, else none). */
export function wasmSgd(spans: OptimizerSpans, s: SgdSettings): boolean {
  const flags = (s.nesterov ? SGD_NESTEROV : 0) | (s.first ? SGD_FIRST : 0);
  if ((s.momentum === 0) !== (spans.state.length === 0)) return false;
  return runCopied(
    spans,
    { kernel: "sgd", states: 1, scalars: [s.lr, s.weightDecay, s.momentum, s.keep, flags] },
    (k, param, grad, [buffer], rows, count, size) =>
      k.sgdRows(param, grad, buffer ?? 0, rows, count, size, s.lr, s.weightDecay, s.momentum, s.keep, flags),
  );
}

/** Adam / AdamW on typed arrays through the kernels (state: expAvg, expAvgSq). */
export function wasmAdam(spans: OptimizerSpans, s: AdamSettings): boolean {
  if (spans.state.length !== 2) return false;
  return runCopied(
    spans,
    {
      kernel: "adam",
      states: 2,
      scalars: [s.beta1, s.beta2, s.stepSize, s.correction2, s.eps, s.l2, s.shrink],
    },
    (k, param, grad, [m, v], rows, count, size) =>
      k.adamRows(
        param,
        grad,
        m!,
        v!,
        rows,
        count,
        size,
        s.beta1,
        s.beta2,
        s.stepSize,
        s.correction2,
        s.eps,
        s.l2,
        s.shrink,
      ),
  );
}

/** AdaGrad on typed arrays through the kernels (state: sum). */
export function wasmAdaGrad(spans: OptimizerSpans, s: AdaGradSettings): boolean {
  if (spans.state.length !== 1) return false;
  return runCopied(
    spans,
    { kernel: "adagrad", states: 1, scalars: [s.rate, s.weightDecay, s.eps] },
    (k, param, grad, [sum], rows, count, size) =>
      k.adagradRows(param, grad, sum!, rows, count, size, s.rate, s.weightDecay, s.eps),
  );
}
