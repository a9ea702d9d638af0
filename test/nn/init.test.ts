import { describe, expect, it } from "vitest";
import { Random, ShapeError, ValueError, nn, seed } from "../../src/index.js";

const { init } = nn;

function stats(values: ArrayLike<number>): { mean: number; variance: number; maxAbs: number } {
  let sum = 0;
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(values[i]!));
  }
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i]! - mean) ** 2;
  return { mean, variance: squares / values.length, maxAbs };
}

describe("initialisers", () => {
  it("compute fan-in and fan-out in PyTorch's [out, in, …] layout", () => {
    expect(init.fans([4, 3])).toEqual([3, 4]);
    expect(init.fans([7])).toEqual([7, 7]);
    // [out = 8, in = 2, 3 × 5 receptive field]: fanIn = 2·15, fanOut = 8·15
    expect(init.fans([8, 2, 3, 5])).toEqual([30, 120]);
    expect(() => init.fans([])).toThrow(ShapeError);
  });

  it("draw from the documented distributions", () => {
    seed(11);
    // Glorot uniform on [300, 100]: bound √(6/400), variance 2/400 = 0.005
    const gu = stats(init.glorotUniform([300, 100]).data);
    expect(gu.maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / 400));
    expect(gu.variance).toBeCloseTo(0.005, 3);
    // Glorot normal: variance 2/400 = 0.005
    expect(stats(init.glorotNormal([300, 100]).data).variance).toBeCloseTo(0.005, 3);
    // He normal: variance 2/fanIn = 2/100 = 0.02
    expect(stats(init.heNormal([300, 100]).data).variance).toBeCloseTo(0.02, 2);
    // He uniform: bound √(6/100), variance 0.02
    const hu = stats(init.heUniform([300, 100]).data);
    expect(hu.maxAbs).toBeLessThanOrEqual(Math.sqrt(0.06));
    expect(hu.variance).toBeCloseTo(0.02, 2);
    // uniform(−2, 3): mean 0.5, variance 25/12
    const u = stats(init.uniform([30000], -2, 3).data);
    expect(u.mean).toBeCloseTo(0.5, 1);
    expect(u.variance).toBeCloseTo(25 / 12, 1);
    // normal(1, 0.5): mean 1, variance 0.25
    const n = stats(init.normal([30000], 1, 0.5, { dtype: "float64" }).data);
    expect(n.mean).toBeCloseTo(1, 1);
    expect(n.variance).toBeCloseTo(0.25, 2);
    // gain scales the standard deviation
    expect(stats(init.glorotNormal([300, 100], { gain: 2 }).data).variance).toBeCloseTo(0.02, 2);
    expect(Array.from(init.zeros([3, 2]).data)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("are seeded: the same seed or generator gives the same values", () => {
    seed(12);
    const a = init.glorotUniform([5, 4]);
    const b = init.normal([6]);
    seed(12);
    expect(Array.from(init.glorotUniform([5, 4]).data)).toEqual(Array.from(a.data));
    expect(Array.from(init.normal([6]).data)).toEqual(Array.from(b.data));
    const r1 = init.heNormal([3, 3], { random: new Random(5) });
    const r2 = init.heNormal([3, 3], { random: new Random(5) });
    expect(Array.from(r1.data)).toEqual(Array.from(r2.data));
    expect(init.uniform([2], 0, 1, { requiresGrad: true }).requiresGrad).toBe(true);
    expect(init.uniform([2], 0, 1, { dtype: "float64" }).dtype).toBe("float64");
  });

  it("reject bad arguments", () => {
    expect(() => init.uniform([2], 1, 0)).toThrow(ValueError);
    expect(() => init.normal([2], 0, -1)).toThrow(ValueError);
    expect(() => init.glorotUniform([0, 3])).toThrow(/zero fan/);
    expect(() => init.glorotUniform([2, 2], { gain: Number.NaN })).toThrow(ValueError);
    expect(() => init.zeros([2], { dtype: "int32" as never })).toThrow(/float32 or float64/);
  });
});
