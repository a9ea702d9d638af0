/**
 * The suite of the issue: every expression is derived, printed, and its derivatives are checked numerically
 * at random points against chainrule's backpropagation and against central finite differences (float64).
 */
import { describe, expect, it } from "vitest";
import {
  add,
  checkDerivation,
  derive,
  matmul,
  maximum,
  sigmoid,
  tanh,
  relu,
  tensor,
  type Derivation,
  type Tensor,
} from "../../src/index.js";
import { expectClose } from "../helpers.js";

type Case = { expression: string; wrt: string[]; shapes: Record<string, string>; order?: 1 | 2 };

const NETWORK = { W: "n×m", x: "m", b: "n", u: "n" };
const SQUARE = { A: "n×n", B: "n×n", X: "n×n", x: "n", a: "n", b: "n", y: "n" };
const ALL = ["u", "W", "b", "x"];

const CASES: Case[] = [
  // The lecture's network with respect to u, W, b and x, for three activations, and the full classifier.
  { expression: "u' * tanh(W*x + b)", wrt: ALL, shapes: NETWORK },
  { expression: "u' * sigmoid(W*x + b)", wrt: ALL, shapes: NETWORK },
  { expression: "u' * relu(W*x + b)", wrt: ALL, shapes: NETWORK },
  { expression: "sigmoid(u' * tanh(W*x + b))", wrt: ALL, shapes: NETWORK },
  // Logistic regression and softmax cross-entropy.
  {
    expression: "-y*log(sigmoid(w'*x)) - (1-y)*log(1-sigmoid(w'*x))",
    wrt: ["w", "y"],
    shapes: { w: "m", x: "m", y: "scalar" },
  },
  { expression: "log(1 + exp(w'*x)) - y*(w'*x)", wrt: ["w"], shapes: { w: "m", x: "m", y: "scalar" } },
  { expression: "lse(W*x) - y'*W*x", wrt: ["W", "x", "y"], shapes: { W: "n×m", x: "m", y: "n" } },
  {
    expression: "lse(W*x + b) - y'*(W*x + b)",
    wrt: ["W", "b", "x"],
    shapes: { W: "n×m", x: "m", b: "n", y: "n" },
  },
  // Matrix Cookbook classics.
  { expression: "a'*x", wrt: ["x", "a"], shapes: SQUARE },
  { expression: "x'*A*x", wrt: ["x", "A"], shapes: SQUARE },
  { expression: "tr(A*X)", wrt: ["X"], shapes: SQUARE },
  { expression: "tr(X'*A*X)", wrt: ["X"], shapes: SQUARE },
  { expression: "tr(A*X*B)", wrt: ["X"], shapes: SQUARE },
  { expression: "norm2(A*x - b)^2", wrt: ["x", "A", "b"], shapes: { A: "n×m", x: "m", b: "n" } },
  { expression: "det(X)", wrt: ["X"], shapes: SQUARE },
  { expression: "logdet(X)", wrt: ["X"], shapes: SQUARE },
  { expression: "tr(inv(X)*A)", wrt: ["X", "A"], shapes: SQUARE },
  { expression: "a'*X*b", wrt: ["X", "a", "b"], shapes: SQUARE },
  { expression: "tr(X*X)", wrt: ["X"], shapes: SQUARE },
  { expression: "tr(X'*X)", wrt: ["X"], shapes: SQUARE },
  { expression: "norm2(X - A)^2", wrt: ["X", "A"], shapes: SQUARE },
  { expression: "det(X)^2 + log(det(X))", wrt: ["X"], shapes: SQUARE },
  { expression: "x'*x", wrt: ["x"], shapes: SQUARE },
  { expression: "sqrt(x'*x)", wrt: ["x"], shapes: SQUARE },
  { expression: "norm2(x)", wrt: ["x"], shapes: SQUARE },
  { expression: "exp(a'*x)", wrt: ["x", "a"], shapes: SQUARE },
  { expression: "sum(exp(x))", wrt: ["x"], shapes: SQUARE },
  { expression: "lse(x)", wrt: ["x"], shapes: SQUARE },
  // Jacobians.
  { expression: "W*x + b", wrt: ["x", "b"], shapes: NETWORK },
  { expression: "tanh(z)", wrt: ["z"], shapes: { z: "n" } },
  { expression: "softmax(z)", wrt: ["z"], shapes: { z: "n" } },
  { expression: "softmax(W*x)", wrt: ["x"], shapes: NETWORK },
  { expression: "sigmoid(W*x + b)", wrt: ["x", "b"], shapes: NETWORK },
  { expression: "relu(W*x) .* b", wrt: ["x", "b"], shapes: NETWORK },
  { expression: "c*z + exp(c)*z", wrt: ["c", "z"], shapes: { c: "scalar", z: "n" } },
  // Hessians.
  { expression: "x'*A*x", wrt: ["x"], shapes: SQUARE, order: 2 },
  { expression: "lse(x)", wrt: ["x"], shapes: SQUARE, order: 2 },
  { expression: "norm2(A*x - b)^2", wrt: ["x"], shapes: { A: "n×m", x: "m", b: "n" }, order: 2 },
  { expression: "(a'*x)^2 + sum(exp(x))", wrt: ["x"], shapes: SQUARE, order: 2 },
  {
    expression: "c*exp(t^2) + sin(t)*cos(c)",
    wrt: ["c", "t"],
    shapes: { c: "scalar", t: "scalar" },
    order: 2,
  },
  // Elementwise algebra, max, reductions and diagonals.
  { expression: "sum(x .* y)", wrt: ["x", "y"], shapes: SQUARE },
  { expression: "sum(x ./ y) + sum(sqrt(y))", wrt: ["x", "y"], shapes: SQUARE },
  { expression: "sum(max(x, y))", wrt: ["x", "y"], shapes: SQUARE },
  {
    expression: "(x + y) * max(y, z)",
    wrt: ["x", "y", "z"],
    shapes: { x: "scalar", y: "scalar", z: "scalar" },
  },
  { expression: "sum(abs(x)) + sum(sin(x) .* cos(y))", wrt: ["x", "y"], shapes: SQUARE },
  { expression: "sum(x.^3) + sum(x .^ y)", wrt: ["x", "y"], shapes: SQUARE },
  { expression: "a'*diag(x)*b + tr(diag(x)*A)", wrt: ["x"], shapes: SQUARE },
  { expression: "sum(diag(X)) + sum(X*x) / 2", wrt: ["X", "x"], shapes: SQUARE },
  { expression: "norm2(W*x + b - y)^2 / 2", wrt: ["W", "b"], shapes: { ...NETWORK, y: "n" } },
  { expression: "softmax(z)'*y", wrt: ["z"], shapes: { z: "n", y: "n" } },
  {
    expression: "u'*tanh(W2*tanh(W1*x + b1) + b2)",
    wrt: ["W1", "b1", "W2", "b2", "u", "x"],
    shapes: { W1: "h×m", b1: "h", W2: "n×h", b2: "n", u: "n", x: "m" },
  },
  { expression: "2*x - 3*A*x + 1", wrt: ["x"], shapes: SQUARE },
];

describe("verification of derivations against backprop and finite differences", () => {
  it("has at least 40 expressions", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(
    CASES.map(
      (c) => [`${c.expression} wrt ${c.wrt.join(",")}${c.order === 2 ? " (Hessian)" : ""}`, c] as const,
    ),
  )("%s", (_, c) => {
    const d = derive(c.expression, { wrt: c.wrt, shapes: c.shapes, order: c.order });
    for (const w of c.wrt) {
      const g = d.gradients[w]!;
      expect(g.text.length).toBeGreaterThan(0);
      expect(g.latex.length).toBeGreaterThan(0);
      expect(g.text).not.toMatch(/undefined|NaN/);
    }
    expect(d.toText({ steps: true }).length).toBeGreaterThan(0);
    for (const seed of [0, 1]) {
      const report = checkDerivation(d, { seed });
      expect(report.variables.map((v) => v.variable)).toEqual(c.wrt);
      expect(report.maxBackpropError, `backprop, seed ${seed}`).toBeLessThanOrEqual(1e-9);
      expect(report.maxFiniteDifferenceError, `finite differences, seed ${seed}`).toBeLessThanOrEqual(1e-5);
      expect(report.passed).toBe(true);
    }
  });
});

describe("checkDerivation", () => {
  it("fails a wrong derivative", () => {
    const d = derive("u' * tanh(W*x + b)", { wrt: ["b"], shapes: NETWORK });
    // Pretend the derivative forgot f': ∂f/∂b = u.
    const wrong: Derivation = {
      ...d,
      evaluate: (values) => {
        const right = d.evaluate(values);
        const u = values instanceof Map ? (values.get("u") as Tensor) : (values as Record<string, Tensor>).u!;
        return { value: right.value, gradients: { b: u } };
      },
    };
    const report = checkDerivation(wrong, { seed: 3 });
    expect(report.passed).toBe(false);
    expect(report.maxBackpropDifference).toBeGreaterThan(1e-3);
    expect(report.maxFiniteDifference).toBeGreaterThan(1e-3);
  });

  it("uses the sizes asked for and reports the values it drew", () => {
    const d = derive("u' * tanh(W*x + b)", { wrt: ["W"], shapes: NETWORK });
    const report = checkDerivation(d, { sizes: { n: 2, m: 5 }, seed: 7 });
    expect(report.sizes).toEqual({ n: 2, m: 5 });
    expect(report.values.W!.shape).toEqual([2, 5]);
    expect(report.values.x!.shape).toEqual([5]);
    expect(report.passed).toBe(true);
    expect(() => checkDerivation(d, { sizes: { n: 0 } })).toThrow(/positive integer/);
  });
});

describe("evaluate agrees with the same model written directly with chainrule's ops", () => {
  const W = tensor(
    [
      [0.5, -1.2, 0.3],
      [1.1, 0.4, -0.7],
    ],
    { dtype: "float64" },
  );
  const x = tensor([0.2, -0.5, 1.5], { dtype: "float64" });
  const b = tensor([0.1, -0.3], { dtype: "float64" });
  const u = tensor([1.5, -2], { dtype: "float64" });
  const values = { W, x, b, u };

  it.each([
    ["tanh", tanh],
    ["sigmoid", sigmoid],
    ["relu", relu],
  ] as const)("u'*%s(W*x + b): value and gradients equal .backward()'s", (name, f) => {
    const leaves = [W, x, b, u].map((t) => tensor(t.toArray(), { dtype: "float64", requiresGrad: true }));
    const [w, xx, bb, uu] = leaves as [Tensor, Tensor, Tensor, Tensor];
    const s = matmul(uu, f(add(matmul(w, xx), bb)));
    s.backward();
    const d = derive(`u' * ${name}(W*x + b)`, { wrt: ["u", "W", "b", "x"], shapes: NETWORK });
    const out = d.evaluate(values);
    expectClose(out.value, s, 1e-12);
    expectClose(out.gradients.W!, w.grad!, 1e-12);
    expectClose(out.gradients.b!, bb.grad!, 1e-12);
    expectClose(out.gradients.x!, xx.grad!, 1e-12);
    expectClose(out.gradients.u!, uu.grad!, 1e-12);
    // Each gradient's own evaluate gives the same numbers.
    expectClose(d.gradients.W!.evaluate(values), w.grad!, 1e-12);
  });

  it("the lecture's example by hand: f = (x + y) max(y, z) at (1, 2, 0)", () => {
    const d = derive("(x + y) * max(y, z)", {
      wrt: ["x", "y", "z"],
      shapes: { x: "scalar", y: "scalar", z: "scalar" },
    });
    const out = d.evaluate({ x: 1, y: 2, z: 0 });
    // a = x + y = 3, b = max(y, z) = 2, f = ab = 6; ∂f/∂x = b = 2, ∂f/∂y = b + a·1(y > z) = 5, ∂f/∂z = a·1(z > y) = 0
    expect(out.value.item()).toBe(6);
    expect(out.gradients.x!.item()).toBe(2);
    expect(out.gradients.y!.item()).toBe(5);
    expect(out.gradients.z!.item()).toBe(0);
    expect(d.gradients.y!.text).toBe("max(y, z) + (x + y) 1(y > z)");
    // At a tie the gradient is split, as backprop's max does: ∂f/∂y = 2 + 3·½, ∂f/∂z = 3·½.
    const tie = d.evaluate({ x: 1, y: 2, z: 2 });
    expect(tie.gradients.y!.item()).toBe(3.5);
    expect(tie.gradients.z!.item()).toBe(1.5);
    const y = tensor(2, { dtype: "float64", requiresGrad: true });
    const z = tensor(2, { dtype: "float64", requiresGrad: true });
    maximum(y, z).backward();
    expect([y.grad!.item(), z.grad!.item()]).toEqual([0.5, 0.5]);
  });
});
