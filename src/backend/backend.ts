import type { TypedArray } from "../tensor/dtype.js";

/**
 * The kernel interface: everything that touches a tensor's numbers goes through one of these calls, on plain
 * row-major typed arrays. `js/` is the reference implementation; a faster backend implements the same calls.
 * Kernels never allocate their outputs: the caller passes `out`, already sized (and zero-filled where noted).
 */

export type UnaryKernel =
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "abs"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "sin"
  | "cos"
  | "square"
  | "sign"
  | "reciprocal"
  | "copy";

export type BinaryKernel =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "greater"
  | "greaterEqual"
  | "less"
  | "lessEqual"
  | "equal";

export type ReduceKernel = "sum" | "max" | "min";

/** `out[batch] = op(a)[m×k] · op(b)[k×n]` for each batch; offsets give where each batch starts in a, b, out. */
export interface MatmulDesc {
  m: number;
  n: number;
  k: number;
  /** a is stored as [k×m] (read transposed). */
  transA: boolean;
  /** b is stored as [n×k] (read transposed). */
  transB: boolean;
  batch: number;
  aOffsets: ArrayLike<number>;
  bOffsets: ArrayLike<number>;
  outOffsets: ArrayLike<number>;
}

/** A view of an array as [outer, axis, inner] for kernels that work along one axis. */
export interface AxisView {
  outer: number;
  axis: number;
  inner: number;
}

/**
 * The kernels every op calls, over plain typed arrays in row-major order. `jsBackend` is the reference;
 * `wasmBackend` runs the same kernels in WebAssembly. A custom backend registered with `registerBackend`
 * must give the same results; kernels write into `out` (preallocated, of the output's size) and return
 * nothing.
 */
export interface Backend {
  /** The name `setBackend` selects it by ("js", "wasm", …). */
  readonly name: string;
  /** `out` = op(`x`), elementwise (`x` and `out` have one length). */
  unary(op: UnaryKernel, x: TypedArray, out: TypedArray): void;
  /** NumPy-broadcast binary op; `aShape`, `bShape` broadcast to `outShape`. */
  binary(
    op: BinaryKernel,
    a: TypedArray,
    aShape: readonly number[],
    b: TypedArray,
    bShape: readonly number[],
    out: TypedArray,
    outShape: readonly number[],
  ): void;
  /** Reduces the sorted, unique `axes` of `x` (shape `shape`) into `out`. */
  reduce(
    op: ReduceKernel,
    x: TypedArray,
    shape: readonly number[],
    axes: readonly number[],
    out: TypedArray,
  ): void;
  /** Expands `x` of shape `shape` (broadcastable) to `outShape`. */
  broadcastTo(x: TypedArray, shape: readonly number[], out: TypedArray, outShape: readonly number[]): void;
  /** `out` = op(a) · op(b) for each matrix of the (broadcast) batch; `desc` gives sizes and transpose flags. */
  matmul(a: TypedArray, b: TypedArray, out: TypedArray, desc: MatmulDesc): void;
  /** `out` = `x` (shape `shape`) with its axes permuted by `perm`. */
  transpose(x: TypedArray, shape: readonly number[], perm: readonly number[], out: TypedArray): void;
  /** Copies the block starting at `begin` with extent `size` out of `x`. */
  slice(
    x: TypedArray,
    shape: readonly number[],
    begin: readonly number[],
    size: readonly number[],
    out: TypedArray,
  ): void;
  /** Adds `x` (shape `size`) into the block of `out` (shape `outShape`) starting at `begin`. */
  sliceAdd(
    x: TypedArray,
    size: readonly number[],
    out: TypedArray,
    outShape: readonly number[],
    begin: readonly number[],
  ): void;
  /** Concatenates blocks: for each of `outer` rows, `parts[p]` contributes `blockSizes[p]` contiguous values. */
  concat(parts: readonly TypedArray[], outer: number, blockSizes: readonly number[], out: TypedArray): void;
  /** `out[o, j, i] = x[o, indices[j], i]`, x viewed as [outer, axis, inner]. */
  gather(x: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void;
  /** `out[o, indices[j], i] += values[o, j, i]`; repeated indices accumulate. */
  scatterAdd(values: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void;
  /**
   * The sums of rows by index: out (`rows` rows of `rowSize` values) zeroed, then `out[indices[k]] += values[k]`
   * for every k in order (a row-sparse gradient's coalesced sums). Every index must lie in [0, rows).
   */
  sumRows(values: TypedArray, rowSize: number, indices: Int32Array, rows: number, out: TypedArray): void;
  /** Softmax (or log-softmax) along the middle axis of `view`. */
  softmax(x: TypedArray, view: AxisView, out: TypedArray, log: boolean): void;
  /** log Σ exp along the middle axis; `out` has outer × inner entries. */
  logSumExp(x: TypedArray, view: AxisView, out: TypedArray): void;
  /** Converts between dtypes (floats to int32 truncate toward zero). */
  cast(x: TypedArray, out: TypedArray): void;
  /** Inverses of `batch` square n×n matrices; returns false if one is singular. */
  inverse(x: TypedArray, n: number, batch: number, out: TypedArray): boolean;
  /** Determinants of `batch` square n×n matrices (`out` has batch entries); with `logAbs`, log |det| instead. */
  determinant(x: TypedArray, n: number, batch: number, out: TypedArray, logAbs: boolean): void;
  /**
   * The gradient of tanh or σ from its output y and the upstream gradient g (all three arrays of one float type
   * and length): out = g · (1 − y²) for tanh, g · y(1 − y) for σ, rounded where the ops of the rule's local
   * derivative round (`mul(g, sub(1, square(y)))`, `mul(g, mul(y, sub(1, y)))`), so with their bits. `out` may
   * be `g` itself (each position is read before it is written). Optional: a backend without it has the rules run
   * those ops.
   */
  activationBackward?(kernel: ActivationKernel, y: TypedArray, g: TypedArray, out: TypedArray): void;
}

/** The activations whose gradient a backend can compute in one kernel (see `Backend.activationBackward`). */
export type ActivationKernel = "tanh" | "sigmoid";
