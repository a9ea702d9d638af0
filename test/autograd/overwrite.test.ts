import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import {
  abs,
  cos,
  detectAnomaly,
  exp,
  getBackend,
  log,
  neg,
  relu,
  sigmoid,
  sin,
  sqrt,
  square,
  sum,
  tanh,
  tensor,
  type Tensor,
} from "../../src/index.js";

// A backward rule may write its gradient over its upstream gradient when the backward engine alone holds that
// gradient's array (autogradState.overwritable, set by src/autograd/engine.ts). The elementwise rules then run the
// same backend calls into the upstream's array instead of a new one, so the bits must not change. The reference
// run puts a hook on the op's output: a hook sees the upstream, which then may not be written over.

afterEach(() => {
  vi.restoreAllMocks();
});

const ops: [string, (x: Tensor) => Tensor, (v: number) => number][] = [
  ["exp", exp, (v) => v],
  ["log", log, (v) => Math.abs(v) + 0.1],
  ["sqrt", sqrt, (v) => Math.abs(v) + 0.1],
  ["abs", abs, (v) => v],
  ["relu", relu, (v) => v],
  ["sin", sin, (v) => v],
  ["cos", cos, (v) => v],
  ["square", square, (v) => v],
  ["neg", neg, (v) => v],
  ["tanh", tanh, (v) => v],
  ["sigmoid", sigmoid, (v) => v],
];

/** ∂ sum(f(x) · w)/∂x, with or without a hook on f(x); the arrays the backend wrote into the call's inputs. */
function gradient(
  f: (x: Tensor) => Tensor,
  xs: number[],
  ws: number[],
  dtype: "float32" | "float64",
  hooked: boolean,
): { grad: number[]; overwritten: boolean } {
  const backend = getBackend();
  const binary = vi.spyOn(backend, "binary");
  const activation = backend.activationBackward ? vi.spyOn(backend, "activationBackward") : null;
  try {
    const x = tensor(xs, { dtype, requiresGrad: true });
    const y = f(x);
    if (hooked) y.registerHook(() => undefined);
    const w = tensor(ws, { dtype });
    binary.mockClear();
    activation?.mockClear();
    sum(y.mul(w)).backward();
    // Written over: a call whose output is its first input (the upstream gradient).
    const overwritten =
      binary.mock.calls.some((call) => call[5] === call[1]) ||
      (activation?.mock.calls.some((call) => call[3] === call[2]) ?? false);
    return { grad: Array.from(x.grad!.data), overwritten };
  } finally {
    binary.mockRestore();
    activation?.mockRestore();
  }
}

describe("a backward rule writing over its upstream gradient", () => {
  for (const [name, f, domain] of ops) {
    it(`${name}: the same bits as into a new array, and written over only when no hook sees the upstream (fast-check)`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: 1, maxLength: 300 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 1000 }),
          (values, f64, s) => {
            const xs = values.map(domain);
            const ws = xs.map((_, i) => ((i * 7 + s) % 11) - 5 + 0.25);
            const dtype = f64 ? "float64" : "float32";
            const free = gradient(f, xs, ws, dtype, false);
            const seen = gradient(f, xs, ws, dtype, true);
            expect(free.grad).toEqual(seen.grad);
            expect(seen.overwritten).toBe(false);
            // neg's local derivative is the number −1 (a negation op, not written over).
            expect(free.overwritten).toBe(name !== "neg");
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  it("not under anomaly mode, which checks each op of a rule to name the one that made a NaN or infinity", () => {
    const xs = [0.5, -1, 2];
    const ws = [1, 2, 3];
    const plain = gradient(exp, xs, ws, "float64", false);
    const checked = detectAnomaly(() => gradient(exp, xs, ws, "float64", false));
    expect(plain.overwritten).toBe(true);
    expect(checked.overwritten).toBe(false);
    expect(checked.grad).toEqual(plain.grad);
  });
});
