/**
 * Property-based: random well-shaped expressions over scalars, vectors and matrices are derived and every
 * derivative is checked against backprop and finite differences. This exercises the simplifier's rewrites in
 * combinations no hand-written case covers; a rewrite that changed a value would fail here.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ValueError, checkDerivation, derive, expressionVariables } from "../../src/index.js";

const shapes = { a: "scalar", c: "scalar", x: "n", y: "n", A: "n×n", B: "n×n" };

const { S, V } = fc.letrec<{ S: string; V: string; M: string }>((tie) => ({
  S: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("a", "c", "2", "0.5"),
    tie("V").map((v) => `sum(${v})`),
    fc.tuple(tie("V"), tie("V")).map(([u, v]) => `(${u})'*(${v})`),
    tie("V").map((v) => `lse(${v})`),
    tie("V").map((v) => `norm2(${v})^2`),
    tie("M").map((m) => `tr(${m})`),
    fc.tuple(tie("S"), tie("S")).map(([p, q]) => `(${p})*(${q})`),
    fc.tuple(tie("S"), tie("S")).map(([p, q]) => `(${p}) - (${q})`),
    tie("S").map((p) => `tanh(${p})`),
    tie("S").map((p) => `sigmoid(${p})`),
    tie("S").map((p) => `log(1 + (${p})^2)`),
    fc.tuple(tie("S"), tie("S")).map(([p, q]) => `(${p}) / (1 + (${q})^2)`),
  ),
  V: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("x", "y"),
    fc.tuple(tie("M"), tie("V")).map(([m, v]) => `(${m})*(${v})`),
    fc.tuple(tie("V"), tie("V")).map(([u, v]) => `(${u}) + (${v})`),
    fc.tuple(tie("V"), tie("V")).map(([u, v]) => `(${u}) .* (${v})`),
    fc.tuple(tie("S"), tie("V")).map(([s, v]) => `(${s})*(${v})`),
    tie("V").map((v) => `tanh(${v})`),
    tie("V").map((v) => `softmax(${v})`),
    tie("V").map((v) => `sin(${v})`),
    fc.tuple(tie("V"), tie("V")).map(([u, v]) => `(${u}) ./ (1 + (${v}).^2)`),
  ),
  M: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("A", "B"),
    fc.tuple(tie("M"), tie("M")).map(([p, q]) => `(${p})*(${q})`),
    tie("M").map((m) => `(${m})'`),
    fc.tuple(tie("M"), tie("M")).map(([p, q]) => `(${p}) - (${q})`),
    fc.tuple(tie("V"), tie("V")).map(([u, v]) => `(${u})*(${v})'`),
    tie("V").map((v) => `diag(${v})`),
    fc.tuple(tie("S"), tie("M")).map(([s, m]) => `(${s})*(${m})`),
    tie("M").map((m) => `tanh(${m})`),
  ),
}));

function agrees(source: string, seed: number, kind: "gradient" | "jacobian" | "hessian"): void {
  const all = expressionVariables(source);
  // Gradients are taken with respect to every variable; Jacobians and Hessians with respect to the scalars
  // and vectors (with respect to a matrix they would be higher-order tensors).
  const wrt = kind === "gradient" ? all : all.filter((v) => v !== "A" && v !== "B");
  if (wrt.length === 0) return;
  let derivation;
  try {
    derivation = derive(source, { wrt, shapes, order: kind === "hessian" ? 2 : 1 });
  } catch (error) {
    // A Jacobian through a matrix that depends on the variable is a third-order tensor: refused, by design.
    if (error instanceof ValueError && /third-order tensor/.test(error.message)) return;
    throw error;
  }
  expect(derivation.kind).toBe(kind);
  const report = checkDerivation(derivation, { seed });
  expect(report.maxBackpropError, source).toBeLessThanOrEqual(1e-8);
  expect(report.maxFiniteDifferenceError, source).toBeLessThanOrEqual(1e-5);
}

describe("random expressions: derivatives agree with backprop and finite differences", () => {
  it("gradients of scalar expressions", () => {
    fc.assert(
      fc.property(S, fc.nat(5), (source, seed) => agrees(source, seed, "gradient")),
      { numRuns: 150, seed: 20240317 },
    );
  });

  it("Jacobians of vector expressions", () => {
    fc.assert(
      fc.property(V, fc.nat(5), (source, seed) => agrees(source, seed, "jacobian")),
      { numRuns: 150, seed: 20240318 },
    );
  });

  it("Hessians of scalar expressions", () => {
    fc.assert(
      fc.property(S, fc.nat(5), (source, seed) => agrees(source, seed, "hessian")),
      { numRuns: 120, seed: 20240319 },
    );
  });
});
