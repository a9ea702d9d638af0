import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import {
  abs,
  cos,
  detectAnomaly,
  div,
  exp,
  getBackend,
  log,
  maximum,
  minimum,
  mul,
  neg,
  pow,
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

/**
 * ∂ sum(f(inputs) · w) for the inputs that need it (null for the others), with or without a hook on f's output,
 * and how many backend calls wrote over an upstream gradient (the product with w may, in both runs; f's rule only
 * without the hook).
 */
function gradients(
  f: (...inputs: Tensor[]) => Tensor,
  inputs: readonly { values: number[]; requiresGrad: boolean }[],
  ws: number[],
  dtype: "float32" | "float64",
  hooked: boolean,
): { grads: (number[] | null)[]; overwritten: number } {
  const backend = getBackend();
  const binary = vi.spyOn(backend, "binary");
  const activation = backend.activationBackward ? vi.spyOn(backend, "activationBackward") : null;
  try {
    const xs = inputs.map(({ values, requiresGrad }) => tensor(values, { dtype, requiresGrad }));
    const y = f(...xs);
    if (hooked) y.registerHook(() => undefined);
    const w = tensor(ws, { dtype });
    binary.mockClear();
    activation?.mockClear();
    sum(y.mul(w)).backward();
    // Calls that wrote over an upstream gradient (their output is their first input, or g for the activations).
    const overwritten =
      binary.mock.calls.filter((call) => call[5] === call[1]).length +
      (activation?.mock.calls.filter((call) => call[3] === call[2]).length ?? 0);
    return { grads: xs.map((x) => (x.requiresGrad ? Array.from(x.grad!.data) : null)), overwritten };
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
            const run = (hooked: boolean) =>
              gradients(f, [{ values: xs, requiresGrad: true }], ws, dtype, hooked);
            const free = run(false);
            const seen = run(true);
            expect(free.grads).toEqual(seen.grads);
            // f's rule wrote over its upstream without the hook only (neg's local derivative is the number −1:
            // a negation op, not written over).
            expect(free.overwritten - seen.overwritten).toBe(name === "neg" ? 0 : 1);
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  // Two inputs: only the gradient computed last may be written over the upstream (the first still reads it).
  const binaryOps: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ["mul", mul],
    ["div", div],
    ["pow", pow],
    ["maximum", maximum],
    ["minimum", minimum],
  ];
  for (const [name, f] of binaryOps) {
    it(`${name}: the same bits as into new arrays, with one input or both needing a gradient (fast-check)`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: 0.1, max: 3, noNaN: true }), { minLength: 1, maxLength: 200 }),
          fc.boolean(),
          fc.constantFrom("a", "b", "both"),
          fc.boolean(),
          (values, f64, wanted, broadcast) => {
            const dtype = f64 ? "float64" : "float32";
            const bValues = broadcast ? [1.5] : values.map((v, i) => v * 0.5 + (i % 3));
            const ws = values.map((_, i) => ((i * 5) % 7) - 3 + 0.5);
            const run = (hooked: boolean) =>
              gradients(
                f,
                [
                  { values, requiresGrad: wanted !== "b" },
                  { values: bValues, requiresGrad: wanted !== "a" },
                ],
                ws,
                dtype,
                hooked,
              );
            const free = run(false);
            const seen = run(true);
            expect(free.grads).toEqual(seen.grads);
            // f's rule writes over its upstream without the hook only (two calls for div's ∂b: a multiply, then a
            // divide); with inputs of one shape, the last gradient it computes always can.
            const own = free.overwritten - seen.overwritten;
            expect(own).toBeLessThanOrEqual(2);
            if (broadcast) expect(own).toBeGreaterThanOrEqual(0);
            else expect(own).toBeGreaterThan(0);
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  it("not under anomaly mode, which checks each op of a rule to name the one that made a NaN or infinity", () => {
    const xs = [0.5, -1, 2];
    const ws = [1, 2, 3];
    const run = () => gradients(exp, [{ values: xs, requiresGrad: true }], ws, "float64", false);
    const plain = run();
    const checked = detectAnomaly(run);
    expect(plain.overwritten).toBeGreaterThan(0);
    expect(checked.overwritten).toBe(0);
    expect(checked.grads).toEqual(plain.grads);
  });
});
