import { describe, expect, it, vi } from "vitest";
import {
  RowSparse,
  ShapeError,
  Tensor,
  ValueError,
  isGradEnabled,
  nn,
  seed,
  tensor,
  zeros,
} from "../../src/index.js";
import { bits, expectValues } from "./helpers.js";

const { SGD, Adam, AdamW, AdaGrad, Embedding, Linear, Module } = nn;

/** θ = [1, −2] in float64 with the gradient g set directly. */
function parameter(): Tensor {
  return tensor([1, -2], { dtype: "float64", requiresGrad: true });
}

function setGrad(p: Tensor, g: number[]): void {
  p.grad = tensor(g, { dtype: p.dtype });
}

/** Runs `optimizer` on θ for each gradient in turn and returns θ after each step. */
function trajectory(make: (p: Tensor) => nn.Optimizer, gradients: number[][]): number[][] {
  const p = parameter();
  const optimizer = make(p);
  return gradients.map((g) => {
    setGrad(p, g);
    optimizer.step();
    return Array.from(p.data);
  });
}

const g = [0.5, -1];

describe("SGD", () => {
  it("with only lr is exactly θ ← θ − α∇θJ", () => {
    // θ = [1, −2], g = [0.5, −1], α = 0.1: θ₁ = [1 − 0.05, −2 + 0.1] = [0.95, −1.9]; θ₂ = [0.9, −1.8]
    const [first, second] = trajectory((p) => new SGD([p], { lr: 0.1 }), [g, g]);
    expectValues(first!, [0.95, -1.9], 1e-15);
    expectValues(second!, [0.9, -1.8], 1e-15);
  });

  it("is bit for bit θ − α·g (rounded once) in float32, through backward", () => {
    seed(13);
    const theta = nn.init.normal([50], 0, 1, { requiresGrad: true });
    const c = nn.init.normal([50]);
    const before = Float32Array.from(theta.data);
    theta.mul(c).sum().backward(); // ∇θ Σ θ∘c = c
    new SGD([theta], { lr: 0.01 }).step();
    const expected = Float32Array.from(before, (v, i) => Math.fround(v - 0.01 * c.data[i]!));
    expect(bits(theta.data as Float32Array)).toEqual(bits(expected));
  });

  it("momentum, dampening, Nesterov and weight decay follow PyTorch's formulas", () => {
    // Momentum 0.9: b₁ = g → θ₁ = [0.95, −1.9]; b₂ = 0.9 g + g = [0.95, −1.9] → θ₂ = θ₁ − 0.1 b₂ = [0.855, −1.71]
    const momentum = trajectory((p) => new SGD([p], { lr: 0.1, momentum: 0.9 }), [g, g]);
    expectValues(momentum[0]!, [0.95, -1.9], 1e-12);
    expectValues(momentum[1]!, [0.855, -1.71], 1e-12);
    // Dampening 0.5: b₂ = 0.9 g + 0.5 g = [0.7, −1.4] → θ₂ = [0.95 − 0.07, −1.9 + 0.14] = [0.88, −1.76]
    const damped = trajectory((p) => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5 }), [g, g]);
    expectValues(damped[1]!, [0.88, -1.76], 1e-12);
    // Nesterov: step with g + μb. Step 1: b = g, g + 0.9 g = [0.95, −1.9] → θ₁ = [0.905, −1.81];
    // step 2: b = [0.95, −1.9], g + 0.9 b = [1.355, −2.71] → θ₂ = [0.7695, −1.539]
    const nesterov = trajectory((p) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }), [g, g]);
    expectValues(nesterov[0]!, [0.905, -1.81], 1e-12);
    expectValues(nesterov[1]!, [0.7695, -1.539], 1e-12);
    // Weight decay 0.1: g + 0.1θ = [0.6, −1.2] → θ₁ = [0.94, −1.88]
    const decayed = trajectory((p) => new SGD([p], { lr: 0.1, weightDecay: 0.1 }), [g]);
    expectValues(decayed[0]!, [0.94, -1.88], 1e-12);
  });

  it("checks its options", () => {
    const p = parameter();
    expect(() => new SGD([p], { lr: -1 })).toThrow(ValueError);
    expect(() => new SGD([p], { lr: Number.NaN })).toThrow(/lr must be a finite number/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/Nesterov/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/appears twice/);
    expect(() => new SGD([p.mul(2)], { lr: 0.1 })).toThrow(/leaf tensor that requires grad/);
    expect(() => new SGD([tensor([1])], { lr: 0.1 })).toThrow(/leaf tensor that requires grad/);
    expect(() => new SGD([p], { lr: 0.1, sparse: "eager" as never })).toThrow(/lazy/);
    const sgd = new SGD([p], { lr: 0.1 });
    expect(() => (sgd.lr = -0.5)).toThrow(ValueError);
  });
});

describe("Adam and AdamW", () => {
  it("Adam's first steps match the hand computation", () => {
    // α = 0.1, β = (0.9, 0.999), ε = 1e-8.
    // Step 1: m = 0.1 g, v = 0.001 g²; m̂ = m / 0.1 = g, v̂ = v / 0.001 = g², so θ moves by α·g/(|g| + ε) ≈ α·sign(g):
    //   θ₁ = [0.9, −1.9] (up to ε: 0.05 / (0.5 + 1e-8) = 0.09999999800)
    // Step 2 (same g): m = 0.19 g, v = 0.001999 g², bias corrections 0.19 and 0.001999 → again α·sign(g): θ₂ = [0.8, −1.8]
    // Step 3, g₃ = [−0.5, 0]: m = 0.9·0.19 g + 0.1 g₃ = [0.0355, −0.171], v = 0.999·0.001999 g² + 0.001 g₃² =
    //   [0.00074925025, 0.001997001]; corrections 1 − 0.9³ = 0.271 and 1 − 0.999³ = 0.002997001;
    //   m̂ = [0.13099631, −0.63099631], v̂ = [0.25, 0.66633311], √v̂ = [0.5, 0.81629230]
    //   θ₃ = [0.8 − 0.1·0.13099631/0.5, −1.8 + 0.1·0.63099631/0.81629230] = [0.77380074, −1.72269971]
    const steps = trajectory((p) => new Adam([p], { lr: 0.1 }), [g, g, [-0.5, 0]]);
    expectValues(steps[0]!, [0.9, -1.9], 1e-8);
    expectValues(steps[1]!, [0.8, -1.8], 1e-8);
    expectValues(steps[2]!, [0.77380074, -1.72269971], 1e-8);
  });

  it("Adam's weight decay is an L2 term in the gradient; AdamW's is decoupled", () => {
    // L2 0.1 with g = [−0.05, 0.1]: g + 0.1θ = [0.05, −0.1], so the first step goes along −sign(g + λθ):
    // θ₁ = [0.9, −1.9] (without the decay it would be [1.1, −2.1])
    const l2 = trajectory((p) => new Adam([p], { lr: 0.1, weightDecay: 0.1 }), [[-0.05, 0.1]]);
    expectValues(l2[0]!, [0.9, -1.9], 1e-7);
    // AdamW λ = 0.1: θ ← θ(1 − αλ) = [0.99, −1.98], then the Adam step α·sign(g): θ₁ = [0.89, −1.88]
    const decoupled = trajectory((p) => new AdamW([p], { lr: 0.1, weightDecay: 0.1 }), [g]);
    expectValues(decoupled[0]!, [0.89, -1.88], 1e-7);
    expect(new AdamW([parameter()]).weightDecay).toBe(0.01);
    expect(new Adam([parameter()]).weightDecay).toBe(0);
    expect(() => new Adam([parameter()], { betas: [1, 0.9] })).toThrow(ValueError);
  });
});

describe("AdaGrad", () => {
  it("first steps match the hand computation", () => {
    // α = 0.1: G₁ = g² = [0.25, 1], θ₁ = θ − 0.1 g/|g| = [0.9, −1.9];
    // G₂ = 2g², θ₂ = θ₁ − 0.1 g/(√2 |g|) = [0.9 − 0.0707107, −1.9 + 0.0707107] = [0.8292893, −1.8292893]
    const steps = trajectory((p) => new AdaGrad([p], { lr: 0.1 }), [g, g]);
    expectValues(steps[0]!, [0.9, -1.9], 1e-9);
    expectValues(steps[1]!, [0.8292893, -1.8292893], 1e-7);
    // lrDecay 0.5: the rate at step 2 is 0.1 / (1 + 0.5) = 0.0666667: θ₂ = 0.9 − 0.0666667/√2 = 0.8528595
    const decayed = trajectory((p) => new AdaGrad([p], { lr: 0.1, lrDecay: 0.5 }), [g, g]);
    expectValues(decayed[1]!, [0.8528595, -1.8528595], 1e-7);
    // initialAccumulatorValue 0.75: G₁ = 0.75 + g² = [1, 1.75]: θ₁ = [1 − 0.05/1, −2 + 0.1/√1.75] = [0.95, −1.9244071]
    const seeded = trajectory((p) => new AdaGrad([p], { lr: 0.1, initialAccumulatorValue: 0.75 }), [g]);
    expectValues(seeded[0]!, [0.95, -1.9244071], 1e-7);
  });
});

describe("every optimiser", () => {
  const makers: [string, (ps: Tensor[]) => nn.Optimizer][] = [
    ["SGD", (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
    ["Adam", (ps) => new Adam(ps, { lr: 0.1, weightDecay: 0.01 })],
    ["AdamW", (ps) => new AdamW(ps, { lr: 0.1 })],
    ["AdaGrad", (ps) => new AdaGrad(ps, { lr: 0.1, weightDecay: 0.01 })],
  ];

  for (const [name, make] of makers) {
    it(`${name} reads gradients without changing them, records nothing and skips parameters without a gradient`, () => {
      const p = parameter();
      const idle = tensor([5], { requiresGrad: true });
      const optimizer = make([p, idle]);
      const grad = tensor(g, { dtype: "float64" });
      p.grad = grad;
      let modeInside: boolean | null = null;
      const target = optimizer as unknown as { update: (u: nn.ParameterUpdate) => void };
      const original = target.update.bind(optimizer);
      const spy = vi.spyOn(target, "update").mockImplementation((u) => {
        modeInside = isGradEnabled();
        original(u);
      });
      optimizer.step();
      spy.mockRestore();
      expect(modeInside).toBe(false);
      expect(Array.from(grad.data)).toEqual(g);
      expect(p.isLeaf).toBe(true);
      expect(p.gradFn).toBeUndefined();
      expect(Array.from(idle.data)).toEqual([5]);
      expect(optimizer.stateOf(1)).toBeNull();
      expect(optimizer.lastStep).toEqual({
        parameters: 1,
        sparseParameters: 0,
        sparseRows: 0,
        valuesUpdated: 2,
      });
    });

    it(`${name}'s state dict resumes training exactly`, () => {
      const a = parameter();
      const b = parameter();
      const first = make([a]);
      const gradients = [g, [0.25, 0.75], [-1, 0.5]];
      for (const grad of gradients.slice(0, 2)) {
        setGrad(a, grad);
        first.step();
      }
      // Through safetensors bytes, as a resumed run would do.
      const saved = nn.parse(nn.serialize(first.stateDict())).tensors;
      b.data.set(a.data);
      const second = make([b]);
      second.loadStateDict(saved);
      setGrad(a, gradients[2]!);
      first.step();
      setGrad(b, gradients[2]!);
      second.step();
      expect(bits(b.data as Float64Array)).toEqual(bits(a.data as Float64Array));
      expect(second.stateOf(0)!.step).toBe(3);
      expect(() => second.loadStateDict({ "0.nonsense": zeros([2]) })).toThrow(
        /unexpected entry "0\.nonsense"/,
      );
      expect(() => second.loadStateDict({ "3.step": tensor(1) })).toThrow(/unexpected entry "3\.step"/);
      const bufferName = Object.keys(saved).find((k) => !k.endsWith("step") && k !== "lr");
      if (bufferName) expect(() => second.loadStateDict({ [bufferName]: zeros([3]) })).toThrow(ShapeError);
    });

    it(`${name}'s state dict holds copies of its buffers, or the buffers themselves with { copy: false }`, () => {
      const a = parameter();
      const optimizer = make([a]);
      setGrad(a, g);
      optimizer.step();
      const copies = optimizer.stateDict();
      const own = optimizer.stateDict({ copy: false });
      expect(Object.keys(own)).toEqual(Object.keys(copies));
      const buffers = [...(optimizer.stateOf(0)?.buffers ?? new Map<string, unknown>())];
      for (const [buffer, tensor] of buffers) {
        expect(own[`0.${buffer}`]).toBe(tensor);
        expect(copies[`0.${buffer}`]).not.toBe(tensor);
        expect(Array.from(copies[`0.${buffer}`]!.data)).toEqual(Array.from(own[`0.${buffer}`]!.data));
      }
      // The next step changes the buffers, not the copies.
      const before = Object.fromEntries(Object.entries(copies).map(([k, t]) => [k, Array.from(t.data)]));
      setGrad(a, [0.5, -0.25]);
      optimizer.step();
      for (const [k, t] of Object.entries(copies)) expect(Array.from(t.data)).toEqual(before[k]);
      if (buffers.length > 0) {
        const moved = buffers.some(([buffer]) =>
          Array.from(own[`0.${buffer}`]!.data).some((v, i) => v !== before[`0.${buffer}`]![i]),
        );
        expect(moved).toBe(true);
      }
    });
  }
});

/** A batch that uses rows 3, 7, 3 and 999 of a table: loss = Σ tanh(E[ids]) ∘ weights. */
function embeddingStep(table: InstanceType<typeof Embedding>, ids: number[]): void {
  const out = table.forward(ids);
  const weights = tensor(
    Array.from({ length: out.size }, (_, i) => ((i % 7) - 3) / 4),
    { shape: out.shape },
  );
  out.tanh().mul(weights).sum().backward();
}

function twinTables(
  vocabulary: number,
  dim: number,
): [InstanceType<typeof Embedding>, InstanceType<typeof Embedding>] {
  seed(14);
  const sparse = new Embedding(vocabulary, dim);
  const dense = Embedding.fromPretrained(sparse.weight, { sparse: false });
  return [sparse, dense];
}

describe("row-sparse embedding updates", () => {
  const ids = [3, 7, 3, 999];
  const touched = new Set(ids);

  it("SGD and AdaGrad update only the used rows, bit-identical to the dense update", () => {
    for (const make of [
      (ps: Tensor[]) => new SGD(ps, { lr: 0.5 }),
      (ps: Tensor[]) => new AdaGrad(ps, { lr: 0.5 }),
    ]) {
      const [sparse, dense] = twinTables(1000, 4);
      const before = Float32Array.from(sparse.weight.data);
      const sparseOptimizer = make([sparse.weight]);
      const denseOptimizer = make([dense.weight]);
      // Batches of 2, 4, 3 and 4 ids: the buffers the optimiser coalesces into grow, then hold fewer rows.
      for (const batch of [[3, 7], ids, [5, 3, 3], ids]) {
        embeddingStep(sparse, batch);
        embeddingStep(dense, batch);
        expect(sparse.weight.sparseGrad).not.toBeNull();
        expect(dense.weight.sparseGrad).toBeNull();
        sparseOptimizer.step();
        denseOptimizer.step();
        sparseOptimizer.zeroGrad();
        denseOptimizer.zeroGrad();
      }
      // Identical to the dense update, bit for bit…
      expect(bits(sparse.weight.data as Float32Array)).toEqual(bits(dense.weight.data as Float32Array));
      // …while the last step wrote only the 3 distinct rows (3, 7, 999) of 4 values each.
      expect(sparseOptimizer.lastStep).toEqual({
        parameters: 1,
        sparseParameters: 1,
        sparseRows: 3,
        valuesUpdated: 12,
      });
      expect(denseOptimizer.lastStep.valuesUpdated).toBe(4000);
      // Rows never used are bit-identical to their initial values.
      const used = new Set([...ids, 5]);
      for (let row = 0; row < 1000; row++) {
        if (used.has(row)) continue;
        expect(bits(sparse.weight.data.subarray(row * 4, row * 4 + 4) as Float32Array)).toEqual(
          bits(before.subarray(row * 4, row * 4 + 4)),
        );
      }
    }
  });

  it("the work of a step scales with the rows used, not with the vocabulary", () => {
    const toDense = vi.spyOn(RowSparse.prototype, "toDense");
    const written: number[] = [];
    for (const vocabulary of [1000, 100000]) {
      const [table] = twinTables(vocabulary, 8);
      const optimizers = [
        new SGD([table.weight], { lr: 0.1, momentum: 0.9 }),
        new Adam([table.weight], { lr: 0.1 }),
        new AdaGrad([table.weight], { lr: 0.1 }),
      ];
      for (const optimizer of optimizers) {
        embeddingStep(table, ids);
        optimizer.step();
        optimizer.zeroGrad();
        written.push(optimizer.lastStep.valuesUpdated);
      }
    }
    // Neither backward nor the lazy step ever made the [vocabulary × dim] gradient dense…
    expect(toDense).not.toHaveBeenCalled();
    toDense.mockRestore();
    // …and each step wrote 3 rows × 8 values whatever the vocabulary.
    expect(written).toEqual([24, 24, 24, 24, 24, 24]);
  });

  it("lazy Adam keeps untouched rows and their moments at exactly their old values", () => {
    const [sparse, dense] = twinTables(1000, 4);
    const before = Float32Array.from(sparse.weight.data);
    const lazy = new Adam([sparse.weight], { lr: 0.1 });
    const textbook = new Adam([dense.weight], { lr: 0.1 });
    // Step 1 uses rows {3, 7, 999}; step 2 uses only row 5.
    for (const batch of [ids, [5]]) {
      embeddingStep(sparse, batch);
      embeddingStep(dense, batch);
      lazy.step();
      textbook.step();
      lazy.zeroGrad();
      textbook.zeroGrad();
    }
    const state = lazy.stateOf(0)!;
    const m = state.buffers.get("expAvg")!.data;
    const v = state.buffers.get("expAvgSq")!.data;
    for (let row = 0; row < 1000; row++) {
      const span = [row * 4, row * 4 + 4] as const;
      const used = touched.has(row) || row === 5;
      if (!used) {
        expect(bits(sparse.weight.data.subarray(...span) as Float32Array)).toEqual(
          bits(before.subarray(...span)),
        );
        expect(Array.from(m.subarray(...span)).every((x) => x === 0)).toBe(true);
        expect(Array.from(v.subarray(...span)).every((x) => x === 0)).toBe(true);
      } else {
        expect(Array.from(v.subarray(...span)).some((x) => x > 0)).toBe(true);
      }
    }
    // The difference from textbook (dense) Adam: in step 2 the dense update still moves rows 3, 7 and 999
    // along their decaying momentum; lazy Adam leaves them where step 1 put them.
    const row7 = [28, 32] as const;
    const afterFirst = Float32Array.from(sparse.weight.data.subarray(...row7));
    expect(Array.from(afterFirst)).not.toEqual(Array.from(before.subarray(...row7)));
    expect(Array.from(dense.weight.data.subarray(...row7))).not.toEqual(Array.from(afterFirst));
    // Row 5 (used in step 2) gets the same first-use update in both.
    expectValues(sparse.weight.data.subarray(20, 24), Array.from(dense.weight.data.subarray(20, 24)), 1e-6);
  });

  it('sparse: "dense" makes the gradient dense first and matches textbook Adam exactly', () => {
    const [sparse, dense] = twinTables(50, 3);
    const viaDense = new Adam([sparse.weight], { lr: 0.1, sparse: "dense" });
    const textbook = new Adam([dense.weight], { lr: 0.1 });
    for (const batch of [[1, 2, 2], [7]]) {
      embeddingStep(sparse, batch);
      embeddingStep(dense, batch);
      viaDense.step();
      textbook.step();
      viaDense.zeroGrad();
      textbook.zeroGrad();
    }
    expect(bits(sparse.weight.data as Float32Array)).toEqual(bits(dense.weight.data as Float32Array));
    expect(viaDense.lastStep.sparseParameters).toBe(0);
  });

  it("a model mixing sparse and dense parameters trains both", () => {
    class Tagger extends Module<[number[]], Tensor> {
      readonly embedding = this.registerModule("embedding", new Embedding(20, 3));
      readonly output = this.registerModule("output", new Linear(6, 2));
      forward(ids: number[]): Tensor {
        return this.output.forward(this.embedding.forward(ids).reshape([-1, 6]));
      }
    }
    seed(15);
    const model = new Tagger();
    const optimizer = new SGD(model, { lr: 0.1 });
    nn.crossEntropy(model.forward([1, 2, 3, 4]), [0, 1]).backward();
    optimizer.step();
    // 4 distinct rows × 3 values, plus the Linear's 12 + 2 values.
    expect(optimizer.lastStep).toEqual({
      parameters: 3,
      sparseParameters: 1,
      sparseRows: 4,
      valuesUpdated: 26,
    });
  });
});
