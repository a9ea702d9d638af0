import { DTypeError, GraphError, ValueError } from "../errors.js";
import type { DType, TypedArray } from "./dtype.js";
import { isFloatDType } from "./dtype.js";
import type { Shape } from "./shape.js";
import { shapeToString } from "./shape.js";
import { formatValues } from "./format.js";
import type { RowSparse } from "./sparse.js";
import { Node, type GradHook } from "../autograd/node.js";
import type { Tangent } from "../autograd/forward.js";
import * as ops from "../ops/index.js";
import { runBackward } from "../autograd/engine.js";

export type NestedArray = number | NestedArray[];
export type Axis = number | readonly number[];

export interface BackwardOptions {
  /** Keep the graph's saved values, so that backward can run through it again (default: `createGraph`). */
  retainGraph?: boolean;
  /** Record the backward pass itself, so that the gradients can be differentiated again. */
  createGraph?: boolean;
}

/** A handle returned by `registerHook`; `remove()` detaches the hook. */
export interface HookHandle {
  remove(): void;
}

/**
 * An n-dimensional array of float32, float64 or int32 values in a plain row-major typed array, optionally
 * recording the operations applied to it so that gradients can flow back to it.
 *
 * Memory is garbage-collected: there is nothing to dispose. Treat `data` as read-only unless you own the
 * tensor (mutating a tensor that a graph saved makes later gradients wrong).
 */
export class Tensor {
  /** @internal */
  _data: TypedArray;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
  /** @internal The op node that produced this tensor, or null for a leaf. */
  _node: Node | null = null;
  /** @internal The accumulation node of a leaf that requires grad (created on first use). */
  _leafNode: Node | null = null;
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

  get ndim(): number {
    return this.shape.length;
  }

  /** True if gradients flow to this tensor: a leaf created with `requiresGrad`, or a result of such tensors. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

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
    if (this._sparseGrad !== null) {
      const dense = this._sparseGrad.toDense();
      this._grad = this._grad === null ? dense : ops.noGradAdd(this._grad, dense);
      this._sparseGrad = null;
    }
    return this._grad;
  }

  set grad(value: Tensor | null) {
    if (value !== null) {
      if (!(value instanceof Tensor)) throw new ValueError("grad: expected a Tensor or null");
      ops.checkSameShapeAndDType("grad", this, value);
    }
    this._grad = value;
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

  /**
   * Backpropagates from this tensor. A scalar (one-element) output is seeded with 1; any other output needs a
   * `seed` of its own shape (the upstream gradient ∂L/∂output).
   */
  backward(seed?: Tensor | NestedArray | TypedArray, options: BackwardOptions = {}): void {
    runBackward(this, seed, options);
  }

  /** A tensor sharing this one's values but cut from the graph (it never requires grad). */
  detach(): Tensor {
    return new Tensor(this._data, this.shape, this.dtype);
  }

  /** Registers `fn` to be called with the gradient flowing into this tensor during backward. */
  registerHook(fn: GradHook): HookHandle {
    if (!this._requiresGrad) {
      throw new GraphError(
        "registerHook: the tensor does not require grad, so no gradient will flow into it",
      );
    }
    const node = this._node ?? leafNodeOf(this);
    (node.hooks ??= []).push(fn);
    return {
      remove: () => {
        const list = node.hooks;
        if (!list) return;
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      },
    };
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

  toString(): string {
    const extras: string[] = [];
    if (this.dtype !== "float32") extras.push(`dtype=${this.dtype}`);
    if (this._node) extras.push(`gradFn=${this._node.op}`);
    else if (this._requiresGrad) extras.push("requiresGrad=true");
    const values = formatValues(this._data, this.shape, this.dtype, "tensor(".length);
    const shapeNote = this.size === 0 ? `, shape=${shapeToString(this.shape)}` : "";
    return `tensor(${values}${shapeNote}${extras.length ? ", " + extras.join(", ") : ""})`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  // ---- ops as methods (each is also a free function of the same name) ----

  astype(dtype: DType): Tensor {
    return ops.astype(this, dtype);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  sin(): Tensor {
    return ops.sin(this);
  }
  cos(): Tensor {
    return ops.cos(this);
  }
  square(): Tensor {
    return ops.square(this);
  }
  sign(): Tensor {
    return ops.sign(this);
  }
  clamp(min: number, max: number): Tensor {
    return ops.clamp(this, min, max);
  }
  add(other: Tensor | number): Tensor {
    return ops.add(this, other);
  }
  sub(other: Tensor | number): Tensor {
    return ops.sub(this, other);
  }
  mul(other: Tensor | number): Tensor {
    return ops.mul(this, other);
  }
  div(other: Tensor | number): Tensor {
    return ops.div(this, other);
  }
  pow(other: Tensor | number): Tensor {
    return ops.pow(this, other);
  }
  maximum(other: Tensor | number): Tensor {
    return ops.maximum(this, other);
  }
  minimum(other: Tensor | number): Tensor {
    return ops.minimum(this, other);
  }
  greater(other: Tensor | number): Tensor {
    return ops.greater(this, other);
  }
  greaterEqual(other: Tensor | number): Tensor {
    return ops.greaterEqual(this, other);
  }
  less(other: Tensor | number): Tensor {
    return ops.less(this, other);
  }
  lessEqual(other: Tensor | number): Tensor {
    return ops.lessEqual(this, other);
  }
  equal(other: Tensor | number): Tensor {
    return ops.equal(this, other);
  }
  sum(axis?: Axis | null, keepDims = false): Tensor {
    return ops.sum(this, axis, keepDims);
  }
  mean(axis?: Axis | null, keepDims = false): Tensor {
    return ops.mean(this, axis, keepDims);
  }
  max(axis?: Axis | null, keepDims = false): Tensor {
    return ops.max(this, axis, keepDims);
  }
  min(axis?: Axis | null, keepDims = false): Tensor {
    return ops.min(this, axis, keepDims);
  }
  logSumExp(axis?: Axis | null, keepDims = false): Tensor {
    return ops.logSumExp(this, axis, keepDims);
  }
  argmax(axis?: number, keepDims = false): Tensor {
    return ops.argmax(this, axis, keepDims);
  }
  matmul(other: Tensor): Tensor {
    return ops.matmul(this, other);
  }
  transpose(axes?: readonly number[]): Tensor {
    return ops.transpose(this, axes);
  }
  /** The transpose of a matrix (all axes reversed), as in `Wᵀ`. */
  get T(): Tensor {
    return ops.transpose(this);
  }
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  flatten(): Tensor {
    return ops.reshape(this, [-1]);
  }
  squeeze(axis?: Axis): Tensor {
    return ops.squeeze(this, axis);
  }
  unsqueeze(axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  }
  broadcastTo(shape: readonly number[]): Tensor {
    return ops.broadcastTo(this, shape);
  }
  concat(others: readonly Tensor[], axis = 0): Tensor {
    return ops.concat([this, ...others], axis);
  }
  stack(others: readonly Tensor[], axis = 0): Tensor {
    return ops.stack([this, ...others], axis);
  }
  slice(begin: readonly number[], size?: readonly number[]): Tensor {
    return ops.slice(this, begin, size);
  }
  gather(indices: Tensor | readonly number[] | Int32Array, axis = 0): Tensor {
    return ops.gather(this, indices, axis);
  }
  softmax(axis = -1): Tensor {
    return ops.softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  }
  crossEntropy(targets: Tensor | readonly number[] | Int32Array): Tensor {
    return ops.crossEntropy(this, targets);
  }
  binaryCrossEntropyWithLogits(targets: Tensor | NestedArray): Tensor {
    return ops.binaryCrossEntropyWithLogits(this, targets);
  }
  mseLoss(other: Tensor | NestedArray): Tensor {
    return ops.mseLoss(this, other);
  }
  inv(): Tensor {
    return ops.inv(this);
  }
  det(): Tensor {
    return ops.det(this);
  }
  logdet(): Tensor {
    return ops.logdet(this);
  }
}

/** The accumulation node of a leaf tensor that requires grad, created on first use. */
export function leafNodeOf(t: Tensor): Node {
  let node = t._leafNode;
  if (node === null) {
    node = new Node("leaf", null, null, [], t);
    t._leafNode = node;
  }
  return node;
}

/** The node gradients of `t` flow into, or null when `t` does not require grad. */
export function gradNodeOf(t: Tensor): Node | null {
  if (!t._requiresGrad) return null;
  return t._node ?? leafNodeOf(t);
}
