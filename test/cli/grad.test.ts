import { describe, expect, it } from "vitest";
import { run } from "../calculus/run-cli.js";

describe("chainrule grad", () => {
  it("runs the lecture's example (x + y) · max(y, z) at x = 1, y = 2, z = 0", async () => {
    const { code, stdout } = await run("grad", "(x + y) * max(y, z)", "--at", "x=1,y=2,z=0");
    expect(code).toBe(0);
    // a = x + y = 3, b = max(y, z) = 2, f = ab = 6; backward: ∂f/∂a = b = 2, ∂f/∂b = a = 3, max routes 3 to y,
    // and y's two contributions 3 + 2 are summed.
    expect(stdout).toBe(
      [
        "f = (x + y) * max(y, z)   at x = 1, y = 2, z = 0",
        "",
        "forward (each node after its inputs)",
        "  a = x + y       = 3",
        "  b = max(y, z)   = 2",
        "  f = a · b       = 6",
        "",
        "backward (downstream = upstream × local, from the output down)",
        "  node   upstream   input   local   downstream",
        "  f      1          a       2       2",
        "                    b       3       3",
        "  b      3          y       1       3",
        "                    z       0       0",
        "  a      2          x       1       2",
        "                    y       1       2",
        "",
        "fan-out (gradients arriving from several uses are summed)",
        "  y: 3 + 2 = 5",
        "",
        "f = 6",
        "∂f/∂x = 2, ∂f/∂y = 5, ∂f/∂z = 0",
        "",
      ].join("\n"),
    );
  });

  it("handles vectors and functions", async () => {
    const { code, stdout } = await run("grad", "sum(tanh(w .* v))", "--at", "w=[1, 2],v=[0.5, -1]");
    expect(code).toBe(0);
    // ∂f/∂w = (1 − tanh²(w ∘ v)) ∘ v
    const gw = [0.5 * (1 - Math.tanh(0.5) ** 2), -1 * (1 - Math.tanh(-2) ** 2)];
    const line = stdout.trimEnd().split("\n").at(-1)!;
    const match = /∂f\/∂w = \[(.*)\], ∂f\/∂v = /.exec(line)!;
    const values = match[1]!.split(", ").map(Number);
    expect(values[0]).toBeCloseTo(gw[0]!, 5);
    expect(values[1]).toBeCloseTo(gw[1]!, 5);
  });

  it("--dot prints the graph as Graphviz DOT", async () => {
    const { code, stdout } = await run("grad", "(x + y) * max(y, z)", "--at", "x=1,y=2,z=0", "--dot");
    expect(code).toBe(0);
    expect(stdout.startsWith("digraph")).toBe(true);
    expect(stdout.trimEnd().endsWith("}")).toBe(true);
  });

  it("--json prints the backprop trace", async () => {
    const { stdout } = await run("grad", "x * y", "--at", "x=3,y=4", "--json");
    const trace = JSON.parse(stdout);
    const grads = Object.fromEntries(
      trace.nodes
        .filter((n: { op: string }) => n.op === "leaf")
        .map((n: { label: string; grad: number }) => [n.label, n.grad]),
    );
    expect(grads).toEqual({ x: 4, y: 3 });
  });

  it("reports missing, unknown and malformed values, and non-scalar expressions", async () => {
    expect((await run("grad", "x + y", "--at", "x=1")).stderr).toContain("give a value for y");
    expect((await run("grad", "x + y", "--at", "x=1,y=2,q=3")).stderr).toContain("q does not occur in x + y");
    expect((await run("grad", "x + y", "--at", "x=1,y=two")).stderr).toContain(
      "the value of y is not a number",
    );
    expect((await run("grad", "x", "--at", "x=[1,2]")).stderr).toContain("is not a scalar");
    expect((await run("grad", "x +", "--at", "x=1")).stderr).toContain("^");
    expect((await run("grad", "x + 1")).code).toBe(2);
  });

  const NETWORK = "u=[1,2],W=[[1,0,1],[0,1,1]],x=[1,2,3],b=[0.5,0.5]";

  it("names the lecture's pieces for a matrix expression, with no reshape nodes", async () => {
    const { code, stdout } = await run("grad", "u' * tanh(W*x + b)", "--at", NETWORK, "--name", "s");
    expect(code).toBe(0);
    const forward = stdout.split("\n\n")[1]!.split("\n");
    // Wx = (4, 5), z = Wx + b = (4.5, 5.5), h = tanh(z), s = uᵀh = tanh(4.5) + 2 tanh(5.5)
    expect(forward.map((l) => l.replace(/\s+=\s+[^=]*$/, "").trim())).toEqual([
      "forward (each node after its inputs)",
      "Wx = W @ x",
      "z = Wx + b",
      "h = tanh(z)",
      "s = uᵀh",
    ]);
    expect(stdout).toContain(`s = ${Number((Math.tanh(4.5) + 2 * Math.tanh(5.5)).toPrecision(6))}`);
    expect(stdout).not.toContain("reshape");
  });

  it("--dot draws the same clean graph: z = Wx + b, h = tanh(z), s = uᵀh", async () => {
    const { stdout } = await run("grad", "u' * tanh(W*x + b)", "--at", NETWORK, "--name", "s", "--dot");
    for (const label of ["z = Wx + b", "h = tanh(z)", "s = uᵀh"])
      expect(stdout).toContain(`label="${label} |`);
    expect(stdout).not.toContain("reshape");
    expect(stdout.match(/shape=record/g)).toHaveLength(8);
  });

  it("max(y, y) shows the max node and the tie splitting the gradient", async () => {
    const { code, stdout } = await run("grad", "max(y, y)", "--at", "y=2");
    expect(code).toBe(0);
    expect(stdout).toContain("  f = max(y, y)   = 2");
    expect(stdout).toContain("  y: 0.5 + 0.5 = 1");
    expect(stdout.trimEnd().endsWith("∂f/∂y = 1")).toBe(true);
  });

  it("warns when a value leaves a function's domain", async () => {
    const { code, stdout, stderr } = await run("grad", "log(x)", "--at", "x=-1");
    expect(code).toBe(0);
    expect(stdout).toContain("f = NaN");
    expect(stderr).toBe("chainrule: warning: log(x): log is defined for x > 0, but x = -1\n");
  });

  it("takes a leading minus quoted as is, and options on either side of --", async () => {
    const asIs = await run("grad", "-x*y", "--at", "x=1,y=2");
    expect(asIs.code).toBe(0);
    expect(asIs.stdout.trimEnd().endsWith("∂f/∂x = -2, ∂f/∂y = -1")).toBe(true);
    const after = await run("grad", "--", "-x*y", "--at", "x=1,y=2");
    expect(after.stdout).toBe(asIs.stdout);
    const missing = await run("grad", "--", "-x*y");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--at <values>' not specified");
  });

  it("says so when the output is a variable itself, instead of printing empty tables", async () => {
    const { code, stdout } = await run("grad", "x''", "--at", "x=2");
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        "f = x''   at x = 2",
        "",
        "(f is the variable x itself: there is no operation to backpropagate through)",
        "",
        "f = 2",
        "∂f/∂x = 1",
        "",
      ].join("\n"),
    );
  });
});
