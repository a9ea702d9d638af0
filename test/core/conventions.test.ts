import { describe, expect, it } from "vitest";
import {
  abs,
  equal,
  greater,
  greaterEqual,
  less,
  lessEqual,
  max,
  maximum,
  min,
  minimum,
  relu,
  sign,
  tensor,
} from "../../src/index.js";

describe("gradient conventions at kinks and ties", () => {
  it("maximum splits the gradient evenly at a tie", () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([1, 5, 0], { requiresGrad: true });
    maximum(a, b).sum().backward();
    // tie at 0 → ½ each; b wins at 1; a wins at 2
    expect(Array.from(a.grad!.data)).toEqual([0.5, 0, 1]);
    expect(Array.from(b.grad!.data)).toEqual([0.5, 1, 0]);
  });

  it("minimum splits the gradient evenly at a tie", () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([1, 5, 0], { requiresGrad: true });
    minimum(a, b).sum().backward();
    expect(Array.from(a.grad!.data)).toEqual([0.5, 1, 0]);
    expect(Array.from(b.grad!.data)).toEqual([0.5, 0, 1]);
  });

  it("max over an axis splits the gradient among tied maxima (like PyTorch's amax)", () => {
    const x = tensor(
      [
        [3, 1, 3],
        [0, 2, 1],
      ],
      { requiresGrad: true },
    );
    max(x, 1).sum().backward();
    // row 0 has two maxima (3, 3) → ½ each; row 1 has one (2)
    expect(x.grad!.toArray()).toEqual([
      [0.5, 0, 0.5],
      [0, 1, 0],
    ]);
    const y = tensor([2, 2, 2, 1], { requiresGrad: true });
    max(y).backward();
    expect(Array.from(y.grad!.data)).toEqual([1 / 3, 1 / 3, 1 / 3, 0].map(Math.fround));
  });

  it("min over all axes splits among ties", () => {
    const x = tensor([1, 4, 1], { requiresGrad: true });
    min(x).backward();
    expect(Array.from(x.grad!.data)).toEqual([0.5, 0, 0.5]);
  });

  it("relu'(0) = 0 and abs'(0) = 0", () => {
    const x = tensor([-1, 0, 2], { requiresGrad: true });
    relu(x).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([0, 0, 1]);
    const y = tensor([-1, 0, 2], { requiresGrad: true });
    abs(y).sum().backward();
    expect(Array.from(y.grad!.data)).toEqual([-1, 0, 1]);
  });

  it("comparisons and sign are not differentiable: they never require grad", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    for (const out of [
      greater(x, 1),
      greaterEqual(x, 1),
      less(x, 1),
      lessEqual(x, 1),
      equal(x, 1),
      sign(x),
    ]) {
      expect(out.requiresGrad).toBe(false);
    }
    expect(Array.from(greater(x, 1).data)).toEqual([0, 1]);
    expect(Array.from(lessEqual(x, 1).data)).toEqual([1, 0]);
    expect(Array.from(sign(tensor([-3, 0, 2])).data)).toEqual([-1, 0, 1]);
  });
});
