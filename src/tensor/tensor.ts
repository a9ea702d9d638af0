import { DTypeError, GraphError, ShapeError, ValueError } from "../errors.js";
import type { DType, TypedArray } from "./dtype.js";
import { allocate, allocateUninitialized, isFloatDType } from "./dtype.js";
import type { Shape } from "./shape.js";
import { checkIndexRange, shapeToString, shapesEqual } from "./shape.js";
import { formatValues } from "./format.js";
import { getBackend } from "../backend/index.js";

/**
 * A number, or an array of nested arrays: the plain-JavaScript form of a tensor's values (`[[1, 2], [3, 4]]`).
 */
export type NestedArray = number | NestedArray[];
/** One axis, or several, of a tensor; negative numbers count from the last axis (−1 is the last). */
export type Axis = number | readonly number[];

/** Options of `t.backward(seed, options)`. */
export interface BackwardOptions {
  /** Keep the graph's saved values, so that backward can run through it again (default: `createGraph`). */
  retainGraph?: boolean;
  /** Record the backward pass itself, so that the gradients can be differentiated again. */
  createGraph?: boolean;
}

/** A handle returned by `registerHook`; `remove()` detaches the hook. */
export interface HookHandle {
  /** Detaches the hook; calling it again does nothing. */
  remove(): void;
}

/**
 * The graph node that produced a tensor. The tensor layer knows nothing of graphs: the graph layer
 * (graph/node.ts) completes this interface with the members of its `Node` by declaration merging.
 */
export interface GraphNode {
  /** The name of the op that produced the tensor, or "leaf". */
  readonly op: string;
}

/** A forward-mode tangent of a tensor at one `jvp` level; a tensor's tangents form a linked list. */
export interface Tangent {
  /** The `jvp` nesting level this tangent belongs to. */
  readonly level: number;
  /** The tangent itself (a tensor of the primal's shape). */
  readonly value: Tensor;
  /** The tangent of the next outer level, or null. */
  readonly next: Tangent | null;
}

/**
 * An n-dimensional array of float32, float64 or int32 values in a plain row-major typed array, optionally
 * recording the operations applied to it so that gradients can flow back to it.
 *
 * This file holds the data and the gradient storage. The op methods (`t.add(u)`, `t.matmul(w)`, …),
 * `backward` and `registerHook` sit in the layers above and are attached to this class by
 * `installTensorMethods()` (autograd/tensor-methods.ts), which every entry point calls.
 *
 * Memory is garbage-collected: there is nothing to dispose. Treat `data` as read-only unless you own the
 * tensor (mutating a tensor that a graph saved makes later gradients wrong).
 */
export class Tensor {
  /** @internal */
  _data: TypedArray;
  /** The size of each dimension (`[]` for a scalar, `[n]` for a vector, `[m, n]` for a matrix). */
  readonly shape: Shape;
  /** The element type: `"float32"` (the default), `"float64"` or `"int32"`. */
  readonly dtype: DType;
  /** The number of values (the product of `shape`; 1 for a scalar). */
  readonly size: number;
  /** @internal The op node that produced this tensor, or null for a leaf. */
  _node: GraphNode | null = null;
  /** @internal The accumulation node of a leaf that requires grad (created on first use). */
  _leafNode: GraphNode | null = null;
  /** @internal */
  _requiresGrad = false;
  /** @internal */
  _grad: Tensor | null = null;
  /** @internal A row-sparse gradient (from a sparse `gather`, e.g. an embedding lookup) not yet densified. */
  _sparseGrad: RowSparse | null = null;
  /** @internal Forward-mode tangents, one per open `jvp` level (see autograd/forward.ts). */
  _tangents: Tangent | null = null;
  /** A name shown in traces and graph pictures. */
  name: string | undefined = undefined;

  /** @internal Use `tensor()` or the creation functions; this trusts its arguments. */
  constructor(data: TypedArray, shape: Shape, dtype: DType) {
    this._data = data;
    this.shape = shape;
    this.dtype = dtype;
    this.size = data.length;
  }

  /** The values as a flat row-major typed array (the tensor's own storage, not a copy). */
  get data(): TypedArray {
    return this._data;
  }

  /** The number of dimensions (`shape.length`). */
  get ndim(): number {
    return this.shape.length;
  }

  /** True if gradients flow to this tensor: a leaf created with `requiresGrad`, or a result of such tensors. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  /**
   * Switches gradient tracking of a leaf on or off. Throws a `DTypeError` for an int32 tensor, and a
   * `GraphError` when switching it off on a computed tensor (use `detach()`).
   */
  set requiresGrad(value: boolean) {
    if (this._node !== null) {
      if (!value) {
        throw new GraphError(
          "requiresGrad: cannot switch off requiresGrad of a tensor computed from others; use detach() instead",
        );
      }
      return;
    }
    if (value && !isFloatDType(this.dtype)) {
      throw new DTypeError(
        `requiresGrad: only float32 and float64 tensors can require grad, not ${this.dtype}`,
      );
    }
    this._requiresGrad = value;
  }

  /** True for tensors not computed by a recorded op (user-created tensors and parameters). */
  get isLeaf(): boolean {
    return this._node === null;
  }

  /**
   * The gradient accumulated by backward (leaf tensors only). Gradients add up across backward calls until
   * reset with `t.grad = null` or `zeroGrad(...)`. A row-sparse gradient is turned dense when read here;
   * optimisers read `sparseGrad` instead to update only the rows used.
   */
  get grad(): Tensor | null {
    this._densifyGrad();
    return this._grad;
  }

  /**
   * Replaces the accumulated gradient; `null` resets it. Throws a `ShapeError` or `DTypeError` when the
   * new gradient's shape or dtype differs from the tensor's.
   */
  set grad(value: Tensor | null) {
    if (value !== null) {
      if (!(value instanceof Tensor)) throw new ValueError("grad: expected a Tensor or null");
      checkSameShapeAndDType("grad", this, value);
    }
    this._grad = value;
    this._sparseGrad = null;
  }

  /** @internal Folds a row-sparse gradient waiting in `sparseGrad` into the dense `grad`. */
  _densifyGrad(): void {
    if (this._sparseGrad === null) return;
    const dense = this._sparseGrad.toDense();
    this._grad = this._grad === null ? dense : addDense(this._grad, dense);
    this._sparseGrad = null;
  }

  /** The row-sparse gradient, when backward produced one and `.grad` has not been read since. */
  get sparseGrad(): RowSparse | null {
    return this._sparseGrad;
  }

  /** @internal */
  set sparseGrad(value: RowSparse | null) {
    this._sparseGrad = value;
  }

  /** The op that produced this tensor (its `gradFn`), or undefined for a leaf. */
  get gradFn(): string | undefined {
    return this._node?.op;
  }

  /** A tensor sharing this one's values but cut from the graph (it never requires grad). */
  detach(): Tensor {
    return new Tensor(this._data, this.shape, this.dtype);
  }

  /** Nested arrays of the values (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const data = this._data;
    const shape = this.shape;
    if (shape.length === 0) return data[0]!;
    const build = (offset: number, dim: number): NestedArray[] => {
      const n = shape[dim]!;
      const out = new Array<NestedArray>(n);
      if (dim === shape.length - 1) {
        for (let i = 0; i < n; i++) out[i] = data[offset + i]!;
        return out;
      }
      let stride = 1;
      for (let d = dim + 1; d < shape.length; d++) stride *= shape[d]!;
      for (let i = 0; i < n; i++) out[i] = build(offset + i * stride, dim + 1);
      return out;
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new ValueError(
        `item: only a tensor with one element has an item; this one has shape ${shapeToString(this.shape)}`,
      );
    }
    return this._data[0]!;
  }

  /** A readable rendering such as `tensor([1, 2, 3], requiresGrad=true)`, long tensors abbreviated. */
  toString(): string {
    const extras: string[] = [];
    if (this.dtype !== "float32") extras.push(`dtype=${this.dtype}`);
    if (this._node) extras.push(`gradFn=${this._node.op}`);
    else if (this._requiresGrad) extras.push("requiresGrad=true");
    const values = formatValues(this._data, this.shape, this.dtype, "tensor(".length);
    const shapeNote = this.size === 0 ? `, shape=${shapeToString(this.shape)}` : "";
    return `tensor(${values}${shapeNote}${extras.length ? ", " + extras.join(", ") : ""})`;
  }

  /** How Node's `console.log` and `util.inspect` show the tensor: as `toString()`. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** Throws unless `b` has the shape and dtype of `a` (the message names `op`). */
export function checkSameShapeAndDType(op: string, a: Tensor, b: Tensor): void {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new ShapeError(`${op}: expected shape ${shapeToString(a.shape)}, got ${shapeToString(b.shape)}`);
  }
  if (a.dtype !== b.dtype) throw new DTypeError(`${op}: expected dtype ${a.dtype}, got ${b.dtype}`);
}

/** a + b for two gradients of one shape and dtype, straight on the kernel (gradient bookkeeping records nothing). */
function addDense(a: Tensor, b: Tensor): Tensor {
  const out = new Tensor(allocate(a.dtype, a.size), a.shape, a.dtype);
  getBackend().binary("add", a._data, a.shape, b._data, b.shape, out._data, a.shape);
  return out;
}

/**
 * The distinct values of `indices`, ascending, into `unique`, and each position's place among them into `slot`
 * (both at least `indices.length` long); returns how many are distinct. Summing row i of a row-sparse gradient
 * into row slot[i], in position order, coalesces it (see {@link RowSparse.coalesce}).
 *
 * `mark`, an Int32Array of −1s with one entry per row of the table (a caller that coalesces often keeps one),
 * makes it faster — the rows ranked in a table of bits, or, when they are spread thinly over the table, found by
 * marking them and only the distinct ones sorted — and is left all −1 again. An index outside [0, mark.length)
 * takes the sort instead.
 */
export function coalesceRows(
  indices: Int32Array,
  unique: Int32Array,
  slot: Int32Array,
  mark?: Int32Array,
): number {
  if (mark !== undefined) {
    const count = coalesceMarked(indices, unique, slot, mark);
    if (count >= 0) return count;
  }
  const n = indices.length;
  // A native numeric sort of a copy, then each position's slot by binary search.
  const sorted = unique.subarray(0, n);
  sorted.set(indices);
  sorted.sort();
  let count = 0;
  for (let k = 0; k < n; k++) {
    const row = sorted[k]!;
    if (count === 0 || unique[count - 1] !== row) unique[count++] = row;
  }
  for (let i = 0; i < n; i++) {
    const row = indices[i]!;
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (unique[middle]! < row) low = middle + 1;
      else high = middle;
    }
    slot[i] = low;
  }
  return count;
}

/** Tables of up to this many rows are coalesced with a table of marks kept between calls (4 bytes a row). */
const MARKED_ROWS = 1 << 22;

/** The marks kept for `RowSparse.coalesce` (all −1 between calls), grown as larger tables come. */
let sharedMarks = new Int32Array(0);

/** −1 marks for a table of `rows` rows (a view of the kept ones), or undefined for a larger table. */
function marksFor(rows: number): Int32Array | undefined {
  if (!(rows <= MARKED_ROWS)) return undefined;
  if (sharedMarks.length < rows) {
    sharedMarks = new Int32Array(Math.min(MARKED_ROWS, Math.max(rows, 2 * sharedMarks.length))).fill(-1);
  }
  return sharedMarks.subarray(0, rows);
}

/** Bits and per-word counts kept for `coalesceByBits` (the bits all 0 between calls), grown as wider spans come. */
let sharedBits = new Uint32Array(0);
let sharedRanks = new Int32Array(0);

/** The number of bits set in a 32-bit word. */
function bitCount(word: number): number {
  let x = word - ((word >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * coalesceRows for indices all within [low, high], a span of at most 8 words of 32 bits per index: each row sets
 * its bit, a pass over the words counts the rows before each word, and each position's slot is its row's rank
 * (the rows before its word plus the bits below it in the word), where the row itself goes in `unique`. No loop
 * over a word's bits, whose trip counts the processor cannot predict, and a few kilobytes touched: for the NER
 * step's 1,280 ids of a batch of 256 (a 20,000-row table), 21 µs with the table of marks and a sort of the
 * distinct rows, 13 µs reading each word's rows back bit by bit, 7 µs like this (in isolation).
 */
function coalesceByBits(
  indices: Int32Array,
  unique: Int32Array,
  slot: Int32Array,
  low: number,
  high: number,
): number {
  const n = indices.length;
  const words = ((high - low) >>> 5) + 1;
  if (sharedBits.length < words) {
    sharedBits = new Uint32Array(Math.max(words, 2 * sharedBits.length));
    sharedRanks = new Int32Array(sharedBits.length);
  }
  const bits = sharedBits;
  const ranks = sharedRanks;
  for (let i = 0; i < n; i++) {
    const r = indices[i]! - low;
    bits[r >>> 5] = bits[r >>> 5]! | (1 << (r & 31));
  }
  let count = 0;
  for (let w = 0; w < words; w++) {
    ranks[w] = count;
    count += bitCount(bits[w]!);
  }
  for (let i = 0; i < n; i++) {
    const row = indices[i]!;
    const r = row - low;
    const w = r >>> 5;
    const rank = ranks[w]! + bitCount(bits[w]! & ~(-1 << (r & 31)));
    slot[i] = rank;
    unique[rank] = row;
  }
  bits.fill(0, 0, words);
  return count;
}

/**
 * coalesceRows with a table of marks; −1 (nothing touched) for an index outside it. Indices within a span of at
 * most 8 words of bits per index take `coalesceByBits`; sparser ones are found by marking them, and only the
 * distinct rows sorted.
 */
function coalesceMarked(indices: Int32Array, unique: Int32Array, slot: Int32Array, mark: Int32Array): number {
  const n = indices.length;
  const rows = mark.length;
  let low = rows;
  let high = -1;
  for (let i = 0; i < n; i++) {
    const row = indices[i]!;
    if (!(row >= 0 && row < rows)) return -1;
    if (row < low) low = row;
    if (row > high) high = row;
  }
  if (n === 0) return 0;
  if (((high - low) >>> 5) + 1 <= 8 * n) return coalesceByBits(indices, unique, slot, low, high);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const row = indices[i]!;
    if (mark[row] === -1) {
      mark[row] = count;
      unique[count++] = row;
    }
  }
  unique.subarray(0, count).sort();
  for (let k = 0; k < count; k++) mark[unique[k]!] = k;
  for (let i = 0; i < n; i++) slot[i] = mark[indices[i]!]!;
  for (let k = 0; k < count; k++) mark[unique[k]!] = -1;
  return count;
}

/**
 * A row-sparse gradient: only the rows `indices` of a tensor of shape `shape` are non-zero, with values
 * `values` (shape `[indices.length, ...shape.slice(1)]`). An embedding lookup produces one, so that its
 * gradient and update cost scale with the rows a batch used rather than with the vocabulary.
 * Indices may repeat until `coalesce()` sums them.
 *
 * Gradient bookkeeping, not a differentiable value: its methods call the kernels directly and record nothing.
 */
export class RowSparse {
  /** The shape of the dense tensor this gradient stands for. */
  readonly shape: readonly number[];
  /** The row of the dense tensor each row of `values` belongs to (rows may repeat). */
  readonly indices: Int32Array;
  /** The rows' values: shape `[indices.length, ...shape.slice(1)]`. */
  readonly values: Tensor;

  /**
   * Whether the indices are distinct and ascending, with duplicates already summed: `coalesce()`'s result,
   * which `coalesce()` returns as it is.
   */
  readonly coalesced: boolean;

  /**
   * Throws a `ShapeError` when `values` does not have one row per index and the rank of `shape`. Pass
   * `coalesced` only for indices that are distinct and ascending, with values summed as `coalesce()` sums them.
   */
  constructor(shape: readonly number[], indices: Int32Array, values: Tensor, coalesced = false) {
    if (values.shape[0] !== indices.length || values.ndim !== shape.length) {
      throw new ShapeError(
        `RowSparse: values of shape ${shapeToString(values.shape)} do not fit ${indices.length} rows of ${shapeToString(shape)}`,
      );
    }
    this.shape = shape;
    this.indices = indices;
    this.values = values;
    this.coalesced = coalesced;
  }

  /** The dtype of the values. */
  get dtype(): DType {
    return this.values.dtype;
  }

  /** Number of values in one row. */
  get rowSize(): number {
    let size = 1;
    for (let d = 1; d < this.shape.length; d++) size *= this.shape[d]!;
    return size;
  }

  /**
   * The same gradient with each row index once (duplicates summed, in the order they appear), indices
   * ascending.
   */
  coalesce(): RowSparse {
    if (this.coalesced) return this;
    const n = this.indices.length;
    const unique = new Int32Array(n);
    const slot = new Int32Array(n);
    const count = coalesceRows(this.indices, unique, slot, marksFor(this.shape[0]!));
    const values = this.scatterRows(slot, count, "coalesce");
    return new RowSparse(this.shape, unique.slice(0, count), values, true);
  }

  /**
   * `coalesce()` into the caller's buffers, allocating nothing (a compiled step's, reused every call): `unique`
   * and `slot` of at least `indices.length` values, `values` of at least as many as this gradient holds, and
   * optionally `mark`, a table of −1s with one entry per row (see `coalesceRows`; without it, the table
   * `coalesce()` keeps). The result's indices and values are views of `unique` and `values`.
   */
  coalesceInto(unique: Int32Array, slot: Int32Array, values: TypedArray, mark?: Int32Array): RowSparse {
    const count = coalesceRows(this.indices, unique, slot, mark ?? marksFor(this.shape[0]!));
    const summed = values.subarray(0, count * this.rowSize);
    const slots = slot.subarray(0, this.indices.length);
    const rows = this.scatterRows(slots, count, "coalesceInto", summed);
    return new RowSparse(this.shape, unique.subarray(0, count), rows, true);
  }

  /** The dense tensor this gradient stands for. */
  toDense(): Tensor {
    return this.scatterRows(this.indices, this.shape[0]!, "toDense");
  }

  /** Concatenates two row-sparse gradients of the same tensor (no summing). */
  concat(other: RowSparse): RowSparse {
    if (!shapesEqual(this.shape, other.shape) || this.dtype !== other.dtype) {
      throw new ShapeError(
        `RowSparse.concat: cannot join a gradient of ${shapeToString(other.shape)} (${other.dtype}) to one of ` +
          `${shapeToString(this.shape)} (${this.dtype})`,
      );
    }
    const indices = new Int32Array(this.indices.length + other.indices.length);
    indices.set(this.indices);
    indices.set(other.indices, this.indices.length);
    const data = allocate(this.dtype, this.values.size + other.values.size);
    data.set(this.values._data);
    data.set(other.values._data, this.values.size);
    const values = new Tensor(data, [indices.length, ...this.shape.slice(1)], this.dtype);
    return new RowSparse(this.shape, indices, values);
  }

  /** The same gradient multiplied by a number. */
  scale(factor: number): RowSparse {
    const values = this.values;
    const scalar = allocate(this.dtype, 1);
    scalar[0] = factor;
    const out = new Tensor(allocate(this.dtype, values.size), values.shape, this.dtype);
    getBackend().binary("mul", values._data, values.shape, scalar, [], out._data, values.shape);
    return new RowSparse(this.shape, this.indices, out);
  }

  /** Sums row i of `values` into row `rows[i]` of a tensor of `count` zero rows: a new array, or `data`. */
  private scatterRows(rows: Int32Array, count: number, method: string, data?: TypedArray): Tensor {
    checkIndexRange(rows, count, `RowSparse.${method}`, () => `axis 0 of ${shapeToString(this.shape)}`);
    const shape = [count, ...this.shape.slice(1)];
    // Zeroed and summed in one backend call (Backend.sumRows, which a compiled step's arena runs in place and the
    // wasm backend splits across its threads): into the given buffer (whatever it holds), or a new one.
    const out = data ?? allocateUninitialized(this.dtype, count * this.rowSize);
    getBackend().sumRows(this.values._data, this.rowSize, rows, count, out);
    return new Tensor(out, shape, this.dtype);
  }
}
