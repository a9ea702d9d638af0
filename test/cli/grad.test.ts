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
});
