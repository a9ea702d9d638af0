// Numerics at the edges, against PyTorch 1.13: fixtures/pytorch-numerics.json is written by
// fixtures/pytorch-numerics.py (run with PyTorch; the suite only reads the JSON).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  crossEntropy,
  getBackend,
  gradcheck,
  logSoftmax,
  logSumExp,
  mul,
  pow,
  setBackend,
  sum,
  tensor,
  type Tensor,
} from "../../src/index.js";

interface LogSoftmaxCase {
  input: number[];
  output: number[];
  grad: number[];
  crossEntropy: number;
  crossEntropyGrad: number[];
}
interface PowCase {
  a: number;
  b: number;
  output: number;
  gradA: number;
  gradB: number;
}
// Non-finite values are written as the strings "Infinity", "-Infinity" and "NaN" (JSON has no such numbers).
const reference = JSON.parse(
  readFileSync(new URL("./fixtures/pytorch-numerics.json", import.meta.url), "utf8"),
  (_key, value: unknown) =>
    value === "Infinity" || value === "-Infinity" || value === "NaN" ? Number(value) : value,
) as {
  upstream: number[];
  logSoftmax: Record<"float32" | "float64", LogSoftmaxCase[]>;
  pow: PowCase[];
};

/** Expects `actual` to match `expected` entry by entry, within a relative tolerance (and ±Inf exactly). */
function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (!Number.isFinite(e)) expect(a).toBe(e);
    else expect(Math.abs(a - e)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(e)));
  }
}

/** logSoftmax, its gradient for the fixture's upstream, and crossEntropy (target 1) with its gradient. */
function logSoftmaxFigures(row: readonly number[], dtype: "float32" | "float64") {
  const x = tensor(row as number[], { dtype, requiresGrad: true });
  const y = logSoftmax(x);
  sum(mul(y, tensor(reference.upstream, { dtype }))).backward();
  const logits = tensor([row as number[]], { dtype, requiresGrad: true });
  const loss = crossEntropy(logits, [1]);
  loss.backward();
  return {
    output: Array.from(y.data),
    grad: Array.from(x.grad!.data),
    crossEntropy: loss.item(),
    crossEntropyGrad: Array.from(logits.grad!.data),
  };
}

const backends = ["js", "wasm"] as const;

/** Runs `fn` on each backend, restoring the one the suite runs on. */
function onEachBackend<T>(fn: () => T): T[] {
  const previous = getBackend();
  try {
    return backends.map((name) => {
      setBackend(name);
      return fn();
    });
  } finally {
    setBackend(previous);
  }
}

describe("logSoftmax and crossEntropy with huge logits match PyTorch", () => {
  for (const dtype of ["float64", "float32"] as const) {
    const tolerance = dtype === "float64" ? 1e-12 : 1e-6;
    for (const c of reference.logSoftmax[dtype]) {
      it(`${dtype} [${c.input.join(", ")}]`, () => {
        for (const figures of onEachBackend(() => logSoftmaxFigures(c.input, dtype))) {
          expectClose(figures.output, c.output, tolerance);
          expectClose(figures.grad, c.grad, tolerance);
          expectClose([figures.crossEntropy], [c.crossEntropy], tolerance);
          expectClose(figures.crossEntropyGrad, c.crossEntropyGrad, tolerance);
        }
      });
    }
  }

  it("gives −ln 3 for three equal logits at every magnitude, in float32 and float64", () => {
    // The shift by the maximum is exact (x − max = 0); adding ln 3 back to a huge maximum would round it away.
    for (const dtype of ["float32", "float64"] as const) {
      for (const size of [0, 1, 1e7, 1e15, 1e30, -1e30, 3e38]) {
        const [js, wasm] = onEachBackend(() =>
          Array.from(logSoftmax(tensor([size, size, size], { dtype })).data),
        );
        expect(js).toEqual(wasm);
        expectClose(js!, [-Math.log(3), -Math.log(3), -Math.log(3)], dtype === "float64" ? 1e-15 : 1e-7);
      }
    }
  });

  it("keeps logSumExp's value max + ln Σ exp(x − max) (the rounding is in the result itself)", () => {
    // ln(3e¹⁵) with three equal 1e15: 1e15 + ln 3 is 1e15 + 1.125 in float64 (its spacing there is 0.125).
    expect(logSumExp(tensor([1e15, 1e15, 1e15], { dtype: "float64" })).item()).toBe(1e15 + 1.125);
    expect(logSumExp(tensor([1, 2, 3], { dtype: "float64" })).item()).toBeCloseTo(3.40760596444438, 14);
  });

  it("still passes the float64 finite-difference gradcheck on ordinary and shifted logits", () => {
    const rows = [
      [0.3, -1.2, 2.5, 0.1],
      [1000.3, 998.8, 1002.5, 1000.1],
    ];
    for (const row of rows) {
      const x = tensor([row], { dtype: "float64", requiresGrad: true });
      expect(gradcheck((t: Tensor) => logSoftmax(t), [x]).passed).toBe(true);
      expect(gradcheck((t: Tensor) => crossEntropy(t, [2]), [x]).passed).toBe(true);
    }
  });
});

describe("pow at a zero base matches PyTorch", () => {
  for (const c of reference.pow) {
    it(`pow(${c.a}, ${c.b}): value ${c.output}, gradients ${c.gradA} and ${c.gradB}`, () => {
      for (const figures of onEachBackend(() => {
        const a = tensor(c.a, { dtype: "float64", requiresGrad: true });
        const b = tensor(c.b, { dtype: "float64", requiresGrad: true });
        const y = pow(a, b);
        y.backward();
        return [y.item(), a.grad!.item(), b.grad!.item()];
      })) {
        expectClose(figures, [c.output, c.gradA, c.gradB], 1e-14);
      }
    });
  }

  it("gives the issue's figures: pow(0, 2) has ∂/∂b = 0; pow(0, 0) has gradients 0 and 0", () => {
    // 0ᵇ = 0 for every b > 0, so ∂/∂b = 0 at b = 2 (not 0·ln 0 = NaN); at b = 0, b·aᵇ⁻¹ = 0 (not 0·∞).
    for (const [av, bv, expected] of [
      [0, 2, [0, 0]],
      [0, 0, [0, 0]],
    ] as const) {
      const a = tensor([av], { dtype: "float64", requiresGrad: true });
      const b = tensor([bv], { dtype: "float64", requiresGrad: true });
      sum(pow(a, b)).backward();
      expect([a.grad!.item(), b.grad!.item()]).toEqual(expected);
    }
  });

  it("keeps the float64 gradcheck at a zero base (as a function of the exponent) and elsewhere", () => {
    // b ↦ 0ᵇ is 0 around b = 2 and b = 0.7, so central differences give 0 there, as the rule does.
    for (const bv of [2, 0.7, 3]) {
      const b = tensor([bv], { dtype: "float64", requiresGrad: true });
      expect(gradcheck((t: Tensor) => pow(tensor([0], { dtype: "float64" }), t), [b]).passed).toBe(true);
    }
    const a = tensor([0.5, 1.5, 2], { dtype: "float64", requiresGrad: true });
    const b = tensor([0, 2, -1.5], { dtype: "float64", requiresGrad: true });
    expect(gradcheck((x: Tensor, y: Tensor) => pow(x, y), [a, b]).passed).toBe(true);
  });
});
