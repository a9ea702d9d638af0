/**
 * The Tensor class's methods: the ops (`t.add(u)`, `t.matmul(w)`, `t.T`, …), `backward` and `registerHook`.
 *
 * They sit here, above the ops and the engine they call, rather than in tensor/tensor.ts, so that the tensor
 * layer imports nothing above it. TypeScript sees them on `Tensor` through declaration merging (below);
 * `installTensorMethods()` puts them on `Tensor.prototype`. Every entry point of the package (index.ts, node.ts,
 * nn/index.ts, nn/node.ts, ner/index.ts, ner/node.ts, cli/main.ts) calls it, explicitly; calling it again does
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
const tensorMethods = {
  astype(this: Tensor, dtype: DType): Tensor {
    return ops.astype(this, dtype);
  },
  neg(this: Tensor): Tensor {
    return ops.neg(this);
  },
  exp(this: Tensor): Tensor {
    return ops.exp(this);
  },
  log(this: Tensor): Tensor {
    return ops.log(this);
  },
  sqrt(this: Tensor): Tensor {
    return ops.sqrt(this);
  },
  abs(this: Tensor): Tensor {
    return ops.abs(this);
  },
  sigmoid(this: Tensor): Tensor {
    return ops.sigmoid(this);
  },
  tanh(this: Tensor): Tensor {
    return ops.tanh(this);
  },
  relu(this: Tensor): Tensor {
    return ops.relu(this);
  },
  sin(this: Tensor): Tensor {
    return ops.sin(this);
  },
  cos(this: Tensor): Tensor {
    return ops.cos(this);
  },
  square(this: Tensor): Tensor {
    return ops.square(this);
  },
  sign(this: Tensor): Tensor {
    return ops.sign(this);
  },
  clamp(this: Tensor, min: number, max: number): Tensor {
    return ops.clamp(this, min, max);
  },
  add(this: Tensor, other: Tensor | number): Tensor {
    return ops.add(this, other);
  },
  sub(this: Tensor, other: Tensor | number): Tensor {
    return ops.sub(this, other);
  },
  mul(this: Tensor, other: Tensor | number): Tensor {
    return ops.mul(this, other);
  },
  div(this: Tensor, other: Tensor | number): Tensor {
    return ops.div(this, other);
  },
  pow(this: Tensor, other: Tensor | number): Tensor {
    return ops.pow(this, other);
  },
  maximum(this: Tensor, other: Tensor | number): Tensor {
    return ops.maximum(this, other);
  },
  minimum(this: Tensor, other: Tensor | number): Tensor {
    return ops.minimum(this, other);
  },
  greater(this: Tensor, other: Tensor | number): Tensor {
    return ops.greater(this, other);
  },
  greaterEqual(this: Tensor, other: Tensor | number): Tensor {
    return ops.greaterEqual(this, other);
  },
  less(this: Tensor, other: Tensor | number): Tensor {
    return ops.less(this, other);
  },
  lessEqual(this: Tensor, other: Tensor | number): Tensor {
    return ops.lessEqual(this, other);
  },
  equal(this: Tensor, other: Tensor | number): Tensor {
    return ops.equal(this, other);
  },
  sum(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.sum(this, axis, keepDims);
  },
  mean(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.mean(this, axis, keepDims);
  },
  max(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.max(this, axis, keepDims);
  },
  min(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.min(this, axis, keepDims);
  },
  logSumExp(this: Tensor, axis?: Axis | null, keepDims = false): Tensor {
    return ops.logSumExp(this, axis, keepDims);
  },
  argmax(this: Tensor, axis?: number, keepDims = false): Tensor {
    return ops.argmax(this, axis, keepDims);
  },
  matmul(this: Tensor, other: Tensor): Tensor {
    return ops.matmul(this, other);
  },
  transpose(this: Tensor, axes?: readonly number[]): Tensor {
    return ops.transpose(this, axes);
  },
  reshape(this: Tensor, shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  },
  flatten(this: Tensor): Tensor {
    return ops.reshape(this, [-1]);
  },
  squeeze(this: Tensor, axis?: Axis): Tensor {
    return ops.squeeze(this, axis);
  },
  unsqueeze(this: Tensor, axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  },
  broadcastTo(this: Tensor, shape: readonly number[]): Tensor {
    return ops.broadcastTo(this, shape);
  },
  concat(this: Tensor, others: readonly Tensor[], axis = 0): Tensor {
    return ops.concat([this, ...others], axis);
  },
  stack(this: Tensor, others: readonly Tensor[], axis = 0): Tensor {
    return ops.stack([this, ...others], axis);
  },
  slice(this: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
    return ops.slice(this, begin, size);
  },
  gather(this: Tensor, indices: Tensor | readonly number[] | Int32Array, axis = 0): Tensor {
    return ops.gather(this, indices, axis);
  },
  softmax(this: Tensor, axis = -1): Tensor {
    return ops.softmax(this, axis);
  },
  logSoftmax(this: Tensor, axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  },
  crossEntropy(this: Tensor, targets: Tensor | readonly number[] | Int32Array): Tensor {
    return ops.crossEntropy(this, targets);
  },
  binaryCrossEntropyWithLogits(this: Tensor, targets: Tensor | NestedArray): Tensor {
    return ops.binaryCrossEntropyWithLogits(this, targets);
  },
  mseLoss(this: Tensor, other: Tensor | NestedArray): Tensor {
    return ops.mseLoss(this, other);
  },
  inv(this: Tensor): Tensor {
    return ops.inv(this);
  },
  det(this: Tensor): Tensor {
    return ops.det(this);
  },
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

type TensorMethods = typeof tensorMethods;

declare module "../tensor/tensor.js" {
  interface Tensor extends TensorMethods {
    /** The transpose of a matrix (all axes reversed), as in `Wᵀ`. */
    readonly T: Tensor;
  }
}

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
