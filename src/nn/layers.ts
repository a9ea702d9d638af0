import { DTypeError, ShapeError, ValueError, quoteInput } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { allocate, type FloatDType } from "../tensor/dtype.js";
import { shapeToString } from "../tensor/shape.js";
import { globalRandom, type Random } from "../tensor/random.js";
import { add, clamp, gather, matmul, mul, relu, reshape, sigmoid, tanh } from "../ops/index.js";
import { Module } from "./module.js";
import { glorotUniform, normal, zeros, type InitOptions, type Initializer } from "./init.js";

function checkCount(value: unknown, name: string, where: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new ValueError(`${where}: ${name} must be a positive integer, got ${quoteInput(value)}`);
  }
  return value;
}

function checkInput(x: unknown, where: string): Tensor {
  if (!(x instanceof Tensor)) {
    throw new ValueError(`${where}: the input must be a Tensor, got ${x === null ? "null" : typeof x}`);
  }
  return x;
}

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Add a learned bias b (default true). */
  bias?: boolean;
  /** float32 (default) or float64. */
  dtype?: FloatDType;
  /** Initialiser of the weight, called with shape [out, in] (default: Glorot uniform). */
  weightInit?: Initializer;
  /** Initialiser of the bias, called with shape [out] (default: zeros). */
  biasInit?: Initializer;
}

/**
 * The affine layer z = Wx + b of the lecture. The weight is stored as [out, in] (PyTorch's layout) and the
 * layer computes x·Wᵀ + b with the matmul's transpose flag, so neither forward nor backward copies Wᵀ.
 * Accepts an input of shape [in] (one example) or [..., in] (any leading batch axes).
 */
export class Linear extends Module<[Tensor], Tensor> {
  /** The input size m (the length of x). */
  readonly inFeatures: number;
  /** The output size n (the length of Wx + b). */
  readonly outFeatures: number;
  /** W, shape [out, in]. */
  readonly weight: Tensor;
  /** b, shape [out], or null without a bias. */
  readonly bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = checkCount(inFeatures, "inFeatures", "Linear");
    this.outFeatures = checkCount(outFeatures, "outFeatures", "Linear");
    const initOptions: InitOptions = { dtype: options.dtype ?? "float32" };
    const weight = (options.weightInit ?? glorotUniform)([outFeatures, inFeatures], initOptions);
    checkInitialised(weight, [outFeatures, inFeatures], initOptions.dtype!, "Linear weight");
    this.weight = this.registerParameter("weight", weight);
    if (options.bias ?? true) {
      const bias = (options.biasInit ?? zeros)([outFeatures], initOptions);
      checkInitialised(bias, [outFeatures], initOptions.dtype!, "Linear bias");
      this.bias = this.registerParameter("bias", bias);
    } else this.bias = null;
  }

  /**
   * Wx + b for an input x of shape [in], or x·Wᵀ + b for each row of a batch [..., in]; the output has
   * shape [out] or [..., out]. Throws a `ShapeError` when the last dimension is not `inFeatures`.
   */
  forward(x: Tensor): Tensor {
    checkInput(x, "Linear");
    const n = x.ndim;
    if (n === 0 || x.shape[n - 1] !== this.inFeatures) {
      throw new ShapeError(
        `Linear(${this.inFeatures}, ${this.outFeatures}): expected an input of shape [${this.inFeatures}] or [..., ${this.inFeatures}], got ${shapeToString(x.shape)}`,
      );
    }
    if (x.dtype !== this.weight.dtype) {
      throw new DTypeError(
        `Linear(${this.inFeatures}, ${this.outFeatures}): the input is ${x.dtype} but the weight is ${this.weight.dtype}`,
      );
    }
    // Batch axes beyond one are folded into rows so that one 2-D product does the work.
    const rows = n > 2 ? reshape(x, [-1, this.inFeatures]) : x;
    let z = matmul(rows, this.weight, { transposeB: true });
    if (this.bias !== null) z = add(z, this.bias);
    return n > 2 ? reshape(z, [...x.shape.slice(0, -1), this.outFeatures]) : z;
  }

  protected override describe(): string {
    return `${this.inFeatures}, ${this.outFeatures}${this.bias === null ? ", bias: false" : ""}`;
  }
}

function checkInitialised(t: unknown, shape: number[], dtype: FloatDType, what: string): void {
  if (!(t instanceof Tensor) || t.dtype !== dtype || t.shape.join() !== shape.join()) {
    throw new ValueError(
      `${what}: the initialiser must return a ${dtype} tensor of shape ${shapeToString(shape)}`,
    );
  }
}

/** Options of {@link Embedding}. */
export interface EmbeddingOptions {
  /**
   * Give the weight a row-sparse gradient (default true): backward then leaves only the rows a batch used in
   * `weight.sparseGrad`, and the optimisers update only those rows.
   */
  sparse?: boolean;
  /** float32 (default) or float64. */
  dtype?: FloatDType;
  /** Initialiser of the table, called with shape [num, dim] (default: standard normal, as in PyTorch). */
  init?: Initializer;
}

/**
 * A lookup table of `num` vectors of length `dim`: `forward(ids)` returns the rows `ids` (shape
 * [...ids.shape, dim]). Word vectors of the lecture's window model: x_window = [x_{t−2}; …; x_{t+2}] is
 * `embedding.forward(windowIds).reshape([-1, 5 * dim])`.
 *
 * The gradient is row-sparse by default: a backward through a batch touching k distinct rows costs
 * O(k · dim), not O(num · dim).
 */
export class Embedding extends Module<[Tensor | readonly number[] | Int32Array], Tensor> {
  /** The number of vectors in the table (the vocabulary size). */
  readonly numEmbeddings: number;
  /** The length d of each vector. */
  readonly embeddingDim: number;
  /** Whether backward gives the table a row-sparse gradient (only the rows looked up). */
  readonly sparse: boolean;
  /** The table, shape [num, dim]. */
  readonly weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = checkCount(numEmbeddings, "numEmbeddings", "Embedding");
    this.embeddingDim = checkCount(embeddingDim, "embeddingDim", "Embedding");
    this.sparse = options.sparse ?? true;
    const dtype = options.dtype ?? "float32";
    const init = options.init ?? ((shape, o) => normal(shape, 0, 1, o));
    const weight = init([numEmbeddings, embeddingDim], { dtype });
    checkInitialised(weight, [numEmbeddings, embeddingDim], dtype, "Embedding weight");
    this.weight = this.registerParameter("weight", weight);
  }

  /** An embedding whose table is a copy of `weights` (shape [num, dim]), e.g. pretrained word vectors. */
  static fromPretrained(weights: Tensor, options: { sparse?: boolean } = {}): Embedding {
    checkInput(weights, "Embedding.fromPretrained");
    if (weights.ndim !== 2) {
      throw new ShapeError(
        `Embedding.fromPretrained: expected a [num, dim] table, got ${shapeToString(weights.shape)}`,
      );
    }
    if (weights.dtype === "int32") throw new DTypeError("Embedding.fromPretrained: the table must be float");
    const data = weights.data;
    const copy: Initializer = (shape) => new Tensor(data.slice(), shape, weights.dtype);
    return new Embedding(weights.shape[0]!, weights.shape[1]!, {
      sparse: options.sparse ?? true,
      dtype: weights.dtype as FloatDType,
      init: copy,
    });
  }

  /**
   * The rows `ids` of the table: shape `[...ids.shape, dim]`. Throws a `ValueError` for an id outside
   * [0, numEmbeddings).
   */
  forward(ids: Tensor | readonly number[] | Int32Array): Tensor {
    return gather(this.weight, ids, 0, { sparseGrad: this.sparse });
  }

  protected override describe(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.sparse ? "" : ", sparse: false"}`;
  }
}

/** Options of {@link Dropout}. */
export interface DropoutOptions {
  /** The generator for the masks (default: the global one, reset by `seed(n)`). */
  random?: Random;
}

/**
 * Inverted dropout: in training mode each value is zeroed with probability p and the survivors are scaled
 * by 1 / (1 − p), so the expected output equals the input and evaluation needs no rescaling. In evaluation
 * mode (`eval()`) it is the identity. Masks come from the seeded generator.
 */
export class Dropout extends Module<[Tensor], Tensor> {
  /** The probability of zeroing each value in training mode. */
  readonly p: number;
  private readonly random: Random | undefined;

  constructor(p = 0.5, options: DropoutOptions = {}) {
    super();
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new ValueError(`Dropout: p must be a probability in [0, 1], got ${p}`);
    }
    this.p = p;
    this.random = options.random;
  }

  /** In training mode, x with each value zeroed with probability p and the rest scaled by 1/(1 − p); else x. */
  forward(x: Tensor): Tensor {
    checkInput(x, "Dropout");
    if (!this.training || this.p === 0) return x;
    if (x.dtype === "int32") throw new DTypeError("Dropout: expected a float tensor, got int32");
    const random = this.random ?? globalRandom;
    const keep = 1 - this.p;
    const scale = keep === 0 ? 0 : 1 / keep;
    const mask = allocate(x.dtype, x.size);
    for (let i = 0; i < mask.length; i++) mask[i] = random.uniform() < keep ? scale : 0;
    return mul(x, new Tensor(mask, x.shape, x.dtype));
  }

  protected override describe(): string {
    return `p: ${this.p}`;
  }
}

/** tanh, elementwise: the lecture's default f. */
export class Tanh extends Module<[Tensor], Tensor> {
  /** tanh(x), elementwise; local Jacobian diag(1 − tanh²(x)). */
  forward(x: Tensor): Tensor {
    return tanh(checkInput(x, "Tanh"));
  }
}

/** σ(x) = 1 / (1 + e⁻ˣ), elementwise. */
export class Sigmoid extends Module<[Tensor], Tensor> {
  /** σ(x), elementwise; local Jacobian diag(σ(x)(1 − σ(x))). */
  forward(x: Tensor): Tensor {
    return sigmoid(checkInput(x, "Sigmoid"));
  }
}

/** max(x, 0), elementwise. */
export class ReLU extends Module<[Tensor], Tensor> {
  /** max(x, 0), elementwise. */
  forward(x: Tensor): Tensor {
    return relu(checkInput(x, "ReLU"));
  }
}

/** clamp(x, min, max), elementwise (default [−1, 1]): the "hard tanh" of Collobert et al. */
export class HardTanh extends Module<[Tensor], Tensor> {
  /** The lower bound. */
  readonly min: number;
  /** The upper bound. */
  readonly max: number;

  constructor(min = -1, max = 1) {
    super();
    if (typeof min !== "number" || typeof max !== "number" || !(min <= max)) {
      throw new ValueError(`HardTanh: need numbers min ≤ max, got ${min} and ${max}`);
    }
    this.min = min;
    this.max = max;
  }

  /** clamp(x, min, max), elementwise; the gradient passes only inside [min, max]. */
  forward(x: Tensor): Tensor {
    return clamp(checkInput(x, "HardTanh"), this.min, this.max);
  }

  protected override describe(): string {
    return this.min === -1 && this.max === 1 ? "" : `${this.min}, ${this.max}`;
  }
}

/** Returns its input unchanged (a placeholder, e.g. for "no activation"). */
export class Identity extends Module<[Tensor], Tensor> {
  /** x itself. */
  forward(x: Tensor): Tensor {
    return checkInput(x, "Identity");
  }
}
