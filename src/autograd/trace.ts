/**
 * The backprop trace: a JSON-serialisable record of one backward pass, step by step, in the lecture's terms.
 * Each node receives an **upstream** gradient, multiplies it by its **local** gradient (the local Jacobian)
 * and sends a **downstream** gradient to each input; where a tensor feeds several consumers (fan-out), the
 * contributions are summed. `traceBackward` records exactly that, from the engine's own steps (`onStep`), so
 * the record shows what backward really computed. The CLI (`chainrule grad`) and `toDot` render it.
 *
 * The record's shape is a stable contract (see {@link BackpropTrace}): values are plain nested arrays of
 * numbers (a number for a 0-d tensor), so `JSON.stringify` works on it; NaN and ±Infinity become `null` there,
 * as JSON has no such numbers.
 */
import { GraphError } from "../errors.js";
import { gradNodeOf } from "../graph/node.js";
import { RowSparse, Tensor, type NestedArray } from "../tensor/tensor.js";
import type { DType, TypedArray } from "../tensor/dtype.js";
import { shapesEqual } from "../tensor/shape.js";
import { tensor } from "../tensor/creation.js";
import type { Node } from "../graph/node.js";
import { noGrad } from "../graph/mode.js";
import { runEngine, toSeed, topologicalSort } from "./engine.js";
import type { InputGrad, OpRule } from "../graph/rule.js";
import type { OpName } from "../ops/types.js";
import { add, sumToShape } from "../ops/index.js";

/** Local Jacobians with at most this many entries are recorded in full; larger ones are described. */
export const LOCAL_JACOBIAN_LIMIT = 64;

/** One tensor of the graph. */
export interface TraceNode {
  /** The node's position in `nodes` (topological order: every input comes before its consumers). */
  id: number;
  /** The primitive that computed it ("add", "matmul", …), "leaf" for a tensor created with
   * `requiresGrad`, or "constant" for an input that does not require grad. */
  op: OpName | "leaf" | "constant";
  /** The tensor's `name` when it has one; otherwise an expression over the inputs' labels ("x + y"), or a
   * short form (`tanh#7`) when that would be long. Leaves without a name are `t<id>`. */
  label: string;
  /** Ids of the inputs, in the op's argument order (empty for leaves and constants). */
  inputs: number[];
  /** The tensor's shape. */
  shape: number[];
  /** The tensor's dtype. */
  dtype: DType;
  /** The forward value. */
  value: NestedArray;
  /** ∂(traced output)/∂(this tensor) as it arrived at the node (after hooks), or null where no gradient
   * flows (constants, and tensors the output does not depend on). Null throughout in `describeGraph`. */
  grad: NestedArray | null;
  /** For a matmul, whether the kernel transposes each operand (`uᵀh` is one node with the first flag set). */
  transposed?: readonly [boolean, boolean];
}

/** The local gradient of a node with respect to one input: ∂output/∂input. */
export type LocalGradient =
  | {
      /** The full Jacobian is listed. */
      kind: "jacobian";
      /** `[...outputShape, ...inputShape]`; entry (i, j) is ∂output_i/∂input_j. */
      shape: number[];
      /** The Jacobian's entries, nested by `shape`. */
      value: NestedArray;
    }
  | {
      /** The Jacobian is too large to list (more than {@link LOCAL_JACOBIAN_LIMIT} entries): it is described. */
      kind: "description";
      /** The shape the full Jacobian would have, `[...outputShape, ...inputShape]`. */
      shape: number[];
      /** The Jacobian in the lecture's notation, e.g. `diag(1 − tanh²(z))`, or the map it applies. */
      text: string;
    };

/** One backward step: downstream = upstream × local, for each input. */
export interface TraceStep {
  /** The id of the node whose rule ran. */
  node: number;
  /** The primitive whose backward rule ran. */
  op: OpName;
  /** The node's label (see {@link TraceNode.label}). */
  label: string;
  /** ∂L/∂(this node's output), the gradient arriving from above (summed over consumers, after hooks). */
  upstream: NestedArray;
  /** Per input: the local Jacobian (at most {@link LOCAL_JACOBIAN_LIMIT} entries) or its description;
   * null for an input that receives no gradient (a constant). */
  local: (LocalGradient | null)[];
  /** Per input: the gradient sent down to it (already summed back over broadcasting), or null. */
  downstream: (NestedArray | null)[];
}

/** A tensor that fed several consumers, and the gradients that were summed for it. */
export interface TraceFanOut {
  /** The id of the tensor that fanned out. */
  node: number;
  /** Each contribution: the consumer's id, the argument position at which the tensor entered it, and the
   * downstream gradient that consumer sent. */
  contributions: {
    /** The consumer's id. */
    from: number;
    /** The argument position at which the tensor entered the consumer. */
    input: number;
    /** The downstream gradient the consumer sent. */
    value: NestedArray;
  }[];
  /** The sum of the contributions. */
  total: NestedArray;
}

/** The whole record. */
export interface BackpropTrace {
  /** Id of the traced output (the last node). */
  output: number;
  /** The gradient backward started from (1 for a one-element output). */
  seed: NestedArray;
  /** Every tensor of the graph, inputs before consumers. */
  nodes: TraceNode[];
  /** The backward steps in the order the engine took them (reverse topological order). */
  steps: TraceStep[];
  /** Where fan-out summed gradients: one entry per tensor with more than one contribution. */
  fanOut: TraceFanOut[];
}

// ---------------------------------------------------------------------------------------------------------
// The graph

interface GraphEntry {
  node: TraceNode;
  tensor: Tensor;
  /** The engine node (null for constants). */
  engineNode: Node | null;
  /** True when the label is an infix expression that needs parentheses inside another expression. */
  infix: boolean;
}

interface Graph {
  entries: GraphEntry[];
  idOf: Map<Node, number>;
  output: number;
}

const MAX_LABEL = 40;

function freedError(caller: string, op: string): GraphError {
  return new GraphError(
    `${caller}: the graph through ${op} has already been freed by an earlier backward; ` +
      "pass { retainGraph: true } to that backward, or trace before running it",
  );
}

function buildGraph(output: Tensor, caller: string): Graph {
  const entries: GraphEntry[] = [];
  const idOf = new Map<Node, number>();
  const constants = new Map<Tensor, number>();
  const push = (
    tensorValue: Tensor,
    op: TraceNode["op"],
    inputs: number[],
    engineNode: Node | null,
  ): number => {
    const id = entries.length;
    const { label, infix } = makeLabel(tensorValue, op, inputs, entries, id, engineNode);
    const attrs = engineNode?.attrs as { transA?: boolean; transB?: boolean } | null | undefined;
    entries.push({
      node: {
        id,
        op,
        label,
        inputs,
        shape: tensorValue.shape.slice(),
        dtype: tensorValue.dtype,
        value: tensorValue.toArray(),
        grad: null,
        ...(op === "matmul" ? { transposed: [attrs?.transA === true, attrs?.transB === true] as const } : {}),
      },
      tensor: tensorValue,
      engineNode,
      infix,
    });
    return id;
  };
  const root = gradNodeOf(output);
  if (root === null) {
    const id = push(output, "constant", [], null);
    return { entries, idOf, output: id };
  }
  for (const node of topologicalSort([root])) {
    if (node.leaf !== null) {
      idOf.set(node, push(node.leaf, "leaf", [], node));
      continue;
    }
    if (node.inputs === null || node.output === null) throw freedError(caller, node.op);
    const inputs = node.inputs.map((input, i) => {
      const child = node.next[i];
      if (child) return idOf.get(child)!;
      let id = constants.get(input);
      if (id === undefined) {
        id = push(input, "constant", [], null);
        constants.set(input, id);
      }
      return id;
    });
    idOf.set(node, push(node.output, node.op as OpName, inputs, node));
  }
  return { entries, idOf, output: idOf.get(root)! };
}

// ---------------------------------------------------------------------------------------------------------
// Labels

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(4)));
  return v.toExponential(2);
}

function makeLabel(
  t: Tensor,
  op: TraceNode["op"],
  inputs: readonly number[],
  entries: readonly GraphEntry[],
  id: number,
  engineNode: Node | null,
): { label: string; infix: boolean } {
  if (t.name !== undefined && t.name !== "") return { label: t.name, infix: false };
  if (op === "leaf") return { label: `t${id}`, infix: false };
  if (op === "constant") {
    return { label: t.size === 1 ? formatNumber(t._data[0]!) : `const${id}`, infix: false };
  }
  const plain = inputs.map((i) => entries[i].node.label);
  const grouped = inputs.map((i) =>
    entries[i].infix ? `(${entries[i].node.label})` : entries[i].node.label,
  );
  const describe = engineNode?.rule?.describe;
  const label = describe?.label
    ? describe.label({ grouped, plain }, engineNode?.attrs)
    : `${op}(${plain.join(", ")})`;
  const infix = describe?.infix ?? false;
  if (label.length > MAX_LABEL) return { label: `${op}#${id}`, infix: false };
  return { label, infix };
}

// ---------------------------------------------------------------------------------------------------------
// Local gradients

/** A short symbol for a tensor inside a description: its label when short and simple, else `fallback`. */
function symbolFor(label: string | undefined, fallback: string): string {
  return label !== undefined && label.length <= 12 && !/[\s()]/.test(label) ? label : fallback;
}

/** What a node saved for backward: its inputs, output and rule (a traced graph is never freed). */
function savedOf(node: Node): { inputs: Tensor[]; output: Tensor; rule: OpRule<unknown> } {
  const { inputs, output, rule } = node;
  if (inputs === null || output === null || rule === null) throw freedError("traceBackward", node.op);
  return { inputs, output, rule };
}

function denseGrad(g: InputGrad, input: Tensor, op: string): Tensor | null {
  if (g === null) return null;
  const dense = g instanceof RowSparse ? g.toDense() : g;
  return shapesEqual(dense.shape, input.shape) ? dense : sumToShape(dense, input.shape, op);
}

/** The local Jacobians of `node` with at most `LOCAL_JACOBIAN_LIMIT` entries, one row per output entry. */
function localJacobians(node: Node): (Float64Array | null)[] {
  const { inputs, output, rule } = savedOf(node);
  const wanted = inputs.map((t, i) => node.next[i] !== null && output.size * t.size <= LOCAL_JACOBIAN_LIMIT);
  const result = inputs.map((t, i) => (wanted[i] ? new Float64Array(output.size * t.size) : null));
  if (!wanted.includes(true)) return result;
  noGrad(() => {
    for (let k = 0; k < output.size; k++) {
      // Row k of the local Jacobian is the rule's vector–Jacobian product with the k-th unit upstream.
      const unit = tensor(new Array<number>(output.size).fill(0), {
        dtype: output.dtype,
        shape: output.shape,
      });
      unit._data[k] = 1;
      const grads = rule.backward(unit, {
        inputs,
        output,
        attrs: node.attrs,
        needsGrad: wanted,
        createGraph: false,
      });
      inputs.forEach((input, i) => {
        const rows = result[i];
        if (!rows) return;
        const g = denseGrad(grads[i] ?? null, input, node.op);
        if (g !== null) rows.set(g._data as TypedArray, k * input.size);
      });
    }
  });
  return result;
}

function localGradients(
  node: Node,
  entries: readonly GraphEntry[],
  inputIds: readonly number[],
): (LocalGradient | null)[] {
  const { inputs, output, rule } = savedOf(node);
  const jacobians = localJacobians(node);
  const letters =
    inputs.length === 2 ? ["a", "b"] : inputs.length === 1 ? ["x"] : inputs.map((_, i) => `x${i + 1}`);
  const symbols = inputIds.map((id, i) => symbolFor(entries[id]?.node.label, letters[i]));
  const broadcast = inputs.map((t) => !shapesEqual(t.shape, output.shape));
  let texts: string[] | null = null;
  return inputs.map((input, i) => {
    if (node.next[i] === null) return null;
    const shape = [...output.shape, ...input.shape];
    const rows = jacobians[i];
    if (rows) return { kind: "jacobian", shape, value: tensor(rows, { dtype: "float64", shape }).toArray() };
    const described = (texts ??= rule.describe.jacobian(symbols, node.attrs, broadcast));
    return { kind: "description", shape, text: described[i] ?? described[0] };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Public functions

/**
 * The graph behind `output` without running backward: the same `nodes` as {@link traceBackward}, with every
 * `grad` null. Works on any tensor (a tensor that does not require grad is one constant node).
 */
export function describeGraph(output: Tensor): TraceNode[] {
  if (!(output instanceof Tensor)) throw new GraphError("describeGraph: expected a Tensor");
  return buildGraph(output, "describeGraph").entries.map((e) => e.node);
}

/**
 * Runs backward from `output` (seeded like `backward`: 1 for a one-element output, else `seed` of the
 * output's shape) and returns the record of it: nodes, steps (upstream, local, downstream) and fan-out sums.
 *
 * It changes nothing: no `.grad` is touched (gradients go to the record) and the graph is kept, so
 * `backward` can still run on it. Hooks run as in any backward. Throws a `GraphError` when `output` does
 * not require grad or its graph was freed by an earlier backward.
 */
export function traceBackward(output: Tensor, seed?: Tensor | NestedArray | TypedArray): BackpropTrace {
  if (!(output instanceof Tensor)) throw new GraphError("traceBackward: expected a Tensor");
  const root = gradNodeOf(output);
  if (root === null) {
    throw new GraphError(
      "traceBackward: the tensor does not require grad, so there is no backward pass to trace; create its " +
        "inputs with { requiresGrad: true }",
    );
  }
  const seedTensor = toSeed(output, seed);
  const graph = buildGraph(output, "traceBackward");
  const { entries, idOf } = graph;
  const steps: TraceStep[] = [];
  const contributions = new Map<number, { from: number; input: number; value: Tensor }[]>();
  runEngine([root], [seedTensor], {
    retainGraph: true,
    createGraph: false,
    accumulate: false,
    onLeaf: (node, g) => {
      entries[idOf.get(node)!]!.node.grad = g.toArray();
    },
    onStep: ({ node, upstream, downstream }) => {
      const id = idOf.get(node)!;
      const entry = entries[id]!;
      entry.node.grad = upstream.toArray();
      downstream.forEach((g, i) => {
        const child = node.next[i];
        if (!g || !child) return;
        const target = idOf.get(child)!;
        let list = contributions.get(target);
        if (!list) contributions.set(target, (list = []));
        list.push({ from: id, input: i, value: g });
      });
      steps.push({
        node: id,
        op: node.op as OpName,
        label: entry.node.label,
        upstream: upstream.toArray(),
        local: localGradients(node, entries, entry.node.inputs),
        downstream: downstream.map((g) => (g ? g.toArray() : null)),
      });
    },
  });
  const fanOut: TraceFanOut[] = [];
  for (const [node, list] of [...contributions].sort((a, b) => a[0] - b[0])) {
    if (list.length < 2) continue;
    const total = noGrad(() => list.map((c) => c.value).reduce((sum, g) => add(sum, g)));
    fanOut.push({
      node,
      contributions: list.map((c) => ({ from: c.from, input: c.input, value: c.value.toArray() })),
      total: total.toArray(),
    });
  }
  return {
    output: graph.output,
    seed: seedTensor.toArray(),
    nodes: entries.map((e) => e.node),
    steps,
    fanOut,
  };
}
