/**
 * The computation graph as Graphviz DOT text: one box per tensor (its label, value and gradient) and one
 * small oval per op between its inputs and its result, the picture micrograd draws. Render it with
 * `dot -Tsvg graph.dot > graph.svg`.
 */
import { ValueError } from "../errors.js";
import { Tensor, type NestedArray } from "../tensor/tensor.js";
import type { TypedArray } from "../tensor/dtype.js";
import { describeGraph, traceBackward, type BackpropTrace, type TraceNode } from "../autograd/trace.js";

/** Options of {@link toDot}: what each vertex of the graph picture shows. */
export interface DotOptions {
  /** Show each tensor's forward value (default true). */
  values?: boolean;
  /**
   * Show each tensor's gradient ∂output/∂tensor. For a tensor this runs {@link traceBackward} (nothing is
   * changed: no `.grad`, the graph is kept), so the output must require grad and be one element or come with
   * `seed`. Default: false for a tensor, true for a trace (which already holds the gradients).
   */
  grads?: boolean;
  /** The upstream gradient to start from when `grads` is on and the output has more than one element. */
  seed?: Tensor | NestedArray | TypedArray;
  /** Layout direction: "LR" (left to right, default) or "TB" (top to bottom). */
  rankdir?: "LR" | "TB";
  /** How many values of a tensor to print before eliding the rest (default 6). */
  maxValues?: number;
  /** The title of each node's box by node id (e.g. `z = Wx + b` from `traceExpression`); default its label. */
  labels?: readonly (string | null | undefined)[];
}

/** Op symbols shown in the op ovals. */
const OP_SYMBOLS: Record<string, string> = {
  add: "+",
  sub: "−",
  mul: "×",
  div: "÷",
  neg: "−x",
  matmul: "@",
  maximum: "max",
  minimum: "min",
  pow: "pow",
  square: "x²",
  transpose: "ᵀ",
};

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const a = Math.abs(v);
  if (a === 0 || (a >= 1e-3 && a < 1e5)) return v.toFixed(4);
  return v.toExponential(3);
}

function flatten(value: NestedArray, out: number[], limit: number): void {
  if (out.length > limit) return;
  if (typeof value === "number") out.push(value);
  else for (const item of value) flatten(item, out, limit);
}

function formatValue(value: NestedArray, shape: readonly number[], maxValues: number): string {
  if (shape.length === 0) return formatNumber(value as number);
  const flat: number[] = [];
  flatten(value, flat, maxValues);
  const size = shape.reduce((a, b) => a * b, 1);
  const shown = flat.slice(0, maxValues).map(formatNumber);
  const more = size > maxValues ? ", …" : "";
  const columns = shape.length === 2 && shape[1]! > 1 ? shape[1]! : 0;
  if (columns === 0) return `[${shape.join("×")}] ${shown.join(", ")}${more}`;
  // A matrix row by row, one line each, so that the box stays narrow.
  const rows: string[] = [];
  for (let i = 0; i < shown.length; i += columns) rows.push(shown.slice(i, i + columns).join(", "));
  return `[${shape.join("×")}]\n${rows.join("\n")}${more}`;
}

/** Escapes text for a field of a Graphviz record label. */
function escapeRecord(text: string): string {
  return text.replace(/[\\"{}|<>]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
}

/** Escapes text for an ordinary quoted Graphviz string. */
function escapeString(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
}

function renderNodes(
  nodes: readonly TraceNode[],
  options: {
    values: boolean;
    grads: boolean;
    rankdir: string;
    maxValues: number;
    labels: readonly (string | null | undefined)[];
  },
): string {
  const lines = ["digraph chainrule {", `  rankdir=${options.rankdir};`, '  node [fontname="Helvetica"];'];
  for (const node of nodes) {
    const fields = [escapeRecord(options.labels[node.id] ?? node.label)];
    if (options.values)
      fields.push(escapeRecord(`value ${formatValue(node.value, node.shape, options.maxValues)}`));
    if (options.grads) {
      const grad = node.grad === null ? "—" : formatValue(node.grad, node.shape, options.maxValues);
      fields.push(escapeRecord(`grad ${grad}`));
    }
    const style = node.op === "constant" ? ', style="dashed"' : node.op === "leaf" ? ', style="bold"' : "";
    // A record's fields stack across the layout direction, and braces turn them: so the fields stack
    // vertically without braces left to right, and with braces top to bottom (side by side they made a
    // matrix's box as wide as its printed values).
    const record = options.rankdir === "LR" ? fields.join(" | ") : `{ ${fields.join(" | ")} }`;
    lines.push(`  n${node.id} [shape=record, label="${record}"${style}];`);
    if (node.op === "leaf" || node.op === "constant") continue;
    const symbol = OP_SYMBOLS[node.op] ?? node.op;
    lines.push(`  n${node.id}_op [shape=ellipse, label="${escapeString(symbol)}"];`);
    node.inputs.forEach((input) => lines.push(`  n${input} -> n${node.id}_op;`));
    lines.push(`  n${node.id}_op -> n${node.id};`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/**
 * Renders the graph behind `output` (or a trace from {@link traceBackward}) as Graphviz DOT text: a record
 * box per tensor with its label, value and gradient, an oval per op. Constants are dashed, leaves bold.
 */
export function toDot(output: Tensor | BackpropTrace, options: DotOptions = {}): string {
  const rankdir = options.rankdir ?? "LR";
  if (rankdir !== "LR" && rankdir !== "TB") {
    throw new ValueError(`toDot: rankdir must be "LR" or "TB", got ${JSON.stringify(rankdir)}`);
  }
  const maxValues = options.maxValues ?? 6;
  if (!Number.isInteger(maxValues) || maxValues < 1) {
    throw new ValueError(`toDot: maxValues must be a positive integer, got ${maxValues}`);
  }
  const values = options.values ?? true;
  let nodes: TraceNode[];
  let grads: boolean;
  if (output instanceof Tensor) {
    grads = options.grads ?? false;
    nodes = grads ? traceBackward(output, options.seed).nodes : describeGraph(output);
  } else if (output && typeof output === "object" && Array.isArray((output as BackpropTrace).nodes)) {
    grads = options.grads ?? true;
    nodes = output.nodes;
  } else {
    throw new ValueError("toDot: expected a Tensor or a trace from traceBackward");
  }
  const labels = options.labels ?? [];
  if (!Array.isArray(labels)) throw new ValueError("toDot: labels must be an array of strings by node id");
  return renderNodes(nodes, { values, grads, rankdir, maxValues, labels });
}
