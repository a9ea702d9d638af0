import { describe, expect, it } from "vitest";
import { Random, ValueError, tanh } from "../../src/index.js";
import { WindowModel, windowModelConfig, ACTIVATIONS } from "../../src/ner/model.js";
import { CASING_CLASSES } from "../../src/ner/features.js";

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
    });
    expect(windowModelConfig(small().config)).toEqual(small().config);
  });
});
