/**
 * traceExpression: backprop of an expression as written, with the lecture's names for the nodes, no internal
 * reshapes, and notes where a value leaves a function's domain.
 */
import { describe, expect, it } from "vitest";
import { ParseError, ValueError, derive, tensor, traceExpression } from "../../src/index.js";

const NETWORK = {
  u: [1, 2],
  W: [
    [1, 0, 1],
    [0, 1, 1],
  ],
  x: [1, 2, 3],
  b: [0.5, 0.5],
};

describe("traceExpression on the lecture's network s = uᵀ tanh(Wx + b)", () => {
  const trace = traceExpression("u' * tanh(W*x + b)", NETWORK, { name: "s" });

  it("holds one node per written operation, named as the lecture names them, and no reshape", () => {
    const ops = trace.nodes.filter((n) => n.op !== "leaf" && n.op !== "constant");
    expect(ops.map((n) => n.op)).toEqual(["matmul", "add", "tanh", "matmul"]);
    expect(ops.map((n) => trace.names[n.id])).toEqual(["Wx", "z", "h", "s"]);
    expect(ops.map((n) => trace.definitions[n.id])).toEqual(["Wx", "Wx + b", "tanh(z)", "uᵀh"]);
    expect(trace.pieces.map((p) => `${p.name} = ${p.definition}`)).toEqual([
      "z = Wx + b",
      "h = tanh(z)",
      "s = uᵀh",
    ]);
    // uᵀh is one matmul with the kernel's transpose flag, not a transpose node
    expect(trace.nodes[trace.output]!.label).toBe("s");
    expect(trace.nodes[trace.output]!.inputs.map((i) => trace.names[i])).toEqual(["u", "h"]);
  });

  it("gives the gradients derive gives (∂s/∂W = δ xᵀ, ∂s/∂b = δ)", () => {
    const d = derive("u' * tanh(W*x + b)", {
      wrt: ["u", "W", "x", "b"],
      shapes: { W: "n×m", x: "m", b: "n", u: "n" },
      name: "s",
    });
    const expected = d.evaluate(NETWORK);
    const leaf = (name: string) => trace.nodes.find((n) => n.op === "leaf" && n.label === name)!;
    const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);
    for (const name of ["u", "W", "x", "b"]) {
      const got = flat(leaf(name).grad);
      const want = Array.from(expected.gradients[name]!.data);
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 12));
    }
    expect(flat(trace.nodes[trace.output]!.value)[0]).toBeCloseTo(expected.value.item(), 12);
    expect(trace.warnings).toEqual([]);
    // the record is plain data
    expect(JSON.parse(JSON.stringify(trace)).names).toEqual(trace.names);
  });

  it("accepts tensors and maps as values", () => {
    const values = new Map(Object.entries(NETWORK).map(([k, v]) => [k, tensor(v)]));
    expect(traceExpression("u' * tanh(W*x + b)", values).names).toEqual(
      traceExpression("u' * tanh(W*x + b)", NETWORK).names,
    );
  });
});

describe("traceExpression on scalars", () => {
  it("the lecture's (x + y) · max(y, z): letters in order, y's fan-out 3 + 2 = 5", () => {
    const trace = traceExpression("(x + y) * max(y, z)", { x: 1, y: 2, z: 0 });
    expect(trace.names.filter((_, i) => trace.nodes[i]!.op !== "leaf")).toEqual(["a", "b", "f"]);
    const y = trace.nodes.findIndex((n) => n.label === "y");
    const fan = trace.fanOut.find((f) => f.node === y)!;
    expect(fan.contributions.map((c) => c.value)).toEqual([3, 2]);
    expect(fan.total).toBe(5);
  });

  it("max(y, y) is a max node as written: a tie splits the gradient, ½ + ½ = 1", () => {
    const trace = traceExpression("max(y, y)", { y: 2 });
    expect(trace.steps).toHaveLength(1);
    expect(trace.steps[0]!.downstream).toEqual([0.5, 0.5]);
    expect(trace.fanOut[0]!.total).toBe(1);
  });

  it("says where a value leaves a function's domain or becomes infinite", () => {
    expect(traceExpression("log(x)", { x: -1 }).warnings).toEqual([
      "log(x): log is defined for x > 0, but x = -1",
    ]);
    expect(traceExpression("sum(sqrt(v))", { v: [4, -1] }).warnings).toEqual([
      "sqrt(v): sqrt is defined for v ≥ 0, but an entry of v is -1",
    ]);
    expect(traceExpression("1/x + x", { x: 0 }).warnings).toEqual(["1/x is ∞ at these values"]);
    expect(traceExpression("log(x)", { x: 2 }).warnings).toEqual([]);
  });

  it("errors: a missing value, a non-scalar output, bad syntax", () => {
    expect(() => traceExpression("x + y", { x: 1 })).toThrow(ValueError);
    expect(() => traceExpression("x + y", { x: 1 })).toThrow("no value for y");
    expect(() => traceExpression("v", { v: [1, 2] })).toThrow("is not a scalar");
    expect(() => traceExpression("x +", { x: 1 })).toThrow(ParseError);
  });
});
