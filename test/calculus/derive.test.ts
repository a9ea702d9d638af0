import { describe, expect, it } from "vitest";
import { ParseError, ShapeError, ValueError, derive } from "../../src/index.js";

/** The lecture's network: z = Wx + b, h = f(z), s = uᵀh. */
const NETWORK = { W: "n×m", x: "m", b: "n", u: "n" };

function definitions(d: ReturnType<typeof derive>): string[] {
  return d.definitions.map((x) => `${x.name} = ${x.text}`);
}

describe("derive: the lecture's network s = uᵀ f(Wx + b)", () => {
  it("∂s/∂W = δ xᵀ and ∂s/∂b = δ with δ = u ∘ f'(z), δ computed once", () => {
    const d = derive("u' * tanh(W*x + b)", { wrt: ["W", "b"], shapes: NETWORK, name: "s" });
    expect(d.kind).toBe("gradient");
    expect(definitions(d)).toEqual(["z = Wx + b", "δ = u ∘ (1 − tanh²(z))"]);
    expect(d.gradients.W!.text).toBe("δ xᵀ");
    expect(d.gradients.W!.shape).toBe("n × m");
    expect(d.gradients.W!.label).toBe("∂s/∂W");
    expect(d.gradients.b!.text).toBe("δ");
    expect(d.gradients.b!.shape).toBe("n");
    expect(d.gradients.W!.expandedText).toBe("(u ∘ (1 − tanh²(Wx + b)))xᵀ");
    expect(d.gradients.W!.latex).toBe("\\delta \\, x^{\\top}");
  });

  it("∂s/∂b alone is u ∘ f'(z), with f' written out for tanh, sigmoid and relu", () => {
    const b = (f: string) => derive(`u' * ${f}(W*x + b)`, { wrt: "b", shapes: NETWORK, name: "s" });
    expect(b("tanh").gradients.b!.text).toBe("u ∘ (1 − tanh²(z))");
    expect(b("sigmoid").gradients.b!.text).toBe("u ∘ σ(z) ∘ (1 − σ(z))");
    expect(b("relu").gradients.b!.text).toBe("u ∘ 1(z > 0)");
    expect(definitions(b("sigmoid"))).toEqual(["z = Wx + b"]);
  });

  it("all four gradients at once reuse δ", () => {
    const d = derive("u' * sigmoid(W*x + b)", { wrt: ["u", "W", "b", "x"], shapes: NETWORK, name: "s" });
    expect(definitions(d)).toEqual(["z = Wx + b", "δ = u ∘ σ(z) ∘ (1 − σ(z))"]);
    expect(d.gradients.u!.text).toBe("σ(z)");
    expect(d.gradients.W!.text).toBe("δ xᵀ");
    expect(d.gradients.b!.text).toBe("δ");
    expect(d.gradients.x!.text).toBe("Wᵀ δ");
    expect(d.gradients.x!.shape).toBe("m");
  });

  it("the full classifier J = σ(uᵀ tanh(Wx + b)) names an error signal per layer", () => {
    const d = derive("sigmoid(u' * tanh(W*x + b))", {
      wrt: ["u", "W", "b", "x"],
      shapes: NETWORK,
      name: "J",
    });
    expect(definitions(d)).toEqual([
      "z = Wx + b",
      "s = uᵀ tanh(z)",
      "δ₂ = σ(s)(1 − σ(s))",
      "δ₁ = δ₂ u ∘ (1 − tanh²(z))",
    ]);
    expect(d.gradients.u!.text).toBe("δ₂ tanh(z)");
    expect(d.gradients.W!.text).toBe("δ₁ xᵀ");
    expect(d.gradients.b!.text).toBe("δ₁");
    expect(d.gradients.x!.text).toBe("Wᵀ δ₁");
  });

  it("two layers: δ₁ = (W2ᵀ δ₂) ∘ f'(z₁), backprop's recursion", () => {
    const d = derive("u'*tanh(W2*tanh(W1*x + b1) + b2)", {
      wrt: ["W1", "b1", "W2", "b2"],
      shapes: { W1: "h×m", b1: "h", W2: "n×h", b2: "n", u: "n", x: "m" },
    });
    expect(definitions(d)).toEqual([
      "z₁ = W1 x + b1",
      "z₂ = W2 tanh(z₁) + b2",
      "δ₂ = u ∘ (1 − tanh²(z₂))",
      "δ₁ = (W2ᵀ δ₂) ∘ (1 − tanh²(z₁))",
    ]);
    expect(d.gradients.W1!.text).toBe("δ₁ xᵀ");
    expect(d.gradients.b1!.text).toBe("δ₁");
    expect(d.gradients.W2!.text).toBe("δ₂ tanh(z₁)ᵀ");
    expect(d.gradients.b2!.text).toBe("δ₂");
  });
});

describe("derive: logistic regression and softmax cross-entropy", () => {
  it("binary cross-entropy of σ(wᵀx) has gradient (σ(s) − y)x: the terms cancel", () => {
    const d = derive("-y*log(sigmoid(w'*x)) - (1-y)*log(1-sigmoid(w'*x))", {
      wrt: "w",
      shapes: { w: "m", x: "m", y: "scalar" },
    });
    expect(definitions(d)).toEqual(["s = wᵀx"]);
    expect(d.gradients.w!.text).toBe("(σ(s) − y)x");
  });

  it("softmax cross-entropy lse(z) − yᵀz: ∂/∂W = δ xᵀ with δ = softmax(z) − y", () => {
    const d = derive("lse(W*x + b) - y'*(W*x + b)", {
      wrt: ["W", "b"],
      shapes: { W: "n×m", x: "m", b: "n", y: "n" },
    });
    expect(definitions(d)).toEqual(["z = Wx + b", "δ = softmax(z) − y"]);
    expect(d.gradients.W!.text).toBe("δ xᵀ");
    expect(d.gradients.b!.text).toBe("δ");
  });

  it("written without sharing, the common factor comes out of the sum", () => {
    const d = derive("lse(W*x) - y'*W*x", { wrt: "W", shapes: { W: "n×m", x: "m", y: "n" } });
    expect(d.gradients.W!.text).toBe("(softmax(z) − y)xᵀ");
  });
});

describe("derive: Matrix Cookbook classics", () => {
  const square = { A: "n×n", B: "n×n", X: "n×n", x: "n", a: "n", b: "n" };
  const cases: [string, string, string][] = [
    ["a'*x", "x", "a"],
    ["x'*A*x", "x", "(A + Aᵀ)x"],
    ["tr(A*X)", "X", "Aᵀ"],
    ["tr(X'*A*X)", "X", "(A + Aᵀ)X"],
    ["tr(A*X*B)", "X", "AᵀBᵀ"],
    ["norm2(A*x - b)^2", "x", "2Aᵀ(Ax − b)"],
    ["det(X)", "X", "det(X) X⁻ᵀ"],
    ["logdet(X)", "X", "X⁻ᵀ"],
    ["tr(inv(X)*A)", "X", "−X⁻ᵀAᵀX⁻ᵀ"],
    ["a'*X*b", "X", "abᵀ"],
    ["tr(X'*X)", "X", "2X"],
    ["x'*x", "x", "2x"],
    ["norm2(x)", "x", "x / ‖x‖"],
    ["sum(exp(x))", "x", "exp(x)"],
    ["lse(x)", "x", "softmax(x)"],
  ];
  it.each(cases)("∂(%s)/∂%s = %s", (expression, wrt, expected) => {
    const d = derive(expression, { wrt, shapes: square });
    expect(d.gradients[wrt]!.text).toBe(expected);
    expect(d.definitions).toEqual([]);
  });

  it("the gradient has the variable's shape, also for a non-square A", () => {
    const d = derive("norm2(A*x - b)^2", { wrt: ["x", "A"], shapes: { A: "n×m", x: "m", b: "n" } });
    expect(d.gradients.x!.shape).toBe("m");
    expect(d.gradients.A!.shape).toBe("n × m");
    // Both gradients reuse 2(Ax − b).
    expect(definitions(d)).toEqual(["δ = 2(Ax − b)"]);
    expect(d.gradients.x!.text).toBe("Aᵀ δ");
    expect(d.gradients.A!.text).toBe("δ xᵀ");
  });
});

describe("derive: Jacobians (∂f/∂x)_ij = ∂f_i/∂x_j, m × n", () => {
  it("∂(Wx + b)/∂x = W and ∂(Wx + b)/∂b = I", () => {
    const d = derive("W*x + b", { wrt: ["x", "b"], shapes: NETWORK });
    expect(d.kind).toBe("jacobian");
    expect(d.gradients.x!.text).toBe("W");
    expect(d.gradients.x!.shape).toBe("n × m");
    expect(d.gradients.b!.text).toBe("I");
    expect(d.gradients.b!.shape).toBe("n × n");
  });

  it("elementwise functions have diagonal Jacobians: ∂tanh(z)/∂z = diag(1 − tanh²(z))", () => {
    expect(derive("tanh(z)", { wrt: "z", shapes: { z: "n" } }).gradients.z!.text).toBe("diag(1 − tanh²(z))");
    expect(derive("relu(W*x)", { wrt: "x", shapes: NETWORK }).gradients.x!.text).toBe("diag(1(z > 0)) W");
  });

  it("∂softmax(z)/∂z = diag(p) − ppᵀ", () => {
    const d = derive("softmax(z)", { wrt: "z", shapes: { z: "n" } });
    expect(d.gradients.z!.text).toBe("diag(softmax(z)) − softmax(z) softmax(z)ᵀ");
  });

  it("a vector with respect to a scalar is a column (m × 1)", () => {
    const d = derive("c*z", { wrt: "c", shapes: { c: "scalar", z: "n" } });
    expect(d.gradients.c!.text).toBe("z");
    expect(d.gradients.c!.shape).toBe("n × 1");
  });
});

describe("derive: Hessians with order 2", () => {
  it("∂²(xᵀAx)/∂x² = A + Aᵀ", () => {
    const d = derive("x'*A*x", { wrt: "x", shapes: { x: "n", A: "n×n" }, order: 2 });
    expect(d.kind).toBe("hessian");
    expect(d.gradients.x!.text).toBe("A + Aᵀ");
    expect(d.gradients.x!.label).toBe("∂²f/∂x²");
    expect(d.gradients.x!.shape).toBe("n × n");
  });

  it("∂² lse(x)/∂x² = diag(softmax(x)) − softmax(x) softmax(x)ᵀ", () => {
    const d = derive("lse(x)", { wrt: "x", shapes: { x: "n" }, order: 2 });
    expect(d.gradients.x!.text).toBe("diag(softmax(x)) − softmax(x) softmax(x)ᵀ");
  });

  it("∂²‖Ax − b‖²/∂x² = 2AᵀA", () => {
    const d = derive("norm2(A*x - b)^2", { wrt: "x", shapes: { A: "n×m", x: "m", b: "n" }, order: 2 });
    expect(d.gradients.x!.text).toBe("2AᵀA");
    expect(d.gradients.x!.shape).toBe("m × m");
    expect(d.steps.map((s) => s.number)).toEqual([1, 2, 3, 4, 5]);
    expect(d.steps[3]!.lines.at(-1)!.text).toContain("∂f/∂x = 2Aᵀ(Ax − b)");
    expect(d.steps[4]!.lines[0]!.text).toContain("= 2AᵀA");
  });
});

describe("derive: the steps follow the lecture's method", () => {
  const d = derive("u' * tanh(W*x + b)", { wrt: ["W", "b"], shapes: NETWORK, name: "s" });
  const text = (n: number) => d.steps[n - 1]!.lines.map((l) => l.text);

  it("(1) pieces z = Wx + b, h = f(z), s = uᵀh", () => {
    expect(d.steps[0]!.title).toBe("Break the expression into simple pieces");
    expect(text(1)).toEqual(["z = Wx + b   (n)", "h = tanh(z)   (n)", "s = uᵀh   (scalar)"]);
  });

  it("(2) local Jacobians with their shapes, ∂z/∂W as the lecture's ∂zᵢ/∂Wᵢⱼ = xⱼ", () => {
    expect(text(2)).toEqual([
      "∂s/∂h = uᵀ   (1 × n)",
      "∂h/∂z = diag(1 − tanh²(z))   (n × n)",
      "dz = dW x, that is ∂zᵢ/∂Wᵢⱼ = xⱼ",
      "∂z/∂b = I   (n × n)",
    ]);
  });

  it("(3) the chain rule ∂s/∂b = ∂s/∂h ∂h/∂z ∂z/∂b = uᵀ diag(f'(z)) I", () => {
    expect(text(3)).toContain("∂s/∂b = ∂s/∂h ∂h/∂z ∂z/∂b = uᵀ diag(1 − tanh²(z)) I");
    expect(text(3)[0]).toMatch(/^∂s\/∂W = ∂s\/∂h ∂h\/∂z ∂z\/∂W = uᵀ diag\(1 − tanh²\(z\)\) ∂z\/∂W/);
  });

  it("(4) simplifies and names δ, saying it is a column (the lecture's row δᵀ)", () => {
    const lines = text(4);
    expect(lines[0]).toBe("z = Wx + b");
    expect(lines[1]).toMatch(/^δ = u ∘ \(1 − tanh²\(z\)\) .*a column; the lecture writes the row δᵀ/);
    expect(lines.slice(2)).toEqual(["∂s/∂W = δ xᵀ   (n × m)", "∂s/∂b = δ   (n)"]);
  });

  it("each step line has LaTeX too", () => {
    for (const step of d.steps) for (const line of step.lines) expect(line.latex.length).toBeGreaterThan(0);
    expect(d.steps[1]!.lines[1]!.latex).toBe(
      "\\frac{\\partial h}{\\partial z} = \\operatorname{diag}\\left(1 - \\tanh^{2}\\left(z\\right)\\right) \\quad (n \\times n)",
    );
  });
});

describe("derive: printers", () => {
  const d = derive("u' * tanh(W*x + b)", { wrt: ["W", "b"], shapes: NETWORK, name: "s" });

  it("toText lists the expression, the definitions and the results", () => {
    expect(d.toText()).toBe(
      [
        "s = uᵀ tanh(Wx + b)",
        "z = Wx + b",
        "δ = u ∘ (1 − tanh²(z))",
        "∂s/∂W = δ xᵀ   (n × m)",
        "∂s/∂b = δ   (n)",
      ].join("\n"),
    );
    expect(d.toText({ steps: true })).toContain("(2) Local derivatives, with their shapes");
  });

  it("toLatex is an aligned block", () => {
    expect(d.toLatex()).toBe(
      [
        "\\begin{aligned}",
        "s &= u^{\\top} \\, \\tanh\\left(W x + b\\right) \\\\",
        "z &= W x + b \\\\",
        "\\delta &= u \\circ \\left(1 - \\tanh^{2}\\left(z\\right)\\right) \\\\",
        "\\frac{\\partial s}{\\partial W} &= \\delta \\, x^{\\top} \\\\",
        "\\frac{\\partial s}{\\partial b} &= \\delta",
        "\\end{aligned}",
      ].join("\n"),
    );
  });

  it("toJSON is plain data that survives JSON", () => {
    const data = JSON.parse(JSON.stringify(d));
    expect(data.gradients.W.text).toBe("δ xᵀ");
    expect(data.definitions[1]).toEqual({
      name: "δ",
      role: "delta",
      text: "u ∘ (1 − tanh²(z))",
      latex: "u \\circ \\left(1 - \\tanh^{2}\\left(z\\right)\\right)",
      shape: "n",
    });
    expect(data.steps).toHaveLength(4);
    expect(data.code).toContain("export function compute");
    expect(data.output).toEqual({
      name: "s",
      shape: "scalar",
      text: "uᵀ tanh(Wx + b)",
      latex: expect.any(String),
    });
  });
});

describe("derive: errors", () => {
  it("a parse error shows the expression with a caret under the column", () => {
    let error: unknown;
    try {
      derive("u' * (W*x + ", { wrt: "x", shapes: NETWORK });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ParseError);
    const p = error as ParseError;
    expect(p.line).toBe(1);
    expect(p.column).toBe(13);
    expect(p.message).toBe(
      "the expression ends where an operand was expected (at column 13)\n  u' * (W*x + \n              ^",
    );
  });

  it("a shape error names the operation and both shapes", () => {
    expect(() => derive("W*x", { wrt: "x", shapes: { W: "n×m", x: "k" } })).toThrow(ShapeError);
    expect(() => derive("W*x", { wrt: "x", shapes: { W: "n×m", x: "k" } })).toThrow(
      "W*x: (n×m) * (k): the inner dimensions m and k differ\n  W*x\n   ^",
    );
    expect(() => derive("u + x", { wrt: "x", shapes: NETWORK })).toThrow(
      "u + x: (n) + (m): the shapes differ",
    );
    expect(() => derive("x^2", { wrt: "x", shapes: NETWORK })).toThrow(
      /\^ is the power of scalars; use \.\^/,
    );
    expect(() => derive("det(W)", { wrt: "W", shapes: NETWORK })).toThrow(
      "det(W): det(n×m): det expects a square matrix",
    );
  });

  it("an undeclared variable, an unknown function and a wrt not in the expression are clear", () => {
    expect(() => derive("u' * q", { wrt: "u", shapes: NETWORK })).toThrow(ValueError);
    expect(() => derive("u' * q", { wrt: "u", shapes: NETWORK })).toThrow(
      /undeclared variable 'q': declare its shape/,
    );
    expect(() => derive("frob(W)", { wrt: "W", shapes: NETWORK })).toThrow(ParseError);
    expect(() => derive("frob(W)", { wrt: "W", shapes: NETWORK })).toThrow(/unknown function 'frob'/);
    expect(() => derive("u' * x", { wrt: "u", shapes: { u: "n", x: "n" } })).not.toThrow();
    expect(() => derive("u' * b", { wrt: "W", shapes: NETWORK })).toThrow(
      "cannot differentiate with respect to W: it does not occur in u' * b (its variables are u, b)",
    );
  });

  it("rejects what it cannot do, saying why", () => {
    expect(() => derive("W", { wrt: "W", shapes: NETWORK })).toThrow(/is a matrix \(n × m\)/);
    expect(() => derive("W*x", { wrt: "W", shapes: NETWORK })).toThrow(
      /third-order tensor|with respect to scalars and vectors/,
    );
    expect(() => derive("W*x", { wrt: "x", shapes: NETWORK, order: 2 })).toThrow(
      /Hessians are of scalar expressions/,
    );
    expect(() => derive("tr(X)", { wrt: "X", shapes: { X: "n×n" }, order: 2 })).toThrow(
      /fourth-order tensor/,
    );
    expect(() => derive("x'*x", { wrt: [], shapes: NETWORK })).toThrow(/wrt names no variable/);
    expect(() => derive("x'*x", { wrt: "x", shapes: { x: "n by" } })).toThrow(ValueError);
    expect(() => derive("x'*x", { wrt: "x", shapes: NETWORK, order: 3 as 2 })).toThrow(
      /order must be 1 or 2/,
    );
  });
});
