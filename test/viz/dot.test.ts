import { describe, expect, it } from "vitest";
import {
  GraphError,
  Tensor,
  ValueError,
  add,
  matmul,
  maximum,
  mul,
  tanh,
  tensor,
  toDot,
  traceBackward,
} from "../../src/index.js";

function named(t: Tensor, name: string): Tensor {
  t.name = name;
  return t;
}

function lectureExample() {
  const x = named(tensor(1, { requiresGrad: true }), "x");
  const y = named(tensor(2, { requiresGrad: true }), "y");
  const z = named(tensor(0, { requiresGrad: true }), "z");
  return { x, y, z, f: mul(add(x, y), maximum(y, z)) };
}

interface ParsedDot {
  nodes: Map<string, Record<string, string>>;
  edges: [string, string][];
}

/** Reads a quoted DOT string starting at `text[start] === '"'`; returns its raw content and the end index. */
function readQuoted(text: string, start: number): [string, number] {
  let i = start + 1;
  let out = "";
  while (i < text.length && text[i] !== '"') {
    if (text[i] === "\\") {
      out += text[i]! + text[i + 1]!;
      i += 2;
    } else out += text[i++]!;
  }
  if (text[i] !== '"') throw new Error("unterminated string");
  return [out, i + 1];
}

/** A small parser for the subset of DOT that toDot writes; throws on anything else. */
function parseDot(dot: string): ParsedDot {
  const lines = dot.trimEnd().split("\n");
  expect(lines[0]).toBe("digraph chainrule {");
  expect(lines[lines.length - 1]).toBe("}");
  const nodes = new Map<string, Record<string, string>>();
  const edges: [string, string][] = [];
  for (const line of lines.slice(1, -1)) {
    const statement = line.trim();
    if (/^rankdir=(LR|TB);$/.test(statement) || statement === 'node [fontname="Helvetica"];') continue;
    const edge = /^(n\d+(?:_op)?) -> (n\d+(?:_op)?);$/.exec(statement);
    if (edge) {
      edges.push([edge[1]!, edge[2]!]);
      continue;
    }
    const node = /^(n\d+(?:_op)?) \[(.*)\];$/.exec(statement);
    if (!node) throw new Error(`unexpected DOT statement: ${statement}`);
    const attributes: Record<string, string> = {};
    const body = node[2]!;
    let i = 0;
    while (i < body.length) {
      const key = /^([a-z]+)=/.exec(body.slice(i));
      if (!key) throw new Error(`bad attribute list: ${body}`);
      i += key[0].length;
      let value: string;
      if (body[i] === '"') [value, i] = readQuoted(body, i);
      else {
        const bare = /^[A-Za-z]+/.exec(body.slice(i))!;
        value = bare[0];
        i += value.length;
      }
      attributes[key[1]!] = value;
      if (body.startsWith(", ", i)) i += 2;
      else if (i < body.length) throw new Error(`bad attribute separator in ${body}`);
    }
    nodes.set(node[1]!, attributes);
  }
  for (const [from, to] of edges) {
    expect(nodes.has(from), `edge from undeclared ${from}`).toBe(true);
    expect(nodes.has(to), `edge to undeclared ${to}`).toBe(true);
  }
  return { nodes, edges };
}

/** The fields of a record label "a | b | c" (left to right) or "{ a | b | c }" (top to bottom), unescaped. */
function recordFields(label: string): string[] {
  const braced = label.startsWith("{ ") && label.endsWith(" }");
  const inner = braced ? label.slice(2, -2) : label;
  const fields: string[] = [];
  let current = "";
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === "\\") {
      const escaped = inner[++i]!;
      current += escaped === "n" ? "\n" : escaped;
    } else if (inner.startsWith(" | ", i)) {
      fields.push(current);
      current = "";
      i += 2;
    } else {
      expect('{}|<>"'.includes(inner[i]!), `unescaped ${inner[i]} in ${label}`).toBe(false);
      current += inner[i]!;
    }
  }
  fields.push(current);
  return fields;
}

describe("toDot on the lecture's example", () => {
  it("draws a box per tensor with label, value and gradient, and an oval per op", () => {
    const { f } = lectureExample();
    const dot = toDot(f, { grads: true });
    const { nodes, edges } = parseDot(dot);
    const boxes = [...nodes.entries()].filter(([, a]) => a["shape"] === "record");
    const fields = Object.fromEntries(
      boxes.map(([, a]) => recordFields(a["label"]!)).map((f) => [f[0], f.slice(1)]),
    );
    // a = x + y = 3, b = max(y, z) = 2, f = 6; ∂f/∂x = 2, ∂f/∂y = 3 + 2 = 5, ∂f/∂z = 0
    expect(fields).toEqual({
      x: ["value 1.0000", "grad 2.0000"],
      y: ["value 2.0000", "grad 5.0000"],
      z: ["value 0.0000", "grad 0.0000"],
      "x + y": ["value 3.0000", "grad 2.0000"],
      "max(y, z)": ["value 2.0000", "grad 3.0000"],
      "(x + y) · max(y, z)": ["value 6.0000", "grad 1.0000"],
    });
    const ovals = [...nodes.values()].filter((a) => a["shape"] === "ellipse").map((a) => a["label"]);
    expect(ovals.sort()).toEqual(["+", "max", "×"].sort());
    // 3 ops × (2 input edges + 1 output edge)
    expect(edges).toHaveLength(9);
    // leaves are bold
    expect(boxes.filter(([, a]) => a["style"] === "bold")).toHaveLength(3);
  });

  it("renders a trace the same way as the tensor with grads on", () => {
    const { f } = lectureExample();
    expect(toDot(traceBackward(f))).toBe(toDot(f, { grads: true }));
  });

  it("leaves values or gradients out on request, and draws top to bottom on request", () => {
    const { f } = lectureExample();
    const plain = parseDot(toDot(f, { values: false }));
    for (const attributes of plain.nodes.values()) {
      if (attributes["shape"] === "record") expect(recordFields(attributes["label"]!)).toHaveLength(1);
    }
    const withValues = toDot(f);
    expect(withValues).toContain("value 6.0000");
    expect(withValues).not.toContain("grad");
    expect(toDot(f, { rankdir: "TB" })).toContain("rankdir=TB;");
  });
});

describe("toDot in general", () => {
  it("prints tensors by shape and first values, and constants dashed", () => {
    const W = named(
      tensor(
        [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
        { requiresGrad: true },
      ),
      "W",
    );
    const x = tensor([[1], [0.5], [0.25], [1e-7]]);
    const dot = toDot(tanh(matmul(W, x)), { maxValues: 3 });
    const { nodes } = parseDot(dot);
    const labels = [...nodes.values()]
      .filter((a) => a["shape"] === "record")
      .map((a) => recordFields(a["label"]!));
    // a matrix row by row, one line each (the first three values: 1, 2, 3 of the first row)
    expect(labels).toContainEqual(["W", "value [2×4]\n1.0000, 2.0000, 3.0000, …"]);
    // the constant x: its shape and its first three values, the rest elided
    expect(labels.find((l) => l[1]!.startsWith("value [4×1]"))).toEqual([
      expect.stringMatching(/^const\d+$/),
      "value [4×1] 1.0000, 0.5000, 0.2500, …",
    ]);
    expect([...nodes.values()].filter((a) => a["style"] === "dashed")).toHaveLength(1);
    expect(toDot(named(tensor([1e-7]), "tiny"))).toContain("value [1] 1.000e-7");
  });

  it("escapes names that contain DOT's special characters", () => {
    const x = named(tensor(1, { requiresGrad: true }), 'a "quoted" {name} | <port>\\');
    const { nodes } = parseDot(toDot(mul(x, 2)));
    const fields = [...nodes.values()]
      .filter((a) => a["shape"] === "record")
      .map((a) => recordFields(a["label"]!)[0]);
    expect(fields).toContain('a "quoted" {name} | <port>\\');
  });

  it("draws a tensor without a graph as one box", () => {
    const { nodes, edges } = parseDot(toDot(tensor(3)));
    expect(nodes.size).toBe(1);
    expect(edges).toHaveLength(0);
  });

  it("errors: bad options, a non-tensor, and gradients of a tensor without a graph", () => {
    const { f } = lectureExample();
    expect(() => toDot(f, { rankdir: "RL" as "LR" })).toThrow(ValueError);
    expect(() => toDot(f, { maxValues: 0 })).toThrow(/maxValues must be a positive integer/);
    expect(() => toDot({} as Tensor)).toThrow(/expected a Tensor or a trace/);
    expect(() => toDot(tensor(1), { grads: true })).toThrow(GraphError);
    expect(() => toDot(mul(tensor([1, 2], { requiresGrad: true }), 2), { grads: true })).toThrow(GraphError);
    expect(toDot(mul(tensor([1, 2], { requiresGrad: true }), 2), { grads: true, seed: [1, 1] })).toContain(
      "grad [2] 2.0000, 2.0000",
    );
  });
});
