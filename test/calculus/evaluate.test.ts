import { describe, expect, it } from "vitest";
import { ShapeError, ValueError, derive, tensor } from "../../src/index.js";
import {
  diagMatrix,
  diagonal,
  indicatorGreater,
  norm2,
  outer,
  trace,
} from "../../src/calculus/numeric/tensor-ops.js";
import { gradcheck } from "../../src/index.js";
import { expectClose } from "../helpers.js";

const f64 = (v: Parameters<typeof tensor>[0]) => tensor(v, { dtype: "float64" });
const leaf = (v: Parameters<typeof tensor>[0]) => tensor(v, { dtype: "float64", requiresGrad: true });

describe("matrix functions built from primitives", () => {
  const X = f64([
    [1, 2],
    [3, 4],
  ]);
  it("values by hand", () => {
    expect(trace(X).item()).toBe(5); // 1 + 4
    expect(diagonal(X).toArray()).toEqual([1, 4]);
    expect(diagMatrix(f64([2, 3])).toArray()).toEqual([
      [2, 0],
      [0, 3],
    ]);
    expect(outer(f64([1, 2]), f64([3, 4, 5])).toArray()).toEqual([
      [3, 4, 5],
      [6, 8, 10],
    ]);
    expect(norm2(X).item()).toBeCloseTo(Math.sqrt(30), 14); // 1 + 4 + 9 + 16
    expect(indicatorGreater(f64([1, 2, 3]), 2).toArray()).toEqual([0, 0.5, 1]);
    expect(() => trace(f64([1, 2]))).toThrow(ShapeError);
    expect(() => outer(X, X)).toThrow(ShapeError);
  });

  it("are differentiable (gradcheck)", () => {
    const A = leaf([
      [0.3, -1.2, 0.5],
      [0.7, 0.1, -0.4],
      [1.1, 0.2, 0.9],
    ]);
    const v = leaf([0.4, -0.8, 1.3]);
    gradcheck(trace, [A]);
    gradcheck(diagonal, [A]);
    gradcheck(diagMatrix, [v]);
    gradcheck(norm2, [A]);
    gradcheck((a, b) => outer(a!, b!), [v, leaf([1, -2])]);
  });
});

describe("Derivation.evaluate", () => {
  const d = derive("u' * tanh(W*x + b)", { wrt: ["W", "b"], shapes: { W: "n×m", x: "m", b: "n", u: "n" } });
  const values = { W: [[1, 0, -1]], x: [0.5, 0.25, 2], b: [0.1], u: [2] };

  it("takes nested arrays, binds the dimensions and computes in float64", () => {
    // z = 0.5 − 2 + 0.1 = −1.4, δ = 2(1 − tanh²(−1.4)), ∂f/∂W = δ xᵀ, ∂f/∂b = δ
    const delta = 2 * (1 - Math.tanh(-1.4) ** 2);
    const out = d.evaluate(values);
    expect(out.value.dtype).toBe("float64");
    expectClose(out.value, 2 * Math.tanh(-1.4), 1e-14);
    expectClose(out.gradients.W!, [[delta * 0.5, delta * 0.25, delta * 2]], 1e-14);
    expectClose(out.gradients.b!, [delta], 1e-14);
  });

  it("converts float32 tensors and accepts a Map", () => {
    const out = d.evaluate(new Map(Object.entries(values).map(([k, v]) => [k, tensor(v)])));
    expect(out.gradients.W!.dtype).toBe("float64");
    expect(out.gradients.W!.shape).toEqual([1, 3]);
  });

  it("says what is wrong with the values", () => {
    expect(() => d.evaluate({ ...values, u: undefined as never })).toThrow(
      "evaluate: no value for u (declared n)",
    );
    expect(() => d.evaluate({ ...values, x: [[1, 2, 3]] })).toThrow(
      /x is declared m but its value has shape \[1, 3\]/,
    );
    expect(() => d.evaluate({ ...values, b: [1, 2] })).toThrow(ShapeError);
    // u comes first in the expression, so it sets n
    expect(() => d.evaluate({ ...values, b: [1, 2] })).toThrow(
      "evaluate: b has shape [2], so n = 2, but n = 1 from u",
    );
    expect(() => d.evaluate(null as never)).toThrow(ValueError);
    const scalar = derive("a*a", { wrt: "a", shapes: { a: "scalar" } });
    expect(scalar.gradients.a!.evaluate({ a: [3] }).item()).toBe(6);
    expect(() => scalar.evaluate({ a: [1, 2] })).toThrow(/declared a scalar/);
  });

  it("uses numeric dimensions as declared", () => {
    const fixed = derive("x'*A*x", { wrt: "x", shapes: { x: 2, A: [2, 2] } });
    expect(fixed.gradients.x!.text).toBe("(A + Aᵀ)x");
    // (A + Aᵀ)x with A = [[1, 2], [0, 1]], x = [1, 1]: A + Aᵀ = [[2, 2], [2, 2]]
    expect(
      fixed.gradients
        .x!.evaluate({
          x: [1, 1],
          A: [
            [1, 2],
            [0, 1],
          ],
        })
        .toArray(),
    ).toEqual([4, 4]);
    expect(() =>
      fixed.evaluate({
        x: [1, 1, 1],
        A: [
          [1, 2],
          [0, 1],
        ],
      }),
    ).toThrow(/declared 2/);
  });
});
