/**
 * The simplifier's rules, one by one, through the printed text (which is what a person reads).
 */
import { describe, expect, it } from "vitest";
import {
  ONE,
  add,
  constant,
  divide,
  hadamard,
  identity,
  indicator,
  matmul,
  negate,
  ones,
  power,
  subtract,
  sum,
  transpose,
  variable,
  zero,
} from "../../src/calculus/expression/expr.js";
import { call } from "../../src/calculus/expression/functions.js";
import { simplify } from "../../src/calculus/4-simplify/simplify.js";
import { toLatex, toText } from "../../src/calculus/5-output/print.js";
import { SCALAR, matrixShape, vectorShape } from "../../src/calculus/expression/shape.js";

const n = vectorShape("n");
const A = variable("A", matrixShape("n", "n"));
const B = variable("B", matrixShape("n", "n"));
const W = variable("W", matrixShape("n", "m"));
const x = variable("x", n);
const y = variable("y", n);
const u = variable("u", n);
const s = variable("s", SCALAR);
const t = variable("t", SCALAR);
const sigma = (e: Parameters<typeof call>[1][0]) => call("sigmoid", [e]);

describe("sums", () => {
  it("collect like terms and drop zeros", () => {
    expect(toText(add(A, A))).toBe("2A");
    expect(toText(sum([x, y, negate(x), zero(n)]))).toBe("y");
    expect(toText(subtract(A, A))).toBe("0");
    expect(toText(sum([constant(1), constant(2), s]))).toBe("3 + s");
    expect(toText(add(x, ones(n)))).toBe("x + 1");
  });

  it("put positive terms first", () => {
    expect(toText(sum([negate(y), call("softmax", [x])]))).toBe("softmax(x) − y");
    expect(toText(subtract(ONE, power(call("tanh", [x]), 2)))).toBe("1 − tanh²(x)");
  });
});

describe("elementwise products", () => {
  it("merge equal bases and cancel", () => {
    expect(toText(hadamard(sigma(s), power(sigma(s), -1), t))).toBe("t");
    expect(toText(hadamard(x, x, x))).toBe("x³");
    expect(toText(divide(x, y))).toBe("x ⊘ y");
    expect(toText(divide(x, s))).toBe("x / s");
    expect(toText(hadamard(constant(2), s, x))).toBe("2sx");
  });

  it("print coefficients as fractions and roots with √", () => {
    expect(toText(hadamard(constant(0.5), power(s, -0.5)))).toBe("1 / (2√s)");
    expect(toText(hadamard(constant(-1), x, y))).toBe("−x ∘ y");
    expect(toText(divide(s, constant(3)))).toBe("s / 3");
  });
});

describe("matrix products", () => {
  it("move scalars in front and drop identities", () => {
    expect(toText(matmul([transpose(A), hadamard(constant(2), subtract(matmul([A, x]), y))]))).toBe(
      "2Aᵀ(Ax − y)",
    );
    expect(toText(matmul([identity("n"), A, identity("n")]))).toBe("A");
    expect(toText(matmul([A, zero(n)]))).toBe("0");
  });

  it("let diagonal matrices act elementwise", () => {
    expect(toText(matmul([call("diag", [x]), y]))).toBe("x ∘ y");
    expect(toText(matmul([call("diag", [x]), call("diag", [y])]))).toBe("diag(x ∘ y)");
    expect(toText(matmul([transpose(u), call("diag", [x])]))).toBe("(u ∘ x)ᵀ");
  });
});

describe("transposes", () => {
  it("cancel in pairs and stay on scalars", () => {
    expect(toText(transpose(transpose(A)))).toBe("A");
    expect(toText(transpose(s))).toBe("s");
    expect(toText(transpose(identity("n")))).toBe("I");
  });

  it("move inside only when that leaves fewer of them", () => {
    expect(toText(transpose(matmul([transpose(x), transpose(A)])))).toBe("Ax");
    expect(toText(transpose(matmul([A, B])))).toBe("(AB)ᵀ");
    expect(toText(transpose(add(transpose(A), B)))).toBe("A + Bᵀ");
    expect(toText(transpose(call("inv", [A])))).toBe("A⁻ᵀ");
    expect(toText(transpose(call("tanh", [transpose(A)])))).toBe("tanh(A)");
  });
});

describe("functions", () => {
  it("simplify where a rule applies", () => {
    expect(toText(call("sum", [ones(n)]))).toBe("n");
    expect(toText(call("tr", [identity("n")]))).toBe("n");
    expect(toText(call("sum", [hadamard(s, x)]))).toBe("s sum(x)");
    expect(toText(call("diag", [ones(n)]))).toBe("I");
    expect(toText(call("inv", [call("inv", [A])]))).toBe("A");
    expect(toText(call("exp", [constant(0)]))).toBe("1");
    expect(toText(call("max", [x, x]))).toBe("x");
    expect(toText(indicator(constant(2), constant(2)))).toBe("1/2");
  });
});

describe("factoring and expansion", () => {
  it("take a common matrix factor out of a sum", () => {
    expect(toText(simplify(add(matmul([A, x]), matmul([transpose(A), x]))))).toBe("(A + Aᵀ)x");
    expect(
      toText(simplify(subtract(matmul([call("softmax", [x]), transpose(x)]), matmul([y, transpose(x)])))),
    ).toBe("(softmax(x) − y)xᵀ");
    expect(toText(simplify(add(matmul([transpose(x), A]), matmul([transpose(x), B]))))).toBe("xᵀ(A + B)");
  });

  it("take a common elementwise factor and a common integer out", () => {
    expect(toText(simplify(subtract(sigma(x), power(sigma(x), 2))))).toBe("σ(x) ∘ (1 − σ(x))");
    expect(toText(simplify(add(hadamard(constant(2), x), hadamard(constant(4), y))))).toBe("2(x + 2y)");
  });

  it("expand only when terms cancel", () => {
    // −y(1 − σ) + (1 − y)σ = σ − y
    const p = sigma(s);
    const e = add(hadamard(negate(t), subtract(ONE, p)), hadamard(subtract(ONE, t), p));
    expect(toText(simplify(e))).toBe("σ(s) − t");
    // σ(1 − σ) has nothing to cancel: it stays factored.
    expect(toText(simplify(hadamard(p, subtract(ONE, p))))).toBe("σ(s)(1 − σ(s))");
    expect(toText(simplify(hadamard(u, subtract(ONE, power(call("tanh", [x]), 2)))))).toBe(
      "u ∘ (1 − tanh²(x))",
    );
  });
});

describe("printing", () => {
  it("juxtaposes single letters and groups tightly, named quantities and functions loosely", () => {
    expect(toText(matmul([A, x]))).toBe("Ax");
    expect(toText(matmul([transpose(u), call("tanh", [matmul([A, x])])]))).toBe("uᵀ tanh(Ax)");
    const W1 = variable("W1", matrixShape("m", "n"));
    expect(toText(matmul([W1, x]))).toBe("W1 x");
    expect(toText(hadamard(call("det", [A]), transpose(call("inv", [A]))))).toBe("det(A) A⁻ᵀ");
    expect(toText(call("norm2", [subtract(matmul([A, x]), y)]))).toBe("‖Ax − y‖");
    expect(W.shape).toEqual(matrixShape("n", "m"));
    expect(toText(indicator(x, constant(0)))).toBe("1(x > 0)");
    expect(toText(transpose(ones(n)))).toBe("𝟏ᵀ");
  });

  it("writes LaTeX", () => {
    expect(toLatex(matmul([transpose(A), hadamard(constant(2), subtract(matmul([A, x]), y))]))).toBe(
      "2 A^{\\top} \\left(A x - y\\right)",
    );
    expect(toLatex(divide(x, call("norm2", [x])))).toBe("\\frac{x}{\\left\\lVert x \\right\\rVert}");
    expect(toLatex(transpose(call("inv", [A])))).toBe("A^{-\\top}");
    expect(toLatex(variable("W1", SCALAR))).toBe("W_{1}");
    expect(toLatex(sigma(s))).toBe("\\sigma\\left(s\\right)");
  });
});
