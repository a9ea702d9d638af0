/**
 * Backprop of an expression as written, for people: `traceExpression("u' * tanh(W*x + b)", values)` evaluates
 * each written operation with chainrule's autograd and returns the backward pass node by node
 * ({@link BackpropTrace}: forward values, upstream, local and downstream gradients, fan-out sums) with the
 * lecture's names for the nodes: `z = Wx + b`, `h = tanh(z)` and the output `f = uᵀh`. It is what
 * `chainrule grad` prints and what the playground draws.
 *
 * Vectors are evaluated as columns (n × 1) and a transposed operand of a product is a flag of the matmul
 * kernel, so the graph holds the operations written and nothing else (no reshapes): `uᵀh` is one node.
 */
import { ValueError } from "../../errors.js";
import { Tensor, type NestedArray } from "../../tensor/tensor.js";
import { eye, tensor } from "../../tensor/creation.js";
import { traceBackward, type BackpropTrace } from "../../autograd/trace.js";
import {
  add,
  astype,
  div,
  matmul,
  mul,
  neg,
  pow,
  reshape,
  softmax,
  sub,
  transpose,
} from "../../ops/index.js";
import { variable, type Expr } from "../expression/expr.js";
import { functionRule } from "../expression/functions.js";
import { SCALAR, isScalar, matrixShape, shapeToText, vectorShape, type Shape } from "../expression/shape.js";
import { parseExpression, expressionVariables, type SyntaxNode } from "../1-parse/parser.js";
import { buildExpressionNodes, visitBottomUp } from "../2-shapes/build.js";
import { findPieces, substitute } from "../4-simplify/pieces.js";
import { toText } from "../5-output/print.js";
import { diagonal } from "./tensor-ops.js";

/** A variable's value: a number, nested arrays (a vector `[1, 2]`, a matrix `[[1, 0], [0, 1]]`) or a tensor. */
export type TraceValue = NestedArray | Tensor;

/** Options of {@link traceExpression}. */
export interface TraceExpressionOptions {
  /** The output's name (default `f`, or `F` when `f` is a variable). */
  name?: string;
}

/** A piece of the lecture's decomposition and the node that computes it. */
export interface TracePiece {
  /** The piece's name (`z`, `h`, …). */
  name: string;
  /** Its definition with the pieces inside it by name: `Wx + b`, `tanh(z)`. */
  definition: string;
  /** The id of its node in `nodes`. */
  node: number;
}

/** The backprop record of an expression, with names for people. */
export interface ExpressionTrace extends BackpropTrace {
  /** The expression as given. */
  expression: string;
  /** The output's name (`f`). */
  outputName: string;
  /** The variables, in order of first appearance. */
  variables: string[];
  /**
   * A short name per node (by id): variables and constants by their label, the output by `outputName`; in
   * an expression with vectors or matrices, the lecture's pieces by their letters (`z`, `h`) and other
   * operations by their expression (`Wx`) when short; the rest get letters in order (`a`, `b`, …).
   */
  names: string[];
  /** Per node: what it computes in the lecture's notation (`Wx + b`, `tanh(z)`, `uᵀh`), or null where the
   * op and its inputs' names say it (scalar expressions, and the inner ops of one function such as ‖r‖). */
  definitions: (string | null)[];
  /** The pieces `z = Wx + b`, `h = tanh(z)` and the output, inputs first (vector and matrix expressions). */
  pieces: TracePiece[];
  /** Where a value left a function's domain (the log of a negative number) or became NaN or ±∞. */
  warnings: string[];
}

const LETTERS = "abcdeghkmpqrstuvw";
/** A node named by its expression when the text is at most this long and has no space (`Wx`, `uᵀh`). */
const SHORT_NAME = 8;

function lookup(
  values: ReadonlyMap<string, TraceValue> | Readonly<Record<string, TraceValue>>,
  name: string,
) {
  if (values instanceof Map) return values.get(name);
  const record = values as Readonly<Record<string, TraceValue>>;
  return Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
}

/** The symbolic shape of a value: a number is a scalar, a flat array a vector, nested arrays a matrix. */
function shapeOfValue(value: TraceValue, name: string): Shape {
  const dims =
    value instanceof Tensor ? value.shape : tensor(value as NestedArray, { dtype: "float64" }).shape;
  if (dims.length === 0) return SCALAR;
  if (dims.length === 1) return vectorShape(dims[0]!);
  if (dims.length === 2) return matrixShape(dims[0]!, dims[1]!);
  throw new ValueError(
    `traceExpression: the value of ${name} has ${dims.length} dimensions; give a scalar, vector or matrix`,
  );
}

/** The value as a float64 leaf that requires grad; vectors as columns (n × 1). */
function leafOf(value: TraceValue, shape: Shape, name: string): Tensor {
  const source = value instanceof Tensor ? value : tensor(value as NestedArray, { dtype: "float64" });
  const data = (source.dtype === "float64" ? source : astype(source, "float64")).toArray();
  const column = shape.kind === "vector" ? (data as number[]).map((v) => [v]) : data;
  const leaf = tensor(column, { dtype: "float64", requiresGrad: true });
  leaf.name = name;
  return leaf;
}

function firstNonFinite(t: Tensor): number | null {
  for (let i = 0; i < t.size; i++) if (!Number.isFinite(t._data[i]!)) return t._data[i]!;
  return null;
}

function formatEntry(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/**
 * Evaluates `expression` at `values` with chainrule's autograd, as written (one graph node per written
 * operation), and traces its backward pass. Throws ParseError, ShapeError or ValueError (a missing or unknown
 * value, a non-scalar expression, or one that does not depend on its variables through differentiable ops).
 */
export function traceExpression(
  expression: string,
  values: ReadonlyMap<string, TraceValue> | Readonly<Record<string, TraceValue>>,
  options: TraceExpressionOptions = {},
): ExpressionTrace {
  if (values === null || typeof values !== "object") {
    throw new ValueError("traceExpression: expected the values of the variables, e.g. { x: 1, y: [1, 2] }");
  }
  const parsed = parseExpression(expression);
  const variables = expressionVariables(parsed);
  const shapes = new Map<string, Shape>();
  for (const name of variables) {
    const value = lookup(values, name);
    if (value === undefined) throw new ValueError(`traceExpression: no value for ${name}`);
    shapes.set(name, shapeOfValue(value, name));
  }
  const { root, nodes: exprOf } = buildExpressionNodes(parsed, shapes);
  if (root.shape.kind !== "scalar") {
    throw new ValueError(
      `${expression.trim()} is not a scalar (${shapeToText(root.shape)}); backprop starts from a scalar output`,
    );
  }
  const outputName = options.name ?? (variables.includes("f") ? "F" : "f");
  if (variables.includes(outputName)) {
    throw new ValueError(`traceExpression: the output's name ${outputName} is also a variable`);
  }
  const leaves = new Map<string, Tensor>();
  for (const name of variables) leaves.set(name, leafOf(lookup(values, name)!, shapes.get(name)!, name));

  // Names: the lecture's pieces (z, h) where the expression has vectors or matrices.
  const matrixExpression = [...shapes.values()].some((s) => !isScalar(s));
  const taken = new Set([...variables, outputName]);
  const pieces = matrixExpression ? findPieces(root, taken) : [];
  const pieceVariables = new Map<string, Expr>(
    pieces.map((p) => [p.node.key, variable(p.name, p.node.shape)]),
  );
  const exprNames = new Map<string, string>(pieces.map((p) => [p.node.key, p.name]));
  for (const p of pieces) taken.add(p.name);
  const definitionOf = (e: Expr): string => {
    const others = new Map(pieceVariables);
    others.delete(e.key);
    return toText(substitute(e, others));
  };

  // Evaluate the syntax tree bottom-up (no recursion), one tensor per distinct written operation.
  const warnings: string[] = [];
  const valueOf = new Map<SyntaxNode, Tensor>();
  const byKey = new Map<string, Tensor>();
  const named = new Map<Tensor, { name: string; expr: Expr }>();
  visitBottomUp(parsed.tree, (node, kids) => {
    const e = exprOf.get(node)!;
    const compound = node.type !== "name" && node.type !== "number" && e.kind !== "var" && e.kind !== "const";
    let t = compound ? byKey.get(e.key) : undefined;
    if (t === undefined) {
      t = evaluateNode(
        node,
        kids.map((k) => valueOf.get(k)!),
        exprOf,
        leaves,
        valueOf,
      );
      if (compound) byKey.set(e.key, t);
      checkValue(
        node,
        kids.map((k) => valueOf.get(k)!),
        t,
        parsed.source,
        warnings,
      );
    }
    valueOf.set(node, t);
    if (compound && matrixExpression && !named.has(t) && t.name === undefined) {
      let name = node === parsed.tree ? outputName : exprNames.get(e.key);
      if (name === undefined) {
        const text = definitionOf(e);
        name = text.length <= SHORT_NAME && !/\s/.test(text) && !taken.has(text) ? text : undefined;
      }
      if (name === undefined) name = [...LETTERS].find((l) => !taken.has(l)) ?? `n${named.size}`;
      taken.add(name);
      t.name = name;
      named.set(t, { name, expr: e });
    }
  });
  const output = valueOf.get(parsed.tree)!;
  if (!output.requiresGrad) {
    throw new ValueError(`${expression.trim()} does not depend on its variables through differentiable ops`);
  }
  const trace = traceBackward(output);
  const byName = new Map([...named.values()].map((n) => [n.name, n.expr]));

  const names: string[] = [];
  const definitions: (string | null)[] = [];
  let next = 0;
  const letters = [...LETTERS].filter((l) => !taken.has(l));
  for (const node of trace.nodes) {
    const e = byName.get(node.label);
    if (node.op === "leaf" || node.op === "constant") names.push(node.label);
    else if (node.id === trace.output) names.push(outputName);
    else if (e !== undefined) names.push(node.label);
    else names.push(letters[next++] ?? `n${node.id}`);
    definitions.push(e !== undefined ? definitionOf(e) : null);
  }
  const tracePieces: TracePiece[] = [];
  for (const p of pieces) {
    const id = trace.nodes.findIndex((n) => n.label === p.name);
    if (id >= 0) tracePieces.push({ name: p.name, definition: definitionOf(p.node), node: id });
  }
  if (matrixExpression)
    tracePieces.push({ name: outputName, definition: definitionOf(root), node: trace.output });
  return {
    ...trace,
    expression,
    outputName,
    variables,
    names,
    definitions,
    pieces: tracePieces,
    warnings,
  };
}

/** The matrix product of two evaluated operands, with a transposed operand as a flag of the kernel. */
function product(
  node: Extract<SyntaxNode, { type: "binary" }>,
  args: readonly Tensor[],
  valueOf: ReadonlyMap<SyntaxNode, Tensor>,
): Tensor {
  const operand = (side: SyntaxNode, value: Tensor): { t: Tensor; transposed: boolean } => {
    if (side.type === "transpose" && valueOf.get(side.arg)!.ndim === 2) {
      return { t: valueOf.get(side.arg)!, transposed: true };
    }
    return { t: value, transposed: false };
  };
  const [a, b] = [operand(node.left, args[0]!), operand(node.right, args[1]!)];
  return matmul(a.t, b.t, {
    ...(a.transposed ? { transposeA: true } : {}),
    ...(b.transposed ? { transposeB: true } : {}),
  });
}

function evaluateNode(
  node: SyntaxNode,
  args: readonly Tensor[],
  exprOf: ReadonlyMap<SyntaxNode, Expr>,
  leaves: ReadonlyMap<string, Tensor>,
  valueOf: ReadonlyMap<SyntaxNode, Tensor>,
): Tensor {
  const shapeOf = (n: SyntaxNode): Shape => exprOf.get(n)!.shape;
  switch (node.type) {
    case "number":
      return tensor(node.value, { dtype: "float64" });
    case "name":
      return leaves.get(node.name)!;
    case "negate":
      return neg(args[0]!);
    case "transpose":
      return args[0]!.ndim === 2 ? transpose(args[0]!) : args[0]!;
    case "binary": {
      const [a, b] = args as [Tensor, Tensor];
      const exponent = node.right.type === "number" ? node.right.value : b;
      switch (node.op) {
        case "+":
          return add(a, b);
        case "-":
          return sub(a, b);
        case "*":
          if (isScalar(shapeOf(node.left)) || isScalar(shapeOf(node.right))) return mul(a, b);
          return product(node, args, valueOf);
        case ".*":
          return mul(a, b);
        case "/":
        case "./":
          return div(a, b);
        case "^":
        case ".^":
          return pow(a, exponent);
      }
      break;
    }
    case "call": {
      const rule = functionRule(node.name)!;
      const shapes = node.args.map(shapeOf);
      const x = args[0]!;
      // Columns (n × 1) in place of the 1-D vectors the rules' evaluation expects.
      if (shapes[0]!.kind === "vector") {
        if (rule.name === "softmax") return softmax(x, 0);
        if (rule.name === "diag") return mul(eye(x.shape[0]!, x.shape[0]!, { dtype: x.dtype }), transpose(x));
      }
      if (rule.name === "diag" && shapes[0]!.kind === "matrix") return reshape(diagonal(x), [-1, 1]);
      return rule.evaluate(args, shapes);
    }
  }
  throw new ValueError(`traceExpression: cannot evaluate ${JSON.stringify(node)}`);
}

/** Notes a value that leaves a function's domain, or a NaN or ±∞ made from finite inputs. */
function checkValue(
  node: SyntaxNode,
  args: readonly Tensor[],
  value: Tensor,
  source: string,
  warnings: string[],
): void {
  const text = source.slice(node.start, node.end);
  if (node.type === "call") {
    const domain = functionRule(node.name)?.domain;
    const arg = args[0];
    if (domain !== undefined && arg !== undefined) {
      for (let i = 0; i < arg.size; i++) {
        const v = arg._data[i]!;
        if (Number.isNaN(v) || domain.contains(v)) continue;
        const argText = source.slice(node.args[0]!.start, node.args[0]!.end);
        const where =
          arg.size === 1 ? `${argText} = ${formatEntry(v)}` : `an entry of ${argText} is ${formatEntry(v)}`;
        warnings.push(`${text}: ${node.name} is defined for ${argText} ${domain.text}, but ${where}`);
        return;
      }
    }
  }
  if (node.type === "name" || node.type === "number") return;
  if (args.some((a) => firstNonFinite(a) !== null)) return;
  const bad = firstNonFinite(value);
  if (bad !== null)
    warnings.push(`${text} is ${Number.isNaN(bad) ? "NaN" : bad > 0 ? "∞" : "−∞"} at these values`);
}
