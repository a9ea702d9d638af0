/**
 * The lecture's window classifier for named entities, built from chainrule's nn modules.
 *
 * For the centre word t of a window of 2w + 1 words, each word i contributes its word vector and (optionally)
 * the vector of its casing class, x_i = [e_word(i); e_casing(i)]; the window's vectors are concatenated,
 *
 *     x = [x_{t−w}; …; x_{t+w}]        (x_window ∈ R^{(2w+1)(d + c)})
 *     h = f(Wx + b)                    (f = tanh by default; relu, sigmoid or hardtanh on request)
 *
 * followed by either
 *
 * - a softmax over all tags: logits = Uh + b₂, trained with cross-entropy (the default), or
 * - the lecture's binary logistic classifier for one entity type: s = uᵀh, J = σ(s) ("is the centre word a
 *   location?"), trained with binary cross-entropy on s.
 *
 * Dropout (inverted, off in evaluation mode) can be applied to x and to h. Every random draw (initialisation,
 * dropout masks) comes from one {@link Random}, so a seed reproduces a model bit for bit.
 *
 * Two extensions beyond the lecture, both off unless configured:
 *
 * - token features (`features`): each word of the window also contributes learned vectors of its prefix,
 *   suffix or shape (see char-features.ts), x_i = [e_word(i); e_casing(i); e_prefix(i); …];
 * - sentence-level training (`objective: "sentence"`): the softmax outputs become the emission scores of a
 *   linear-chain CRF with learned tag-transition, start and end scores (see crf.ts), trained on whole
 *   sentences and decoded with Viterbi.
 */
import { ValueError, quoteInput } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { Random } from "../tensor/random.js";
import { concat, reshape, squeeze } from "../ops/index.js";
import { zeros as zerosTensor } from "../tensor/creation.js";
import { noGrad } from "../autograd/mode.js";
import { compile, type CompiledFunction } from "../compile/compile.js";
import type { TypedArray } from "../tensor/dtype.js";
import { Module } from "../nn/module.js";
import { Dropout, Embedding, HardTanh, Linear, ReLU, Sigmoid, Tanh } from "../nn/layers.js";
import { glorotUniform, normal, zeros } from "../nn/init.js";
import { CASING_CLASSES } from "./features.js";
import { checkTokenFeatures, featureTableSize, type TokenFeatureConfig } from "./char-features.js";
import type { CrfParameters } from "./crf.js";

/** What the network is trained on: each window on its own (softmax), or whole sentences (a CRF on top). */
export type Objective = "window" | "sentence";

export const OBJECTIVES: readonly Objective[] = ["window", "sentence"];

export function checkObjective(value: unknown, where = "WindowModel"): Objective {
  if (value !== "window" && value !== "sentence") {
    throw new ValueError(`${where}: objective must be "window" or "sentence", got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The hidden layer's nonlinearity f in h = f(Wx + b). */
export type Activation = "tanh" | "relu" | "sigmoid" | "hardtanh";

/** Every supported activation. */
export const ACTIVATIONS: readonly Activation[] = ["tanh", "relu", "sigmoid", "hardtanh"];

/** The hyperparameters of a {@link WindowModel}, as stored in a model directory's `config.json`. */
export interface WindowModelConfig {
  /** Rows of the word embedding table (the vocabulary's size). */
  vocabularySize: number;
  /** Softmax outputs (the tag count); 1 for the binary classifier. */
  outputSize: number;
  /** `true`: one logit s = uᵀh per window (the lecture's binary classifier). */
  binary: boolean;
  /** w: words on each side of the centre word (windows of 2w + 1). */
  windowSize: number;
  /** d: length of a word vector. */
  wordDimension: number;
  /** c: length of a casing vector (0: no casing features). */
  casingDimension: number;
  /** Number of casing classes (rows of the casing table). */
  casingClasses: number;
  /** Units of the hidden layer h. */
  hiddenSize: number;
  /** The nonlinearity f of the hidden layer. */
  activation: Activation;
  /** Dropout probability on h (training only). */
  dropout: number;
  /** Dropout probability on the concatenated window x (training only). */
  inputDropout: number;
  /** "window" (softmax per window) or "sentence" (CRF over the sentence). Absent in older models: "window". */
  objective: Objective;
  /** Token features beside the word and casing vectors (prefix, suffix, shape); [] in older models. */
  features: TokenFeatureConfig[];
}

/** Options for {@link WindowModel}: everything but the sizes has a default. */
export interface WindowModelOptions {
  /** Rows of the word embedding table (the vocabulary's size). */
  vocabularySize: number;
  /** Number of tags (softmax outputs); ignored when `binary` is true. */
  tagCount?: number;
  /** `true`: one logit s = uᵀh per window, J = σ(s) (the lecture's binary classifier). Default false. */
  binary?: boolean;
  /** Default 2 (the lecture's windows of 5). */
  windowSize?: number;
  /** Default 50. */
  wordDimension?: number;
  /** Default 5; 0 leaves the casing features out. */
  casingDimension?: number;
  /** Default 300. */
  hiddenSize?: number;
  /** Default "tanh". */
  activation?: Activation;
  /** Default 0. */
  dropout?: number;
  /** Default 0. */
  inputDropout?: number;
  /** Default "window". */
  objective?: Objective;
  /** Default none. */
  features?: TokenFeatureConfig[];
}

/** How a new {@link WindowModel}'s weights are drawn. */
export interface WindowModelInit {
  /** The generator for initialisation and dropout masks (default: a new Random(0)). */
  random?: Random;
  /** Standard deviation of the random word vectors (default 0.1). */
  embeddingScale?: number;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new ValueError(`WindowModel: ${name} must be a positive integer, got ${quoteInput(value)}`);
  }
  return value;
}

function nonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ValueError(`WindowModel: ${name} must be a non-negative integer, got ${quoteInput(value)}`);
  }
  return value;
}

function probability(value: unknown, name: string): number {
  if (typeof value !== "number" || !(value >= 0 && value < 1)) {
    throw new ValueError(`WindowModel: ${name} must be a probability in [0, 1), got ${quoteInput(value)}`);
  }
  return value;
}

export function checkActivation(value: unknown, where = "WindowModel"): Activation {
  if (typeof value !== "string" || !(ACTIVATIONS as readonly string[]).includes(value)) {
    throw new ValueError(
      `${where}: activation must be one of ${ACTIVATIONS.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as Activation;
}

/** Fills in the defaults and checks every field. */
export function windowModelConfig(options: WindowModelOptions | WindowModelConfig): WindowModelConfig {
  if (options === null || typeof options !== "object") throw new ValueError("WindowModel: expected options");
  const binary = options.binary ?? false;
  if (typeof binary !== "boolean") throw new ValueError("WindowModel: binary must be a boolean");
  const given = options as Partial<WindowModelConfig> & WindowModelOptions;
  const outputSize = binary ? 1 : positiveInteger(given.outputSize ?? given.tagCount, "tagCount");
  const casingDimension = nonNegativeInteger(given.casingDimension ?? 5, "casingDimension");
  const objective = checkObjective(options.objective ?? "window");
  if (objective === "sentence" && binary) {
    throw new ValueError(
      "WindowModel: the sentence objective needs the softmax over tags, not the binary classifier",
    );
  }
  return {
    vocabularySize: positiveInteger(options.vocabularySize, "vocabularySize"),
    outputSize,
    binary,
    windowSize: nonNegativeInteger(options.windowSize ?? 2, "windowSize"),
    wordDimension: positiveInteger(options.wordDimension ?? 50, "wordDimension"),
    casingDimension,
    casingClasses: positiveInteger(given.casingClasses ?? CASING_CLASSES.length, "casingClasses"),
    hiddenSize: positiveInteger(options.hiddenSize ?? 300, "hiddenSize"),
    activation: checkActivation(options.activation ?? "tanh"),
    dropout: probability(options.dropout ?? 0, "dropout"),
    inputDropout: probability(options.inputDropout ?? 0, "inputDropout"),
    objective,
    features: checkTokenFeatures(options.features, "WindowModel"),
  };
}

function activationModule(activation: Activation): Module<[Tensor], Tensor> {
  switch (activation) {
    case "tanh":
      return new Tanh();
    case "relu":
      return new ReLU();
    case "sigmoid":
      return new Sigmoid();
    case "hardtanh":
      return new HardTanh();
  }
}

/**
 * The window network. `forward(words, casing)` takes the flat row-major window matrices of `buildWindows`
 * (N rows of 2w + 1 ids each) and returns the logits: [N, tags] for the softmax model, [N] (the scores s)
 * for the binary one.
 *
 * Parameters: `wordEmbedding.weight` [V, d], `casingEmbedding.weight` [classes, c] (when c > 0),
 * `hidden.weight` W [H, (2w + 1)(d + c)], `hidden.bias` b [H], and `output.weight` U [tags, H] with
 * `output.bias` [tags], or, for the binary classifier, `output.weight` uᵀ [1, H] without a bias (s = uᵀh).
 */
export class WindowModel extends Module<[Int32Array, Int32Array, (readonly Int32Array[])?], Tensor> {
  /** The hyperparameters, every default filled in. */
  readonly config: WindowModelConfig;
  /** The word vectors: one row of length d per vocabulary entry. */
  readonly wordEmbedding: Embedding;
  /** The casing vectors (null when `casingDimension` is 0). */
  readonly casingEmbedding: Embedding | null;
  /** One table per token feature (`prefixEmbedding`, `suffixEmbedding`, `shapeEmbedding`), in config order. */
  readonly featureEmbeddings: Embedding[];
  /** The CRF's scores for the sentence objective (null for the window objective). */
  readonly crf: CrfParameters | null;
  /** The compiled forward pass of {@link WindowModel.predictLogitsPadded} and its id buffers (made on first use). */
  private paddedPrediction: {
    readonly capacity: number;
    readonly words: Int32Array;
    readonly casing: Int32Array;
    readonly features: Int32Array[];
    readonly run: CompiledFunction<[Int32Array, Int32Array, Int32Array[]], Tensor>;
  } | null = null;
  /** Dropout on the concatenated window x. */
  readonly inputDropoutLayer: Dropout;
  /** The hidden layer z = Wx + b. */
  readonly hidden: Linear;
  /** The nonlinearity h = f(z). */
  readonly activation: Module<[Tensor], Tensor>;
  /** Dropout on h. */
  readonly dropoutLayer: Dropout;
  /** The output layer: s = uᵀh (binary) or the tag scores Uh + c (softmax). */
  readonly output: Linear;

  constructor(options: WindowModelOptions | WindowModelConfig, init: WindowModelInit = {}) {
    super();
    const config = windowModelConfig(options);
    this.config = config;
    const random = init.random ?? new Random(0);
    const scale = init.embeddingScale ?? 0.1;
    if (typeof scale !== "number" || !(scale >= 0) || !Number.isFinite(scale)) {
      throw new ValueError(
        `WindowModel: embeddingScale must be a finite number ≥ 0, got ${quoteInput(scale)}`,
      );
    }
    const width = 2 * config.windowSize + 1;
    this.wordEmbedding = this.registerModule(
      "wordEmbedding",
      new Embedding(config.vocabularySize, config.wordDimension, {
        init: (shape, o) => normal(shape, 0, scale, { ...o, random }),
      }),
    );
    this.casingEmbedding =
      config.casingDimension > 0
        ? this.registerModule(
            "casingEmbedding",
            new Embedding(config.casingClasses, config.casingDimension, {
              init: (shape, o) => normal(shape, 0, scale, { ...o, random }),
            }),
          )
        : null;
    this.featureEmbeddings = config.features.map((feature) =>
      this.registerModule(
        `${feature.kind}Embedding`,
        new Embedding(featureTableSize(feature), feature.dimension, {
          init: (shape, o) => normal(shape, 0, scale, { ...o, random }),
        }),
      ),
    );
    this.inputDropoutLayer = this.registerModule(
      "inputDropout",
      new Dropout(config.inputDropout, { random }),
    );
    const inputSize = width * this.positionSize;
    this.hidden = this.registerModule(
      "hidden",
      new Linear(inputSize, config.hiddenSize, {
        weightInit: (shape, o) => glorotUniform(shape, { ...o, random }),
        biasInit: (shape, o) => zeros(shape, o),
      }),
    );
    this.activation = this.registerModule("activation", activationModule(config.activation));
    this.dropoutLayer = this.registerModule("dropout", new Dropout(config.dropout, { random }));
    this.output = this.registerModule(
      "output",
      new Linear(config.hiddenSize, config.outputSize, {
        bias: !config.binary,
        weightInit: (shape, o) => glorotUniform(shape, { ...o, random }),
      }),
    );
    if (config.objective === "sentence") {
      // A[i, j] scores tag i followed by tag j; start and end score the first and last tags. Zero at first:
      // the CRF starts as the window network's per-token scores.
      const K = config.outputSize;
      this.crf = {
        transitions: this.registerParameter("transitions", zerosTensor([K, K])),
        start: this.registerParameter("startTransitions", zerosTensor([K])),
        end: this.registerParameter("endTransitions", zerosTensor([K])),
      };
    } else this.crf = null;
  }

  /** The length of one word's vector x_i: d + c + the token features' dimensions. */
  get positionSize(): number {
    let size = this.config.wordDimension + this.config.casingDimension;
    for (const feature of this.config.features) size += feature.dimension;
    return size;
  }

  /** The number of values in one window row: 2w + 1. */
  get width(): number {
    return 2 * this.config.windowSize + 1;
  }

  /**
   * The concatenated window vectors x = [x_{t−w}; …; x_{t+w}], shape [N, (2w + 1)(d + c + …)], where each
   * x_i = [word vector; casing vector; token feature vectors]. `features` holds one id matrix per token
   * feature, shaped like `words` (see `buildFeatureWindows`).
   */
  windowVectors(words: Int32Array, casing: Int32Array, features: readonly Int32Array[] = []): Tensor {
    const width = this.width;
    if (words.length % width !== 0 || words.length === 0) {
      throw new ValueError(
        `WindowModel: expected a non-empty list of windows of ${width} word ids, got ${words.length} ids`,
      );
    }
    const count = words.length / width;
    if (features.length !== this.featureEmbeddings.length) {
      throw new ValueError(
        `WindowModel: the model has ${this.featureEmbeddings.length} token features but ${features.length} id matrices were given`,
      );
    }
    const parts = [reshape(this.wordEmbedding.forward(words), [count, width, this.config.wordDimension])];
    if (this.casingEmbedding !== null) {
      if (casing.length !== words.length) {
        throw new ValueError(`WindowModel: ${words.length} word ids but ${casing.length} casing ids`);
      }
      parts.push(reshape(this.casingEmbedding.forward(casing), [count, width, this.config.casingDimension]));
    }
    this.featureEmbeddings.forEach((table, i) => {
      const ids = features[i]!;
      if (ids.length !== words.length) {
        throw new ValueError(
          `WindowModel: ${words.length} word ids but ${ids.length} ids of token feature ${i} (${this.config.features[i]!.kind})`,
        );
      }
      parts.push(reshape(table.forward(ids), [count, width, table.embeddingDim]));
    });
    return reshape(parts.length === 1 ? parts[0]! : concat(parts, 2), [count, -1]);
  }

  /** h = f(Wx + b) for each window (dropout applied in training mode). */
  hiddenLayer(words: Int32Array, casing: Int32Array, features: readonly Int32Array[] = []): Tensor {
    const x = this.inputDropoutLayer.forward(this.windowVectors(words, casing, features));
    return this.dropoutLayer.forward(this.activation.forward(this.hidden.forward(x)));
  }

  /** The logits [N, tags] (the CRF's emission scores for the sentence objective), or s [N] if binary. */
  forward(words: Int32Array, casing: Int32Array, features: readonly Int32Array[] = []): Tensor {
    const scores = this.output.forward(this.hiddenLayer(words, casing, features));
    return this.config.binary ? squeeze(scores, 1) : scores;
  }

  /** The logits in evaluation mode, without recording a graph (for prediction). */
  predictLogits(words: Int32Array, casing: Int32Array, features: readonly Int32Array[] = []): Tensor {
    const wasTraining = this.training;
    this.train(false);
    try {
      return noGrad(() => this.forward(words, casing, features));
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * The logits of some windows, as {@link WindowModel.predictLogits} gives them (flat: `rows` × tags, or `rows`
   * scores for the binary classifier), computed by a compiled plan (see `compile`) over a fixed chunk of
   * `capacity` windows: the ids are copied into buffers of that many windows, the rest padded with id 0, so
   * that every call replays one plan. Nothing is allocated per op, and the parameters are read where a
   * training step's plan keeps them. For scoring many windows a chunk at a time (a dev set after each epoch);
   * where the forward pass cannot be compiled it runs eagerly. The values are predictLogits' to the bit where
   * its products run the same kernels: always for the window network's sizes; a product of fewer than
   * `wasmThresholds.matmulFlops` multiply-adds (a tiny model's, on very few windows) runs in JavaScript eagerly,
   * which rounds otherwise, while the plan's products have `capacity` rows.
   */
  predictLogitsPadded(
    words: Int32Array,
    casing: Int32Array,
    features: readonly Int32Array[],
    capacity: number,
  ): TypedArray {
    const width = this.width;
    const rows = words.length / width;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new ValueError(`WindowModel: the chunk capacity must be a positive integer, got ${capacity}`);
    }
    const fits =
      Number.isInteger(rows) &&
      rows >= 1 &&
      rows <= capacity &&
      (this.casingEmbedding === null || casing.length === words.length) &&
      features.length === this.featureEmbeddings.length &&
      features.every((ids) => ids.length === words.length);
    // Anything else gets predictLogits' own error (or, for more rows than a chunk, its result).
    if (!fits) return this.predictLogits(words, casing, features).data;
    let state = this.paddedPrediction;
    if (state === null || state.capacity !== capacity) {
      const size = capacity * width;
      state = {
        capacity,
        words: new Int32Array(size),
        casing: new Int32Array(this.casingEmbedding === null ? 0 : size),
        features: this.featureEmbeddings.map(() => new Int32Array(size)),
        run: compile((w: Int32Array, c: Int32Array, f: Int32Array[]) => this.forward(w, c, f)),
      };
      this.paddedPrediction = state;
    }
    const n = words.length;
    const pad = (into: Int32Array, from: Int32Array): void => {
      into.set(from);
      into.fill(0, n);
    };
    pad(state.words, words);
    if (this.casingEmbedding !== null) pad(state.casing, casing);
    features.forEach((ids, i) => pad(state.features[i]!, ids));
    const wasTraining = this.training;
    this.train(false);
    try {
      const logits = noGrad(() => state.run(state.words, state.casing, state.features)).data;
      return logits.subarray(0, (logits.length / capacity) * rows);
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * Copies pretrained word vectors into the table: row i of `vectors` ([vocabularySize × d]) where
   * `found[i]` is 1. The other rows keep their random initialisation. Returns the number of rows copied.
   */
  setPretrainedVectors(vectors: Float32Array, found: Uint8Array, dimension: number): number {
    const { vocabularySize, wordDimension } = this.config;
    if (dimension !== wordDimension) {
      throw new ValueError(
        `WindowModel: the pretrained vectors have ${dimension} dimensions but the model's word vectors have ${wordDimension}`,
      );
    }
    if (vectors.length !== vocabularySize * dimension || found.length !== vocabularySize) {
      throw new ValueError(
        `WindowModel: expected ${vocabularySize} pretrained rows of ${dimension} values, got ${vectors.length / dimension} rows and ${found.length} flags`,
      );
    }
    const table = this.wordEmbedding.weight.data;
    let copied = 0;
    for (let row = 0; row < vocabularySize; row++) {
      if (found[row] !== 1) continue;
      table.set(vectors.subarray(row * dimension, (row + 1) * dimension), row * dimension);
      copied++;
    }
    return copied;
  }
}
