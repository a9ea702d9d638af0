import { describe, expect, it } from "vitest";
import { run } from "../calculus/run-cli.js";

const NETWORK = "W:n×m,x:m,b:n,u:n";

describe("chainrule derive", () => {
  it("prints the lecture's ∂s/∂W = δ xᵀ and ∂s/∂b = δ", async () => {
    const { code, stdout } = await run(
      "derive",
      "u' * tanh(W*x + b)",
      "--wrt",
      "W,b",
      "--shapes",
      NETWORK,
      "--name",
      "s",
    );
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        "s = uᵀ tanh(Wx + b)",
        "z = Wx + b",
        "δ = u ∘ (1 − tanh²(z))",
        "∂s/∂W = δ xᵀ   (n × m)",
        "∂s/∂b = δ   (n)",
        "",
      ].join("\n"),
    );
  });

  it("--steps shows the four steps before the results", async () => {
    const { stdout } = await run(
      "derive",
      "u' * sigmoid(W*x + b)",
      "--wrt",
      "b",
      "--shapes",
      NETWORK,
      "--steps",
    );
    expect(stdout).toContain(
      "(1) Break the expression into simple pieces\n    z = Wx + b   (n)\n    h = σ(z)   (n)",
    );
    expect(stdout).toContain("∂h/∂z = diag(σ(z) ∘ (1 − σ(z)))   (n × n)");
    expect(stdout).toContain(
      "(3) Apply the chain rule\n    ∂f/∂b = ∂f/∂h ∂h/∂z ∂z/∂b = uᵀ diag(σ(z) ∘ (1 − σ(z))) I",
    );
    expect(stdout.trimEnd().endsWith("∂f/∂b = u ∘ σ(z) ∘ (1 − σ(z))   (n)")).toBe(true);
  });

  it("--latex prints LaTeX", async () => {
    const { stdout } = await run("derive", "x'*A*x", "--wrt", "x", "--shapes", "x:n,A:n×n", "--latex");
    expect(stdout).toContain("\\frac{\\partial f}{\\partial x} &= \\left(A + A^{\\top}\\right) x");
  });

  it("--code prints TypeScript with chainrule's ops", async () => {
    const { stdout } = await run(
      "derive",
      "norm2(A*x - b)^2",
      "--wrt",
      "x",
      "--shapes",
      "A:n×m,x:m,b:n",
      "--code",
    );
    expect(stdout).toContain("∂f/∂x = 2Aᵀ(Ax − b)");
    expect(stdout).toContain('import * as cr from "chainrule";');
    expect(stdout).toContain("export function compute(inputs: { A: Tensor; x: Tensor; b: Tensor })");
  });

  it("--check reports the largest differences from backprop and finite differences", async () => {
    const { code, stdout } = await run(
      "derive",
      "sigmoid(u' * tanh(W*x + b))",
      "--wrt",
      "u,W,b,x",
      "--shapes",
      NETWORK,
      "--check",
      "--sizes",
      "n=3,m=2",
      "--seed",
      "4",
    );
    expect(code).toBe(0);
    expect(stdout).toContain("check at random values (n = 3, m = 2):");
    const backprop = Number(/from backprop:\s+(\S+)/.exec(stdout)![1]);
    const finite = Number(/from finite differences:\s+(\S+)/.exec(stdout)![1]);
    expect(backprop).toBeLessThan(1e-12);
    expect(finite).toBeLessThan(1e-6);
    expect(stdout).toContain("  agrees");
  });

  it("--order 2 gives Hessians; --wrt defaults to every variable; --json is the derivation as data", async () => {
    const hessian = await run("derive", "lse(x)", "--shapes", "x:n", "--order", "2");
    expect(hessian.stdout).toContain("∂²f/∂x² = diag(softmax(x)) − softmax(x) softmax(x)ᵀ   (n × n)");
    const json = await run("derive", "a'*x", "--shapes", "a:n,x:n", "--json");
    const data = JSON.parse(json.stdout);
    expect(data.wrt).toEqual(["a", "x"]);
    expect(data.gradients.a.text).toBe("x");
    expect(data.gradients.x.text).toBe("a");
  });

  it("takes an expression that starts with a minus sign after --", async () => {
    const { code, stdout } = await run(
      "derive",
      "--wrt",
      "w",
      "--shapes",
      "w:m,x:m,y:scalar",
      "--",
      "-y*log(sigmoid(w'*x)) - (1-y)*log(1-sigmoid(w'*x))",
    );
    expect(code).toBe(0);
    expect(stdout).toContain("∂f/∂w = (σ(s) − y)x   (m)");
  });

  it("shows a parse error with a caret and exits with 1", async () => {
    const { code, stdout, stderr } = await run("derive", "u' * (W*x + ", "--wrt", "x", "--shapes", NETWORK);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "chainrule: the expression ends where an operand was expected (at column 13)\n  u' * (W*x + \n              ^\n",
    );
  });

  it("names the operation and the shapes in a shape error", async () => {
    const { code, stderr } = await run("derive", "W*x", "--wrt", "x", "--shapes", "W:n×m,x:k");
    expect(code).toBe(1);
    expect(stderr).toContain("W*x: (n×m) * (k): the inner dimensions m and k differ");
  });

  it("explains undeclared variables, bad options and a wrt not in the expression", async () => {
    expect((await run("derive", "u'*x", "--wrt", "x", "--shapes", "x:n")).stderr).toContain(
      "undeclared variable 'u'",
    );
    expect((await run("derive", "u'*x", "--wrt", "y", "--shapes", "u:n,x:n")).stderr).toContain(
      "cannot differentiate with respect to y",
    );
    expect((await run("derive", "u'*x", "--shapes", "u n")).stderr).toContain(
      "--shapes: expected name:shape",
    );
    expect((await run("derive", "u'*x", "--shapes", "u:n,x:n", "--order", "3")).stderr).toContain(
      "--order must be 1 or 2",
    );
    expect(
      (await run("derive", "u'*x", "--shapes", "u:n,x:n", "--check", "--sizes", "n=zero")).stderr,
    ).toContain("--sizes: expected name=size");
    expect((await run("derive")).code).toBe(2);
  });

  it("--code alone prints only the code, so that `derive … --code > f.ts` compiles", async () => {
    const { stdout } = await run(
      "derive",
      "norm2(A*x - b)^2",
      "--wrt",
      "x",
      "--shapes",
      "A:n×m,x:m,b:n",
      "--code",
    );
    expect(stdout.startsWith("// Generated by chainrule from: norm2(A*x - b)^2\n")).toBe(true);
    expect(stdout).not.toContain("\nf = ");
    // with another output option the code follows the results
    const both = await run("derive", "a'*x", "--shapes", "a:n,x:n", "--code", "--steps");
    expect(both.stdout.startsWith("(1) Break the expression into simple pieces")).toBe(true);
    expect(both.stdout).toContain("export function compute(");
  });

  it("takes a leading minus quoted as is, and options on either side of --", async () => {
    const shapes = ["--shapes", "y:n,W:n×m,x:m"];
    const expected = "∂f/∂W = δ xᵀ   (n × m)";
    const asIs = await run("derive", "-y' * log(softmax(W*x))", "--wrt", "W", ...shapes);
    expect(asIs.code).toBe(0);
    expect(asIs.stdout).toContain(expected);
    const after = await run("derive", "--", "-y' * log(softmax(W*x))", "--wrt", "W", ...shapes);
    expect(after.code).toBe(0);
    expect(after.stdout).toBe(asIs.stdout);
    expect((await run("derive", "x", "--shapes", "x:n", "--bogus")).code).toBe(2);
    const extra = await run("derive", "x", "y", "--shapes", "x:n");
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("too many arguments");
  });

  it("suggests the CLI's --shapes for an undeclared variable", async () => {
    const { code, stderr } = await run("derive", "log(x)");
    expect(code).toBe(1);
    expect(stderr).toBe(
      "chainrule: undeclared variable 'x': declare its shape, e.g. --shapes x:n (a scalar is name:scalar, a matrix name:n×m)\n",
    );
    expect((await run("derive", "u'*x", "--shapes", "x:n")).stderr).toContain("e.g. --shapes u:n");
  });

  it("--check refuses sizes it cannot allocate, in one line", async () => {
    const { code, stdout, stderr } = await run(
      "derive",
      "u'*W*x",
      "--shapes",
      "u:n,W:n×m,x:m",
      "--wrt",
      "W",
      "--check",
      "--sizes",
      "n=100000,m=100000",
    );
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "chainrule: check: W (n × m) would hold 100000 × 100000 = 1.00e+10 numbers at n = 100000, m = 100000, " +
        "more than the 16777216 a check allocates per variable; give smaller sizes\n",
    );
  });
});
