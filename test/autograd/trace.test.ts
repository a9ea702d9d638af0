import { describe, expect, it } from "vitest";
import {
  GraphError,
  LOCAL_JACOBIAN_LIMIT,
  Random,
  ShapeError,
  Tensor,
  add,
  describeGraph,
  matmul,
  maximum,
  mul,
  neg,
  pow,
  sigmoid,
  softmax,
  sum,
  tanh,
  tensor,
  traceBackward,
  type BackpropTrace,
  type NestedArray,
  type TraceStep,
} from "../../src/index.js";
import { expectClose, f64, randomTensor } from "./helpers.js";

function named(t: Tensor, name: string): Tensor {
  t.name = name;
  return t;
}

/** The lecture's worked example f(x, y, z) = (x + y) · max(y, z) at (1, 2, 0). */
function lectureExample() {
  const x = named(tensor(1, { requiresGrad: true }), "x");
  const y = named(tensor(2, { requiresGrad: true }), "y");
  const z = named(tensor(0, { requiresGrad: true }), "z");
  const f = mul(add(x, y), maximum(y, z));
  return { x, y, z, f };
}

function stepOf(trace: BackpropTrace, label: string): TraceStep {
  const step = trace.steps.find((s) => s.label === label);
  if (!step) throw new Error(`no step labelled ${label}`);
  return step;
}

function idOf(trace: BackpropTrace, label: string): number {
  return trace.nodes.find((n) => n.label === label)!.id;
}

function flat(value: NestedArray): number[] {
  return [value].flat(Infinity as 1) as number[];
}

describe("traceBackward on the lecture's example (x + y) · max(y, z) at (1, 2, 0)", () => {
  const { f } = lectureExample();
  const trace = traceBackward(f);

  it("lists the nodes in topological order with ops, labels, inputs, shapes and values", () => {
    // a = x + y = 3, b = max(y, z) = 2, f = a·b = 6
    const byLabel = Object.fromEntries(trace.nodes.map((n) => [n.label, n]));
    expect(Object.keys(byLabel).sort()).toEqual(
      ["(x + y) · max(y, z)", "max(y, z)", "x", "x + y", "y", "z"].sort(),
    );
    expect(byLabel["x"]).toMatchObject({ op: "leaf", value: 1, shape: [], inputs: [] });
    expect(byLabel["y"]).toMatchObject({ op: "leaf", value: 2 });
    expect(byLabel["z"]).toMatchObject({ op: "leaf", value: 0 });
    expect(byLabel["x + y"]).toMatchObject({
      op: "add",
      value: 3,
      inputs: [idOf(trace, "x"), idOf(trace, "y")],
    });
    expect(byLabel["max(y, z)"]).toMatchObject({
      op: "maximum",
      value: 2,
      inputs: [idOf(trace, "y"), idOf(trace, "z")],
    });
    expect(byLabel["(x + y) · max(y, z)"]).toMatchObject({ op: "mul", value: 6 });
    expect(trace.output).toBe(idOf(trace, "(x + y) · max(y, z)"));
    trace.nodes.forEach((node, i) => {
      expect(node.id).toBe(i);
      for (const input of node.inputs) expect(input).toBeLessThan(node.id); // inputs come first
    });
    expect(trace.seed).toBe(1);
  });

  it("× switches: the local gradients are the other input's values, 2 and 3", () => {
    const step = stepOf(trace, "(x + y) · max(y, z)");
    expect(step.op).toBe("mul");
    expect(step.upstream).toBe(1);
    // ∂(ab)/∂a = b = 2, ∂(ab)/∂b = a = 3
    expect(step.local).toEqual([
      { kind: "jacobian", shape: [], value: 2 },
      { kind: "jacobian", shape: [], value: 3 },
    ]);
    expect(step.downstream).toEqual([2, 3]);
  });

  it("+ distributes its upstream gradient 2 to x and to y", () => {
    const step = stepOf(trace, "x + y");
    expect(step.upstream).toBe(2);
    expect(step.local.map((l) => l && l.kind === "jacobian" && l.value)).toEqual([1, 1]);
    expect(step.downstream).toEqual([2, 2]);
  });

  it("max routes its upstream gradient 3 to y (the larger input) and 0 to z", () => {
    const step = stepOf(trace, "max(y, z)");
    expect(step.upstream).toBe(3);
    expect(step.local.map((l) => l && l.kind === "jacobian" && l.value)).toEqual([1, 0]);
    expect(step.downstream).toEqual([3, 0]);
  });

  it("sums the two contributions to y, 2 + 3 = 5 (fan-out)", () => {
    expect(trace.fanOut).toEqual([
      {
        node: idOf(trace, "y"),
        contributions: expect.arrayContaining([
          { from: idOf(trace, "x + y"), input: 1, value: 2 },
          { from: idOf(trace, "max(y, z)"), input: 0, value: 3 },
        ]),
        total: 5,
      },
    ]);
    expect(trace.fanOut[0]!.contributions).toHaveLength(2);
  });

  it("gives every node its gradient: ∂f/∂x = 2, ∂f/∂y = 5, ∂f/∂z = 0", () => {
    const grads = Object.fromEntries(trace.nodes.map((n) => [n.label, n.grad]));
    expect(grads).toEqual({ x: 2, y: 5, z: 0, "x + y": 2, "max(y, z)": 3, "(x + y) · max(y, z)": 1 });
  });

  it("takes the steps in reverse topological order (every consumer before what it consumes)", () => {
    expect(trace.steps.map((s) => s.label)).toHaveLength(3);
    const position = new Map(trace.steps.map((s, i) => [s.node, i]));
    for (const step of trace.steps) {
      for (const input of trace.nodes[step.node]!.inputs) {
        if (position.has(input)) expect(position.get(input)!).toBeGreaterThan(position.get(step.node)!);
      }
    }
    expect(trace.steps[0]!.node).toBe(trace.output);
  });

  it("is JSON-serialisable", () => {
    expect(JSON.parse(JSON.stringify(trace))).toEqual(trace);
  });
});

describe("traceBackward on the window network s = uᵀ f(Wx + b)", () => {
  /** Column vectors, as in the lecture: x ∈ ℝᵐ, W ∈ ℝⁿˣᵐ, b, u ∈ ℝⁿ, s = uᵀh ∈ ℝ¹ˣ¹. */
  function network(n: number, m: number, activation: (t: Tensor) => Tensor) {
    const r = new Random(5);
    const W = named(f64(randomTensor(r, [n, m]).toArray(), true), "W");
    const b = named(f64(randomTensor(r, [n, 1]).toArray(), true), "b");
    const u = named(f64(randomTensor(r, [n, 1]).toArray(), true), "u");
    const x = named(randomTensor(r, [m, 1]), "x");
    const z = named(add(matmul(W, x), b), "z");
    const h = named(activation(z), "h");
    const s = named(matmul(u.T, h), "s");
    return { W, b, u, x, z, h, s };
  }

  it("records downstream = upstream × local at every step", () => {
    const { s } = network(3, 4, tanh);
    const trace = traceBackward(s);
    let checked = 0;
    for (const step of trace.steps) {
      const upstream = flat(step.upstream);
      step.local.forEach((local, i) => {
        if (local === null) {
          expect(step.downstream[i]).toBeNull();
          return;
        }
        expect(local.kind).toBe("jacobian");
        if (local.kind !== "jacobian") return;
        // J is [...outputShape, ...inputShape]: downstream_j = Σ_o upstream_o · J[o, j]
        const J = flat(local.value);
        const inputSize = J.length / upstream.length;
        const expected = Array.from({ length: inputSize }, (_, j) =>
          upstream.reduce((total, g, o) => total + g * J[o * inputSize + j]!, 0),
        );
        expectClose(flat(step.downstream[i]!), expected, 1e-12);
        checked++;
      });
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it("the lecture's chain: the upstream of z is δ = u ∘ f'(z), and ∂s/∂W = δxᵀ", () => {
    const { W, b, u, x, z, s } = network(3, 4, sigmoid);
    const trace = traceBackward(s);
    const zNode = trace.nodes.find((n) => n.label === "z")!;
    const sig = Array.from(z.data).map((v) => 1 / (1 + Math.exp(-v)));
    const delta = sig.map((p, i) => u.data[i]! * p * (1 - p));
    expectClose(zNode.grad!, delta, 1e-12);
    const wNode = trace.nodes.find((n) => n.label === "W")!;
    expectClose(
      wNode.grad!,
      delta.map((d) => Array.from(x.data).map((xv) => d * xv)),
      1e-12,
    );
    expectClose(trace.nodes.find((n) => n.label === "b")!.grad!, delta, 1e-12);
    // the input x does not require grad: a constant, with no gradient
    const xNode = trace.nodes.find((n) => n.label === "x")!;
    expect(xNode.op).toBe("constant");
    expect(xNode.grad).toBeNull();
    expect(W.grad).toBeNull();
    expect(b.grad).toBeNull();
  });

  it("describes local Jacobians with more than 64 entries instead of listing them", () => {
    // z has 9 entries, so the tanh's local Jacobian has 81 > 64
    const { s } = network(9, 2, tanh);
    expect(LOCAL_JACOBIAN_LIMIT).toBe(64);
    const trace = traceBackward(s);
    const tanhStep = trace.steps.find((step) => step.op === "tanh")!;
    expect(tanhStep.local).toEqual([
      { kind: "description", shape: [9, 1, 9, 1], text: "diag(1 − tanh²(z))" },
    ]);
    // s = uᵀh: ∂s/∂uᵀ = hᵀ has 9 entries, listed
    const sStep = trace.steps.find((step) => step.label === "s")!;
    expect(sStep.local[0]).toMatchObject({ kind: "jacobian", shape: [1, 1, 1, 9] });
    const h = trace.nodes.find((node) => node.label === "h")!;
    expect(flat(sStep.local[0]!.kind === "jacobian" ? sStep.local[0]!.value : [])).toEqual(flat(h.value));
    // z = Wx + b with W [9, 2]: the matmul's Jacobian with respect to W has 9 · 18 entries, described
    const matmulStep = trace.steps.find((step) => step.op === "matmul" && step.node !== trace.output)!;
    expect(trace.nodes[matmulStep.node]!.label).toBe("W @ x");
    expect(matmulStep.local[0]).toEqual({
      kind: "description",
      shape: [9, 1, 9, 2],
      text: "(·)(x)ᵀ: downstream = upstream · (x)ᵀ",
    });
  });

  it("describes other ops in the lecture's notation", () => {
    const x = named(f64(randomTensor(new Random(1), [9]).toArray(), true), "logits");
    const trace = traceBackward(sum(mul(softmax(x), sigmoid(x))));
    const text = (op: string) =>
      trace.steps.find((s) => s.op === op)!.local.map((l) => (l && l.kind === "description" ? l.text : null));
    expect(text("softmax")).toEqual(["diag(p) − ppᵀ with p = softmax(logits)"]);
    expect(text("sigmoid")).toEqual(["diag(σ(logits) ∘ (1 − σ(logits)))"]);
    expect(text("mul")).toEqual(["diag(b)", "diag(a)"]);
  });
});

describe("traceBackward in general", () => {
  it("changes no .grad and keeps the graph, so backward still runs and agrees", () => {
    const { x, y, z, f } = lectureExample();
    const trace = traceBackward(f);
    expect(x.grad).toBeNull();
    expect(y.grad).toBeNull();
    f.backward();
    expect([x.grad!.item(), y.grad!.item(), z.grad!.item()]).toEqual([2, 5, 0]);
    expect(trace.nodes.filter((n) => n.op === "leaf").map((n) => n.grad)).toEqual([2, 5, 0]);
  });

  it("shows constants as nodes, with no local gradient and nothing sent to them", () => {
    const x = named(f64(3, true), "x");
    const trace = traceBackward(mul(x, 2));
    const constant = trace.nodes.find((n) => n.op === "constant")!;
    expect(constant).toMatchObject({ label: "2", value: 2, grad: null });
    expect(trace.nodes[trace.output]!.label).toBe("x · 2");
    const step = trace.steps[0]!;
    expect(step.local[1]).toBeNull();
    expect(step.downstream).toEqual([2, null]);
    // the same constant tensor used twice is one node
    const c = f64(5);
    const twice = traceBackward(add(mul(x, c), mul(x, c)));
    expect(twice.nodes.filter((n) => n.op === "constant")).toHaveLength(1);
  });

  it("records fan-out from one op using a tensor twice (x · x + x)", () => {
    const x = named(f64(3, true), "x");
    const trace = traceBackward(add(mul(x, x), x));
    // ∂/∂x (x² + x) = x + x + 1 = 7: contributions 3 and 3 from the product, 1 from the sum
    const entry = trace.fanOut.find((e) => e.node === idOf(trace, "x"))!;
    expect(entry.contributions.map((c) => c.value).sort()).toEqual([1, 3, 3]);
    expect(entry.total).toBe(7);
  });

  it("sums broadcast gradients back to the input's shape", () => {
    const x = named(f64([[1, 2, 3]], true), "x"); // [1, 3]
    const c = named(f64([[1], [2]], true), "c"); // [2, 1]
    const trace = traceBackward(sum(mul(x, c)));
    const step = trace.steps.find((s) => s.op === "mul")!;
    // ∂/∂x Σᵢⱼ xⱼcᵢ = Σᵢ cᵢ = 3 for each j; ∂/∂cᵢ = Σⱼ xⱼ = 6
    expect(step.downstream).toEqual([[[3, 3, 3]], [[6], [6]]]);
    expect(step.local[0]).toMatchObject({ kind: "jacobian", shape: [2, 3, 1, 3] });
  });

  it("traces a non-scalar output from a seed", () => {
    const x = named(f64([1, 2], true), "x");
    const y = mul(x, x);
    expect(() => traceBackward(y)).toThrow(GraphError);
    const trace = traceBackward(y, [1, -1]);
    expect(trace.seed).toEqual([1, -1]);
    // ∂/∂x Σ seedᵢ xᵢ² = 2x ∘ seed
    expect(trace.nodes.find((n) => n.label === "x")!.grad).toEqual([2, -4]);
    expect(() => traceBackward(y, [1, 2, 3])).toThrow(ShapeError);
  });

  it("labels: names first, then expressions, then short forms for long expressions", () => {
    const a = f64(1, true);
    const b = named(f64(2, true), "b");
    let t = add(a, b);
    for (let i = 0; i < 6; i++) t = tanh(t);
    const named2 = named(mul(t, 3), "result");
    const trace = traceBackward(named2);
    // an unnamed leaf is t<id>; expressions grow until they would pass 40 characters, then become op#id
    expect(trace.nodes.map((n) => n.label)).toEqual([
      "t0",
      "b",
      "t0 + b",
      "tanh(t0 + b)",
      "tanh(tanh(t0 + b))",
      "tanh(tanh(tanh(t0 + b)))",
      "tanh(tanh(tanh(tanh(t0 + b))))",
      "tanh(tanh(tanh(tanh(tanh(t0 + b)))))",
      "tanh#8",
      "3",
      "result",
    ]);
  });

  it("labels: an infix operand is parenthesised inside a power, not inside max or a function call", () => {
    const a = named(f64(2, true), "a");
    const b = named(f64(3, true), "b");
    const total = add(a, b);
    const labels = describeGraph(add(pow(total, b), maximum(total, b))).map((n) => n.label);
    expect(labels).toContain("(a + b)^b");
    expect(labels).toContain("max(a + b, b)");
    expect(describeGraph(neg(total)).map((n) => n.label)).toContain("−(a + b)");
  });

  it("errors: a tensor without a graph, and a graph freed by an earlier backward", () => {
    expect(() => traceBackward(f64(1))).toThrow(GraphError);
    expect(() => traceBackward(f64(1))).toThrow(/does not require grad/);
    const x = f64(2, true);
    const y = mul(tanh(x), 3);
    y.backward();
    expect(() => traceBackward(y)).toThrow(/already been freed/);
    expect(() => traceBackward("y" as unknown as Tensor)).toThrow(/expected a Tensor/);
  });
});

describe("describeGraph", () => {
  it("lists the nodes without running backward", () => {
    const { f, x } = lectureExample();
    const nodes = describeGraph(f);
    expect(nodes.map((n) => n.label)).toEqual(traceBackward(f).nodes.map((n) => n.label));
    expect(nodes.every((n) => n.grad === null)).toBe(true);
    expect(x.grad).toBeNull();
    expect(describeGraph(f64([1, 2]))).toEqual([
      {
        id: 0,
        op: "constant",
        label: "const0",
        inputs: [],
        shape: [2],
        dtype: "float64",
        value: [1, 2],
        grad: null,
      },
    ]);
  });
});
