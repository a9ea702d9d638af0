/**
 * The Tensor class's methods: the ops (`t.add(u)`, `t.matmul(w)`, `t.T`, …), `backward` and `registerHook`.
 *
 * They sit here, above the ops and the engine they call, rather than in tensor/tensor.ts, so that the tensor
 * layer imports nothing above it. TypeScript sees them on `Tensor` through declaration merging (tensor-type.ts);
 * `installTensorMethods()` puts them on `Tensor.prototype`. Every entry point of the package (index.ts, node.ts,
 * nn/index.ts, nn/node.ts, ner/index.ts, ner/node.ts, cli/program.ts) calls it, explicitly; calling it again does
 * nothing.
 */
import { GraphError } from "../errors.js";
import type { DType, TypedArray } from "../tensor/dtype.js";
import {
  Tensor,
  type Axis,
  type BackwardOptions,
  type HookHandle,
  type NestedArray,
} from "../tensor/tensor.js";
import { leafNodeOf, type GradHook } from "../graph/node.js";
import * as ops from "../ops/index.js";
import { runBackward } from "./engine.js";

/** Each op method is the free function of the same name, with the tensor as its first argument. */
export const tensorMethods = {
  /** A copy converted to `dtype` (see `astype()`); differentiable between float32 and float64. */
  astype(this: Tensor, dtype: DType): Tensor {
    return ops.astype(this, dtype);
  },
  /** −x, elementwise (see `neg()`). Local Jacobian −I. */
  neg(this: Tensor): Tensor {
    return ops.neg(this);
  },
  /** eˣ, elementwise (see `exp()`). Local Jacobian diag(eˣ). Throws a `DTypeError` for int32. */
  exp(this: Tensor): Tensor {
    return ops.exp(this);
  },
  /** Natural logarithm, elementwise (see `log()`). Local Jacobian diag(1/x); NaN below 0. */
  log(this: Tensor): Tensor {
    return ops.log(this);
  },
  /** √x, elementwise (see `sqrt()`). Local Jacobian diag(1/(2√x)). */
  sqrt(this: Tensor): Tensor {
    return ops.sqrt(this);
  },
  /** |x|, elementwise (see `abs()`); the gradient at 0 is 0. */
  abs(this: Tensor): Tensor {
    return ops.abs(this);
  },
  /** σ(x) = 1 / (1 + e⁻ˣ), elementwise (see `sigmoid()`). Local Jacobian diag(σ(x)(1 − σ(x))). */
  sigmoid(this: Tensor): Tensor {
    return ops.sigmoid(this);
  },
  /** tanh(x), elementwise (see `tanh()`). Local Jacobian diag(1 − tanh²(x)). */
  tanh(this: Tensor): Tensor {
    return ops.tanh(this);
  },
  /** max(x, 0), elementwise (see `relu()`). Local Jacobian diag(1(x > 0)). */
  relu(this: Tensor): Tensor {
    return ops.relu(this);
  },
  /** sin(x), elementwise (see `sin()`). Local Jacobian diag(cos(x)). */
  sin(this: Tensor): Tensor {
    return ops.sin(this);
  },
  /** cos(x), elementwise (see `cos()`). Local Jacobian diag(−sin(x)). */
  cos(this: Tensor): Tensor {
    return ops.cos(this);
  },
  /** x², elementwise (see `square()`). Local Jacobian diag(2x). */
  square(this: Tensor): Tensor {
    return ops.square(this);
  },
  /** −1, 0 or 1 for each value (see `sign()`); piecewise constant, so never recorded. */
  sign(this: Tensor): Tensor {
    return ops.sign(this);
  },
  /** Each value limited to [min, max] (see `clamp()`); the gradient passes only where min ≤ x ≤ max. */
  clamp(this: Tensor, min: number, max: number): Tensor {
    return ops.clamp(this, min, max);
  },
  /**
   * This + other, with NumPy broadcasting (see `add()`). The `+` gate: the upstream gradient goes
   * unchanged to both inputs (summed back over broadcast axes).
   *
   * @throws {@link ShapeError} when the shapes do not broadcast; {@link DTypeError} when two tensors'
   * dtypes differ (a plain number takes this tensor's dtype).
   * @example
   * ```ts
   * tensor([1, 2]).add(tensor([[10], [20]])); // shape [2, 2]
   * ```
   */
  add(this: Tensor, other: Tensor | number): Tensor {
    return ops.add(this, other);
  },
  /** This − other, with NumPy broadcasting (see `sub()`); the second input gets −upstream. */
  sub(this: Tensor, other: Tensor | number): Tensor {
    return ops.sub(this, other);
  },
  /**
   * This · other elementwise, with NumPy broadcasting (see `mul()`). The `×` gate: each input
   * receives the upstream gradient times the other input ("switching").
   */
  mul(this: Tensor, other: Tensor | number): Tensor {
    return ops.mul(this, other);
  },
  /** This / other elementwise, with NumPy broadcasting (see `div()`); float tensors only. */
  div(this: Tensor, other: Tensor | number): Tensor {
    return ops.div(this, other);
  },
  /** This to the power `other`, elementwise, with broadcasting (see `pow()`); float tensors only. */
  pow(this: Tensor, other: Tensor | number): Tensor {
    return ops.pow(this, other);
  },
  /**
   * Elementwise maximum of this and `other` (see `maximum()`). The `max` gate: the gradient is
   * routed to the larger input (split evenly at a tie).
   */
  maximum(this: Tensor, other: Tensor | number): Tensor {
    return ops.maximum(this, other);
  },
  /** Elementwise minimum of this and `other` (see `minimum()`); ties split the gradient evenly. */
  minimum(this: Tensor, other: Tensor | number): Tensor {
    return ops.minimum(this, other);
  },
  /** 1 where this > other, else 0, in this tensor's dtype (see `greater()`); not differentiable. */
  greater(this: Tensor, other: Tensor | number): Tensor {
    return ops.greater(this, other);
  },
  /** 1 where this ≥ other, else 0 (see `greaterEqual()`); not differentiable. */
  greaterEqual(this: Tensor, other: Tensor | number): Tensor {
    return ops.greaterEqual(this, other);
  },
  /** 1 where this < other, else 0 (see `less()`); not differentiable. */
  less(this: Tensor, other: Tensor | number): Tensor {
    return ops.less(this, other);
  },
  /** 1 where this ≤ other, else 0 (see `lessEqual()`); not differentiable. */
  lessEqual(this: Tensor, other: Tensor | number): Tensor {
    return ops.lessEqual(this, other);
  },
  /** 1 where this = other, else 0 (see `equal()`); not differentiable. */
  equal(this: Tensor, other: Tensor | number): Tensor {
    return ops.equal(this, other);
  },
  /**
   * Sum over `axis` (every axis when omitted or null; negative axes count from the end), dropping
   * the reduced axes unless `keepDims` (see `sum()`). The gradient is the upstream one broadcast back.
   */
  sum(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.sum(this, axis, keepDims);
  },
  /** Mean over `axis` (every axis when omitted or null), as `sum()` divided by the count. */
  mean(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.mean(this, axis, keepDims);
  },
  /** Maximum over `axis` (every axis when omitted); the gradient goes to the maxima, split at ties. */
  max(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.max(this, axis, keepDims);
  },
  /** Minimum over `axis` (every axis when omitted); the gradient goes to the minima, split at ties. */
  min(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.min(this, axis, keepDims);
  },
  /** log Σ exp(x) over `axis`, computed stably (see `logSumExp()`); its gradient is softmax(x). */
  logSumExp(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.logSumExp(this, axis, keepDims);
  },
  /** Index of the maximum along `axis` (of the flattened tensor when omitted), as an int32 tensor. */
  argmax(this: Tensor, axis?: number, keepDims = false): Tensor {
    return ops.argmax(this, axis, keepDims);
  },
  /**
   * Matrix product this · other over the last two axes, batch axes broadcast (see `matmul()`).
   * A 1-d operand is a vector. For `z = Wx`, the gradients are `∂L/∂W = δ xᵀ` and `∂L/∂x = Wᵀ δ`.
   *
   * @throws {@link ShapeError} when the inner dimensions differ.
   * @example
   * ```ts
   * const W = randn([3, 4]);
   * const x = randn([4]);
   * W.matmul(x); // shape [3]
   * ```
   */
  matmul(this: Tensor, other: Tensor): Tensor {
    return ops.matmul(this, other);
  },
  /** Axes permuted by `axes` (default: reversed, so a matrix becomes Wᵀ); see `transpose()`. */
  transpose(this: Tensor, axes?: readonly number[]): Tensor {
    return ops.transpose(this, axes);
  },
  /**
   * The same values in a new shape, row-major order kept; one dimension may be −1 (inferred).
   * Shares storage. Throws a `ShapeError` when the sizes differ (see `reshape()`).
   */
  reshape(this: Tensor, shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  },
  /** The values as a 1-d tensor (`reshape([-1])`). */
  flatten(this: Tensor): Tensor {
    return ops.reshape(this, [-1]);
  },
  /** Size-1 dimensions removed (all of them, or those in `axis`); see `squeeze()`. */
  squeeze(this: Tensor, axis?: Axis): Tensor {
    return ops.squeeze(this, axis);
  },
  /** A size-1 dimension inserted at `axis` (negative counts from the new rank); see `unsqueeze()`. */
  unsqueeze(this: Tensor, axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  },
  /** This tensor repeated along broadcast dimensions to fill `shape` (see `broadcastTo()`). */
  broadcastTo(this: Tensor, shape: readonly number[]): Tensor {
    return ops.broadcastTo(this, shape);
  },
  /** This tensor and `others` joined along an existing `axis` (default 0); see `concat()`. */
  concat(this: Tensor, others: readonly Tensor[], axis = 0): Tensor {
    return ops.concat([this, ...others], axis);
  },
  /** This tensor and `others` (all of one shape) joined along a new `axis` (default 0); see `stack()`. */
  stack(this: Tensor, others: readonly Tensor[], axis = 0): Tensor {
    return ops.stack([this, ...others], axis);
  },
  /**
   * The block starting at index `begin` with extent `size` per axis (−1 or omitted: to the end);
   * see `slice()`. Its gradient pads the upstream gradient back with zeros.
   */
  slice(this: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
    return ops.slice(this, begin, size);
  },
  /**
   * Rows (or entries along `axis`) picked by `indices`, as an embedding lookup does; see
   * `gather()`. Throws a `ValueError` for an index out of range.
   */
  gather(this: Tensor, indices: Tensor | readonly number[] | Int32Array, axis = 0): Tensor {
    return ops.gather(this, indices, axis);
  },
  /** softmax along `axis` (default: the last), computed stably; its Jacobian is diag(p) − ppᵀ. */
  softmax(this: Tensor, axis = -1): Tensor {
    return ops.softmax(this, axis);
  },
  /** log softmax along `axis` (default: the last), computed stably (see `logSoftmax()`). */
  logSoftmax(this: Tensor, axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  },
  /**
   * Mean cross-entropy of these logits (shape [n, c]) against integer class `targets` (n of them):
   * −log softmax(x)ᵢ,tᵢ averaged over rows. The gradient is softmax(x) − onehot(t). See `crossEntropy()`
   * for weights, an ignored index and other reductions.
   */
  crossEntropy(this: Tensor, targets: Tensor | readonly number[] | Int32Array): Tensor {
    return ops.crossEntropy(this, targets);
  },
  /**
   * Mean binary cross-entropy of these logits s against targets in [0, 1]:
   * the lecture's J = −log σ(s) for a positive window, computed stably. See `binaryCrossEntropyWithLogits()`.
   */
  binaryCrossEntropyWithLogits(this: Tensor, targets: Tensor | NestedArray): Tensor {
    return ops.binaryCrossEntropyWithLogits(this, targets);
  },
  /** Mean squared error mean((this − other)²) (see `mseLoss()`). */
  mseLoss(this: Tensor, other: Tensor | NestedArray): Tensor {
    return ops.mseLoss(this, other);
  },
  /** Matrix inverse over the last two axes (batched); throws on a singular matrix (see `inv()`). */
  inv(this: Tensor): Tensor {
    return ops.inv(this);
  },
  /** Determinant over the last two axes (batched); see `det()`. */
  det(this: Tensor): Tensor {
    return ops.det(this);
  },
  /** log |det X| over the last two axes (batched); its gradient is X⁻ᵀ (see `logdet()`). */
  logdet(this: Tensor): Tensor {
    return ops.logdet(this);
  },

  /**
   * Backpropagates from this tensor. A scalar (one-element) output is seeded with 1; any other output needs a
   * `seed` of its own shape (the upstream gradient ∂L/∂output).
   */
  backward(this: Tensor, seed?: Tensor | NestedArray | TypedArray, options: BackwardOptions = {}): void {
    runBackward(this, seed, options);
  },

  /** Registers `fn` to be called with the gradient flowing into this tensor during backward. */
  registerHook(this: Tensor, fn: GradHook): HookHandle {
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
  },
};

let installed = false;

/** Attaches the methods above (and the `T` getter) to `Tensor.prototype`, once. */
export function installTensorMethods(): void {
  if (installed) return;
  installed = true;
  for (const [name, method] of Object.entries(tensorMethods)) {
    // Non-enumerable, like methods written in a class body.
    Object.defineProperty(Tensor.prototype, name, { value: method, writable: true, configurable: true });
  }
  Object.defineProperty(Tensor.prototype, "T", {
    get(this: Tensor): Tensor {
      return ops.transpose(this);
    },
    configurable: true,
  });
}
