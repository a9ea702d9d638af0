import { describe, expect, it } from "vitest";
import { ValueError, nn, tensor } from "../../src/index.js";
import { expectValues } from "./helpers.js";

const {
  clipGradNorm,
  SGD,
  LearningRateScheduler,
  stepDecay,
  linearWarmup,
  exponentialDecay,
  linearDecay,
  cosineDecay,
} = nn;

describe("clipGradNorm", () => {
  it("scales all gradients together to the maximum norm and returns the norm before clipping", () => {
    const a = tensor([0, 0], { requiresGrad: true });
    const b = tensor([0], { requiresGrad: true });
    const none = tensor([1], { requiresGrad: true });
    const ga = tensor([3, 0]);
    a.grad = ga;
    b.grad = tensor([4]);
    // ‖(3, 0, 4)‖ = 5; clipping to 1 scales by 1 / (5 + 1e-6)
    const norm = clipGradNorm([a, b, none], 1);
    expect(norm).toBe(5);
    const scale = 1 / (5 + 1e-6);
    expectValues(a.grad!, [3 * scale, 0]);
    expectValues(b.grad!, [4 * scale]);
    // The original gradient tensor was not changed in place.
    expect(Array.from(ga.data)).toEqual([3, 0]);
    expect(none.grad).toBeNull();
    // Below the maximum nothing changes.
    const before = a.grad;
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 5);
    expect(a.grad).toBe(before);
  });

  it("supports the ∞-norm and other p, and row-sparse gradients", () => {
    const a = tensor([0, 0, 0], { requiresGrad: true });
    a.grad = tensor([1, -6, 2]);
    expect(clipGradNorm([a], 100, { normType: Infinity })).toBe(6);
    expect(clipGradNorm([a], 100, { normType: 1 })).toBeCloseTo(9, 5);

    // An embedding gradient where row 1 is used twice: its coalesced row is [3 + 1, 0] = [4, 0], row 0 is [0, 3].
    const table = new nn.Embedding(4, 2);
    table.forward([1, 0, 1]).backward(
      tensor([
        [3, 0],
        [0, 3],
        [1, 0],
      ]),
    );
    // The norm is that of the dense gradient: ‖(0, 3, 4, 0)‖ = 5 (not ‖(3, 0, 0, 3, 1, 0)‖ = √19)
    expect(clipGradNorm(table, 2.5)).toBeCloseTo(5, 5);
    const sparse = table.weight.sparseGrad!;
    expect(sparse).not.toBeNull();
    expectValues(table.weight.grad!, [0, 1.5, 2, 0, 0, 0, 0, 0], 1e-5);
    expect(() => clipGradNorm([a], -1)).toThrow(ValueError);
    expect(() => clipGradNorm([a], 1, { normType: 0 })).toThrow(ValueError);
    a.grad = tensor([Number.NaN, 1, 1]);
    expect(() => clipGradNorm([a], 1, { errorIfNonfinite: true })).toThrow(/NaN/);
  });
});

describe("learning-rate schedules", () => {
  it("step decay, exponential, linear and cosine decay give the documented factors", () => {
    const step = stepDecay(3, 0.5);
    expect([0, 1, 2, 3, 5, 6, 9].map(step)).toEqual([1, 1, 1, 0.5, 0.5, 0.25, 0.125]);
    expect([0, 1, 2].map(exponentialDecay(0.9))).toEqual([1, 0.9, 0.9 * 0.9]);
    // linear from 1 to 0.2 over 4 steps: 1, 0.8, 0.6, 0.4, 0.2, then constant
    expectValues([0, 1, 2, 3, 4, 10].map(linearDecay(4, 0.2)), [1, 0.8, 0.6, 0.4, 0.2, 0.2], 1e-12);
    // cosine from 1 to 0 over 4 steps: (1 + cos(πk/4))/2 = 1, 0.8536, 0.5, 0.1464, 0
    expectValues([0, 1, 2, 3, 4, 8].map(cosineDecay(4)), [1, 0.8535534, 0.5, 0.1464466, 0, 0], 1e-7);
  });

  it("linear warm-up rises from startFactor to 1, then hands over to the next schedule", () => {
    const warm = linearWarmup(4);
    // k/4 for k < 4, then 1
    expect([0, 1, 2, 3, 4, 100].map(warm)).toEqual([0, 0.25, 0.5, 0.75, 1, 1]);
    const warmThenDecay = linearWarmup(2, stepDecay(2, 0.1), 0.5);
    // 0.5, 0.75, then the step decay counted from the end of the warm-up: 1, 1, 0.1, 0.1, 0.01
    expectValues([0, 1, 2, 3, 4, 5, 6].map(warmThenDecay), [0.5, 0.75, 1, 1, 0.1, 0.1, 0.01], 1e-12);
    expect(() => linearWarmup(-1)).toThrow(ValueError);
  });

  it("LearningRateScheduler sets the optimiser's lr = base · factor at each step and can jump to a step", () => {
    const p = tensor([1], { requiresGrad: true });
    const optimizer = new SGD([p], { lr: 0.2 });
    const scheduler = new LearningRateScheduler(optimizer, stepDecay(2, 0.5));
    const seen = [optimizer.lr];
    for (let i = 0; i < 4; i++) {
      scheduler.step();
      seen.push(scheduler.lr);
    }
    expect(seen).toEqual([0.2, 0.2, 0.1, 0.1, 0.05]);
    scheduler.stepCount = 1;
    expect(optimizer.lr).toBe(0.2);
    expect(scheduler.stepCount).toBe(1);
    const broken = () => new LearningRateScheduler(optimizer, () => Number.NaN);
    expect(broken).toThrow(/schedule gave NaN/);
    expect(() => stepDecay(0)).toThrow(ValueError);
  });
});
