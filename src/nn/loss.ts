/**
 * Loss modules. Each wraps one of the core's fused, numerically stable loss functions (re-exported here as
 * the function forms) with its options fixed at construction, so a model's loss can be a module like its
 * layers.
 */
import type { Tensor, NestedArray } from "../tensor/tensor.js";
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  mseLoss,
  type BinaryCrossEntropyOptions,
  type CrossEntropyOptions,
  type Reduction,
} from "../ops/index.js";
import { ValueError } from "../errors.js";
import { Module } from "./module.js";

function checkReduction(reduction: unknown, where: string): void {
  if (reduction !== undefined && reduction !== "mean" && reduction !== "sum" && reduction !== "none") {
    throw new ValueError(
      `${where}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`,
    );
  }
}

export { binaryCrossEntropyWithLogits, crossEntropy, mseLoss };
export type { BinaryCrossEntropyOptions, CrossEntropyOptions, Reduction };

/**
 * Softmax cross-entropy of logits [N, C] against integer class targets [N]: the loss of the softmax window
 * classifier. Options: per-class `weight`, `ignoreIndex` (default −100), `reduction` (mean, sum, none).
 */
export class CrossEntropyLoss extends Module<[Tensor, Tensor | readonly number[] | Int32Array], Tensor> {
  /** The options fixed at construction. */
  readonly options: Readonly<CrossEntropyOptions>;

  constructor(options: CrossEntropyOptions = {}) {
    super();
    checkReduction(options.reduction, this.constructor.name);
    this.options = { ...options };
  }

  /** The loss of `logits` [N, C] against `targets` [N] (see `crossEntropy`). */
  forward(logits: Tensor, targets: Tensor | readonly number[] | Int32Array): Tensor {
    return crossEntropy(logits, targets, this.options);
  }

  protected override describe(): string {
    return this.options.reduction ? `reduction: ${this.options.reduction}` : "";
  }
}

/**
 * Binary cross-entropy of σ(logits) against targets in [0, 1], from the logits: the log loss of the
 * lecture's binary classifier J = σ(s). Options: `reduction`, `posWeight`.
 */
export class BinaryCrossEntropyWithLogitsLoss extends Module<[Tensor, Tensor | NestedArray], Tensor> {
  /** The options fixed at construction. */
  readonly options: Readonly<BinaryCrossEntropyOptions>;

  constructor(options: BinaryCrossEntropyOptions = {}) {
    super();
    checkReduction(options.reduction, this.constructor.name);
    this.options = { ...options };
  }

  /** The loss of `logits` against `targets` of the same shape, in [0, 1] (see `binaryCrossEntropyWithLogits`). */
  forward(logits: Tensor, targets: Tensor | NestedArray): Tensor {
    return binaryCrossEntropyWithLogits(logits, targets, this.options);
  }

  protected override describe(): string {
    return this.options.reduction ? `reduction: ${this.options.reduction}` : "";
  }
}

/** Mean squared error between a prediction and a target of the same shape. Option: `reduction`. */
export class MSELoss extends Module<[Tensor, Tensor | NestedArray], Tensor> {
  /** The options fixed at construction. */
  readonly options: Readonly<{
    /** "mean" (default), "sum" or "none". */
    reduction?: Reduction;
  }>;

  constructor(options: { reduction?: Reduction } = {}) {
    super();
    checkReduction(options.reduction, this.constructor.name);
    this.options = { ...options };
  }

  /** mean((prediction − target)²), or the sum or each term by `reduction`. */
  forward(prediction: Tensor, target: Tensor | NestedArray): Tensor {
    return mseLoss(prediction, target, this.options);
  }

  protected override describe(): string {
    return this.options.reduction ? `reduction: ${this.options.reduction}` : "";
  }
}
