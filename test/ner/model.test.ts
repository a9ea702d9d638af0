import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Random, ValueError, tanh, wasmThresholds } from "../../src/index.js";
import { WindowModel, windowModelConfig, ACTIVATIONS } from "../../src/ner/model.js";
import { CASING_CLASSES } from "../../src/ner/features.js";
import type { TokenFeatureConfig } from "../../src/ner/char-features.js";
import { crfNegativeLogLikelihood } from "../../src/ner/crf.js";

/** Two windows of 5 (w = 2) over a vocabulary of 10 words. */
const words = Int32Array.from([1, 1, 5, 6, 7, 5, 6, 7, 2, 2]);
const casing = Int32Array.from([0, 0, 3, 1, 1, 3, 1, 1, 0, 0]);

function small(options: Partial<Parameters<typeof windowModelConfig>[0]> = {}, seed = 0): WindowModel {
  return new WindowModel(
    { vocabularySize: 10, tagCount: 4, wordDimension: 3, casingDimension: 2, hiddenSize: 6, ...options },
    { random: new Random(seed) },
  );
}

describe("WindowModel", () => {
  it("gives [N, tags] logits for the softmax model and [N] scores s for the binary one", () => {
    expect(small().forward(words, casing).shape).toEqual([2, 4]);
    expect(small({ binary: true }).forward(words, casing).shape).toEqual([2]);
  });

  it("names its parameters after the lecture's network", () => {
    const model = small();
    expect(model.namedParameters().map(([name, p]) => [name, p.shape])).toEqual([
      ["wordEmbedding.weight", [10, 3]],
      ["casingEmbedding.weight", [CASING_CLASSES.length, 2]],
      ["hidden.weight", [6, 5 * (3 + 2)]],
      ["hidden.bias", [6]],
      ["output.weight", [4, 6]],
      ["output.bias", [4]],
    ]);
    // The binary classifier's s = uᵀh has no bias.
    expect(
      small({ binary: true })
        .namedParameters()
        .map(([name]) => name),
    ).toEqual([
      "wordEmbedding.weight",
      "casingEmbedding.weight",
      "hidden.weight",
      "hidden.bias",
      "output.weight",
    ]);
  });

  it("concatenates the window x = [x_{t−2}; …; x_{t+2}] with x_i = [word vector; casing vector]", () => {
    const model = small();
    const x = model.windowVectors(words, casing);
    expect(x.shape).toEqual([2, 25]);
    const table = model.wordEmbedding.weight.data;
    const casingTable = model.casingEmbedding!.weight.data;
    for (let row = 0; row < 2; row++) {
      for (let i = 0; i < 5; i++) {
        const word = words[row * 5 + i]!;
        const c = casing[row * 5 + i]!;
        const block = Array.from(x.data.slice(row * 25 + i * 5, row * 25 + i * 5 + 5));
        expect(block).toEqual([
          ...Array.from(table.slice(word * 3, word * 3 + 3)),
          ...Array.from(casingTable.slice(c * 2, c * 2 + 2)),
        ]);
      }
    }
  });

  it("leaves out the casing features with casingDimension 0", () => {
    const model = small({ casingDimension: 0 });
    expect(model.casingEmbedding).toBeNull();
    expect(model.windowVectors(words, casing).shape).toEqual([2, 15]);
  });

  it("computes h = f(Wx + b) with the chosen f", () => {
    for (const activation of ACTIVATIONS) {
      const model = small({ activation });
      const h = model.hiddenLayer(words, casing).data;
      const z = model.hidden.forward(model.windowVectors(words, casing)).data;
      const f = {
        tanh: Math.tanh,
        relu: (v: number) => Math.max(0, v),
        sigmoid: (v: number) => 1 / (1 + Math.exp(-v)),
        hardtanh: (v: number) => Math.min(1, Math.max(-1, v)),
      }[activation];
      for (let i = 0; i < h.length; i++) expect(h[i]).toBeCloseTo(f(z[i]!), 6);
    }
  });

  it("backpropagates the lecture's δ: ∂s/∂b = u ∘ f'(z) and ∂s/∂W = δᵀxᵀ for the binary classifier", () => {
    const model = small({ binary: true });
    const one = words.slice(0, 5);
    const oneCasing = casing.slice(0, 5);
    model.forward(one, oneCasing).sum().backward();
    // s = uᵀ tanh(Wx + b) ⇒ δ = ∂s/∂z = u ∘ (1 − h²), ∂s/∂b = δ, ∂s/∂W = δ xᵀ (an outer product).
    const x = model.windowVectors(one, oneCasing).data;
    const h = tanh(model.hidden.forward(model.windowVectors(one, oneCasing))).data;
    const u = model.output.weight.data;
    const delta = Array.from(h, (value, j) => u[j]! * (1 - value * value));
    const gradB = model.hidden.bias!.grad!.data;
    const gradW = model.hidden.weight.grad!.data;
    delta.forEach((d, j) => {
      expect(gradB[j]).toBeCloseTo(d, 6);
      for (let k = 0; k < x.length; k++) expect(gradW[j * x.length + k]).toBeCloseTo(d * x[k]!, 6);
    });
  });

  it("applies dropout only in training mode", () => {
    const model = small({ dropout: 0.5, inputDropout: 0.5 });
    const evaluation = model.predictLogits(words, casing).data;
    expect(model.training).toBe(true);
    expect(model.predictLogits(words, casing).data).toEqual(evaluation);
    const training = model.forward(words, casing).data;
    expect(Array.from(training)).not.toEqual(Array.from(evaluation));
  });

  it("is reproducible from its generator", () => {
    const a = small({}, 7).stateDict();
    const b = small({}, 7).stateDict();
    const c = small({}, 8).stateDict();
    for (const name of Object.keys(a)) expect(a[name]!.data).toEqual(b[name]!.data);
    expect(Array.from(a["hidden.weight"]!.data)).not.toEqual(Array.from(c["hidden.weight"]!.data));
  });

  it("copies pretrained vectors into the rows found and keeps the others' random values", () => {
    const model = small();
    const before = model.wordEmbedding.weight.data.slice();
    const vectors = new Float32Array(30).map((_, i) => i);
    const found = new Uint8Array(10);
    found[4] = 1;
    found[7] = 1;
    expect(model.setPretrainedVectors(vectors, found, 3)).toBe(2);
    const after = model.wordEmbedding.weight.data;
    for (let row = 0; row < 10; row++) {
      const expected =
        found[row] === 1 ? vectors.slice(row * 3, row * 3 + 3) : before.slice(row * 3, row * 3 + 3);
      expect(after.slice(row * 3, row * 3 + 3)).toEqual(expected);
    }
    expect(() => model.setPretrainedVectors(new Float32Array(40), new Uint8Array(10), 4)).toThrow(
      /4 dimensions but the model's word vectors have 3/,
    );
  });

  it("checks its configuration and inputs", () => {
    expect(() => small({ hiddenSize: 0 })).toThrow(ValueError);
    expect(() => small({ activation: "softplus" as never })).toThrow(
      /activation must be one of tanh, relu, sigmoid, hardtanh/,
    );
    expect(() => small({ dropout: 1 })).toThrow(/dropout must be a probability/);
    expect(() => new WindowModel({ vocabularySize: 10 })).toThrow(/tagCount must be a positive integer/);
    expect(() => small().forward(Int32Array.from([1, 2, 3]), Int32Array.from([1, 2, 3]))).toThrow(
      /windows of 5 word ids, got 3 ids/,
    );
    expect(() => small().forward(words, casing.slice(0, 5))).toThrow(/10 word ids but 5 casing ids/);
  });

  it("stores a complete configuration", () => {
    expect(small().config).toEqual({
      vocabularySize: 10,
      outputSize: 4,
      binary: false,
      windowSize: 2,
      wordDimension: 3,
      casingDimension: 2,
      casingClasses: CASING_CLASSES.length,
      hiddenSize: 6,
      activation: "tanh",
      dropout: 0,
      inputDropout: 0,
      objective: "window",
      features: [],
    });
    expect(windowModelConfig(small().config)).toEqual(small().config);
  });

  it("reads an older configuration without objective and features as the window objective without features", () => {
    const { objective: _objective, features: _features, ...older } = small().config;
    expect(windowModelConfig(older as never)).toEqual(small().config);
  });
});

describe("WindowModel with token features", () => {
  const features: TokenFeatureConfig[] = [
    { kind: "suffix", length: 2, dimension: 3, values: ["is", "ce"] },
    { kind: "shape", length: 8, dimension: 2, values: ["Xxx", "xx"] },
  ];
  // Ids per window position: padding 0, unknown 1, values 2…
  const suffixIds = Int32Array.from([0, 0, 2, 1, 3, 2, 1, 3, 0, 0]);
  const shapeIds = Int32Array.from([0, 0, 2, 3, 3, 2, 3, 3, 0, 0]);

  it("appends each word's feature vectors to x_i = [word; casing; suffix; shape]", () => {
    const model = small({ features });
    expect(model.namedParameters().map(([name, p]) => [name, p.shape])).toContainEqual([
      "suffixEmbedding.weight",
      [4, 3],
    ]);
    expect(model.hidden.weight.shape).toEqual([6, 5 * (3 + 2 + 3 + 2)]);
    const x = model.windowVectors(words, casing, [suffixIds, shapeIds]).data;
    const suffixTable = model.featureEmbeddings[0]!.weight.data;
    const shapeTable = model.featureEmbeddings[1]!.weight.data;
    for (let row = 0; row < 2; row++) {
      for (let i = 0; i < 5; i++) {
        const at = row * 50 + i * 10 + 5;
        const suffix = suffixIds[row * 5 + i]!;
        const shape = shapeIds[row * 5 + i]!;
        expect(Array.from(x.slice(at, at + 5))).toEqual([
          ...Array.from(suffixTable.slice(suffix * 3, suffix * 3 + 3)),
          ...Array.from(shapeTable.slice(shape * 2, shape * 2 + 2)),
        ]);
      }
    }
    expect(model.forward(words, casing, [suffixIds, shapeIds]).shape).toEqual([2, 4]);
  });

  it("gets gradients into the feature tables of the rows used", () => {
    const model = small({ features });
    model.forward(words, casing, [suffixIds, shapeIds]).sum().backward();
    const grad = model.featureEmbeddings[0]!.weight.grad!.data;
    // Row 1 (unknown) and rows 0, 2, 3 were used; all four rows of the suffix table get a gradient.
    expect(grad.some((v) => v !== 0)).toBe(true);
  });

  it("checks the feature id matrices", () => {
    const model = small({ features });
    expect(() => model.forward(words, casing)).toThrow(/2 token features but 0 id matrices/);
    expect(() => model.forward(words, casing, [suffixIds, shapeIds.slice(0, 5)])).toThrow(
      /10 word ids but 5 ids of token feature 1 \(shape\)/,
    );
    expect(() => small({ features: [features[0]!, features[0]!] })).toThrow(/appears twice/);
  });
});

describe("WindowModel.predictLogitsPadded (a chunk of windows through one compiled plan)", () => {
  // A product of fewer than wasmThresholds.matmulFlops multiply-adds runs in JavaScript eagerly (rounding
  // otherwise than the WebAssembly kernel), and a plan's products have the chunk's rows: with every product
  // in WebAssembly, both paths run the same kernels and must agree to the bit.
  const threshold = wasmThresholds.matmulFlops;
  beforeEach(() => {
    wasmThresholds.matmulFlops = 0;
  });
  afterEach(() => {
    wasmThresholds.matmulFlops = threshold;
  });
  const features: TokenFeatureConfig[] = [
    { kind: "suffix", length: 2, dimension: 3, values: ["is", "ce"] },
    { kind: "shape", length: 8, dimension: 2, values: ["Xxx", "xx"] },
  ];
  /** `rows` random windows: word, casing and the two feature id matrices. */
  function windows(rows: number, seed: number): [Int32Array, Int32Array, Int32Array[]] {
    const random = new Random(seed);
    const ids = (bound: number) =>
      Int32Array.from({ length: rows * 5 }, () => Math.floor(random.uniform() * bound));
    return [ids(10), ids(CASING_CLASSES.length), [ids(4), ids(4)]];
  }
  const stats = (model: WindowModel) =>
    (model as unknown as { paddedPrediction: { run: { stats: { traces: number; replays: number } } } })
      .paddedPrediction.run.stats;

  for (const [name, options] of [
    ["softmax", { features }],
    ["binary", { features, binary: true }],
    ["no casing vectors, no features", { casingDimension: 0 }],
  ] as const) {
    it(`gives predictLogits' values, to the bit, for any number of rows up to the chunk: ${name}`, () => {
      const model = small(options, 3);
      for (const [rows, seed] of [
        [16, 1],
        [1, 2],
        [7, 3],
        [16, 4],
        [9, 5],
      ] as const) {
        const [w, c, f] = windows(rows, seed);
        const given = "features" in options ? f : [];
        const expected = model.predictLogits(w, c, given).data;
        const got = model.predictLogitsPadded(w, c, given, 16);
        expect(got.length).toBe(expected.length);
        expect(Array.from(got)).toEqual(Array.from(expected));
      }
      expect(stats(model)).toEqual({ traces: 1, replays: 4, eager: 0 });
      // More rows than a chunk: predictLogits itself.
      const [w, c, f] = windows(20, 6);
      const given = "features" in options ? f : [];
      expect(Array.from(model.predictLogitsPadded(w, c, given, 16))).toEqual(
        Array.from(model.predictLogits(w, c, given).data),
      );
    });
  }

  it("follows the parameters as they change, and leaves the model in its mode", () => {
    const model = small({ features, dropout: 0.5 }, 4);
    const [w, c, f] = windows(5, 7);
    model.predictLogitsPadded(w, c, f, 8);
    model.hidden.weight.data.fill(0.25);
    model.train(true);
    expect(Array.from(model.predictLogitsPadded(w, c, f, 8))).toEqual(
      Array.from(model.predictLogits(w, c, f).data),
    );
    expect(model.training).toBe(true);
  });

  it("checks its input as predictLogits does", () => {
    const model = small({ features });
    const [w, c, f] = windows(4, 8);
    expect(() => model.predictLogitsPadded(w, c, [f[0]!], 8)).toThrow(/2 token features but 1 id matrices/);
    expect(() => model.predictLogitsPadded(w, c.slice(1), f, 8)).toThrow(/20 word ids but 19 casing ids/);
    expect(() => model.predictLogitsPadded(w.slice(1), c, f, 8)).toThrow(/windows of 5 word ids, got 19/);
    expect(() =>
      model.predictLogitsPadded(
        Int32Array.from([0, 0, 99, 0, 0]),
        c.slice(0, 5),
        [f[0]!.slice(0, 5), f[1]!.slice(0, 5)],
        8,
      ),
    ).toThrow(/99/);
    expect(() => model.predictLogitsPadded(w, c, f, 0)).toThrow(/chunk capacity must be a positive integer/);
  });
});

describe("WindowModel with the sentence objective", () => {
  it("adds zero-initialised transition, start and end scores", () => {
    const model = small({ objective: "sentence" });
    expect(model.crf!.transitions.shape).toEqual([4, 4]);
    expect(model.stateDict()["transitions"]!.data).toEqual(new Float32Array(16));
    expect(Object.keys(model.stateDict())).toEqual(
      expect.arrayContaining(["transitions", "startTransitions", "endTransitions"]),
    );
    expect(small().crf).toBeNull();
    expect(() => small({ objective: "sentence", binary: true })).toThrow(/binary/);
    expect(() => small({ objective: "tokens" as never })).toThrow(/objective must be "window" or "sentence"/);
  });

  it("trains the window network and the transitions through the CRF loss", () => {
    const model = small({ objective: "sentence" });
    const emissions = model.forward(words, casing);
    crfNegativeLogLikelihood(emissions, model.crf!, [1, 2], [0, 2]).backward();
    expect(model.crf!.transitions.grad!.data.some((v) => v !== 0)).toBe(true);
    expect(model.hidden.weight.grad!.data.some((v) => v !== 0)).toBe(true);
  });
});
