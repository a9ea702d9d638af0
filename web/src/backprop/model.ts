/**
 * From the text fields to a traced backward pass: the expression is parsed and shaped by chainrule's calculus
 * front end, evaluated with its autograd at the given (or random) values, and `traceBackward` records every
 * step: upstream, local and downstream gradients per node, and the sums where a value fans out.
 */
import {
  Random,
  expressionVariables,
  parseExpression,
  parseSymbolicShape,
  splitTopLevel,
  traceExpression,
  type ExpressionTrace,
  type NestedArray,
  type SymbolicShape as Shape,
  type TraceNode,
} from "../lib.js";

/** An error in one of the fields, with the span to underline when it is known. */
export class FieldError extends Error {
  constructor(
    readonly field: "expr" | "at" | "shapes" | "sizes" | "wrt",
    message: string,
    readonly start: number | null = null,
    readonly end: number | null = null,
  ) {
    super(message);
  }
}

/**
 * Reads the position chainrule's messages point at (`… (at column 7)` followed by the source line and a
 * caret line) and returns the message without the snippet.
 */
export function locateError(message: string): { message: string; start: number | null; end: number | null } {
  const lines = message.split("\n");
  const caret = lines.length >= 3 ? /^ {2}( *)(\^+)\s*$/.exec(lines[lines.length - 1]!) : null;
  if (caret === null) return { message, start: null, end: null };
  const start = caret[1]!.length;
  return {
    message: lines.slice(0, -2).join("\n"),
    start,
    end: start + caret[2]!.length,
  };
}

/** Splits on separators outside brackets: `W=[[1, 2]], x=1` → `W=[[1, 2]]`, `x=1`. */
export function splitEntries(text: string): string[] {
  return splitTopLevel(text, ",;\n");
}

function entries(text: string, field: FieldError["field"], example: string): [string, string][] {
  return splitEntries(text).map((entry) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*(.*)$/s.exec(entry);
    if (!match) throw new FieldError(field, `expected name=value (e.g. ${example}), got “${entry}”`);
    return [match[1]!, match[2]!.trim()];
  });
}

/** `x=1, y=2, W=[[1,2],[3,4]]`. */
export function parseValues(text: string): Map<string, NestedArray> {
  const values = new Map<string, NestedArray>();
  for (const [name, raw] of entries(text, "at", "x=1 or v=[1, 2]")) {
    let value: unknown;
    try {
      value = JSON.parse(raw.replace(/−/g, "-"));
    } catch {
      throw new FieldError("at", `the value of ${name} is not a number or an array: “${raw}”`);
    }
    const valid = (v: unknown, depth: number): boolean =>
      (typeof v === "number" && Number.isFinite(v)) ||
      (Array.isArray(v) && depth < 2 && v.length > 0 && v.every((item) => valid(item, depth + 1)));
    if (!valid(value, 0)) {
      throw new FieldError(
        "at",
        `the value of ${name} must be a number, a vector [..] or a matrix [[..], ..]`,
      );
    }
    if (values.has(name)) throw new FieldError("at", `${name} is given twice`);
    values.set(name, value as NestedArray);
  }
  return values;
}

/** `W: n×m, x: m` (shapes as `derive` reads them). */
export function parseShapes(text: string): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  for (const [name, spec] of entries(text, "shapes", "W: n×m")) {
    try {
      shapes.set(name, parseSymbolicShape(spec, name));
    } catch (error) {
      throw new FieldError("shapes", (error as Error).message);
    }
  }
  return shapes;
}

/** `n=3, m=4`. */
export function parseSizes(text: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const [name, raw] of entries(text, "sizes", "n=3")) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new FieldError("sizes", `the size of ${name} must be a whole number from 1 to 64, got “${raw}”`);
    }
    sizes.set(name, n);
  }
  return sizes;
}

/** The symbolic dimensions of a shape (`n` and `m` in n × m). */
function symbolsOf(shape: Shape): string[] {
  const dims = shape.kind === "scalar" ? [] : shape.kind === "matrix" ? [shape.rows, shape.cols] : [shape.n];
  return dims.filter((d): d is string => typeof d === "string");
}

const DEFAULT_SIZES = [3, 4, 2, 5, 6];

/** The sizes of every symbolic dimension of `shapes`: those given, then 3, 4, 2, … in order of appearance. */
export function resolveSizes(
  shapes: Iterable<Shape>,
  given: ReadonlyMap<string, number>,
): Map<string, number> {
  const sizes = new Map(given);
  let next = 0;
  for (const shape of shapes) {
    for (const symbol of symbolsOf(shape)) {
      if (!sizes.has(symbol)) sizes.set(symbol, DEFAULT_SIZES[next++ % DEFAULT_SIZES.length]!);
    }
  }
  return sizes;
}

function numeric(shape: Shape, sizes: ReadonlyMap<string, number>): number[] {
  const size = (d: string | number): number => (typeof d === "number" ? d : sizes.get(d)!);
  switch (shape.kind) {
    case "scalar":
      return [];
    case "vector":
    case "row":
      return [size(shape.n)];
    case "matrix":
      return [size(shape.rows), size(shape.cols)];
  }
}

/** Random values (normal, two decimals, seeded) of the given shape. */
export function randomValue(shape: number[], random: Random): NestedArray {
  const draw = (): number => Math.round(random.normal() * 100) / 100;
  if (shape.length === 0) return draw();
  if (shape.length === 1) return Array.from({ length: shape[0]! }, draw);
  return Array.from({ length: shape[0]! }, () => Array.from({ length: shape[1]! }, draw));
}

export function valueToText(value: NestedArray): string {
  return JSON.stringify(value).replace(/,/g, ", ");
}

/** Values for every variable of the expression: the typed ones, the others random from their shapes. */
export function valuesFor(
  expression: string,
  at: string,
  shapesText: string,
  sizesText: string,
  seed = 1,
): { values: Map<string, NestedArray>; random: string[]; variables: string[] } {
  const parsed = parseFieldExpression(expression);
  const variables = expressionVariables(parsed);
  const typed = parseValues(at);
  for (const name of typed.keys()) {
    if (!variables.includes(name)) {
      throw new FieldError(
        "at",
        `${name} does not occur in the expression` +
          (variables.length > 0 ? ` (its variables: ${variables.join(", ")})` : ""),
      );
    }
  }
  const shapes = parseShapes(shapesText);
  const sizes = resolveSizes(shapes.values(), parseSizes(sizesText));
  const random = new Random(seed);
  const values = new Map<string, NestedArray>();
  const randomNames: string[] = [];
  for (const name of variables) {
    const given = typed.get(name);
    if (given !== undefined) values.set(name, given);
    else {
      values.set(name, randomValue(numeric(shapes.get(name) ?? { kind: "scalar" }, sizes), random));
      randomNames.push(name);
    }
  }
  return { values, random: randomNames, variables };
}

export function parseFieldExpression(expression: string): ReturnType<typeof parseExpression> {
  if (expression.trim() === "") throw new FieldError("expr", "type an expression, e.g. (x + y) * max(y, z)");
  try {
    return parseExpression(expression);
  } catch (error) {
    const { message, start, end } = locateError((error as Error).message);
    throw new FieldError("expr", message, start, end);
  }
}

/** A node of the page's graph: the trace's node with a short name and what it computes. */
export interface GraphNode {
  node: TraceNode;
  /** `a`, `f`, or the variable's name. */
  name: string;
  /** `x + y`, `max(y, z)`, `a · b`: the node's op over its inputs' names (empty for leaves). */
  formula: string;
}

export interface BackpropRun {
  expression: string;
  variables: string[];
  values: Map<string, NestedArray>;
  /** Variables whose values were drawn at random. */
  random: string[];
  trace: ExpressionTrace;
  nodes: GraphNode[];
  outputName: string;
}

const INFIX: Record<string, string> = { add: "+", sub: "−", mul: "·", div: "/", matmul: "" };

function formulaOf(node: TraceNode, names: readonly string[], shapes: readonly number[][]): string {
  const args = node.inputs.map((i) => names[i]!);
  const symbol = INFIX[node.op];
  if (symbol !== undefined && args.length === 2) {
    if (node.op === "matmul") return `${args[0]}${args[1]}`;
    if (node.op === "mul" && (shapes[node.inputs[0]!]!.length > 0 || shapes[node.inputs[1]!]!.length > 0)) {
      const either = shapes[node.inputs[0]!]!.length > 0 && shapes[node.inputs[1]!]!.length > 0;
      return either ? `${args[0]} ∘ ${args[1]}` : `${args[0]} ${args[1]}`;
    }
    return `${args[0]} ${symbol} ${args[1]}`;
  }
  switch (node.op) {
    case "neg":
      return `−${args[0]}`;
    case "square":
      return `${args[0]}²`;
    case "pow":
      return `${args[0]}^${args[1]}`;
    case "transpose":
      return `${args[0]}ᵀ`;
    case "maximum":
      return `max(${args.join(", ")})`;
    case "minimum":
      return `min(${args.join(", ")})`;
    default:
      return `${node.op}(${args.join(", ")})`;
  }
}

/** The nodes with the lecture's names (`z = Wx + b`, `h = tanh(z)`; in scalar expressions a, b, …, and f). */
export function nameNodes(trace: ExpressionTrace): GraphNode[] {
  const shapes = trace.nodes.map((n) => n.shape);
  return trace.nodes.map((node) => ({
    node,
    name: trace.names[node.id]!,
    formula:
      node.op === "leaf" || node.op === "constant"
        ? ""
        : (trace.definitions[node.id] ?? formulaOf(node, trace.names, shapes)),
  }));
}

/** Evaluates the expression at the values with chainrule's autograd and traces the backward pass. */
export function runBackprop(
  expression: string,
  at: string,
  shapesText: string,
  sizesText: string,
): BackpropRun {
  const { values, random, variables } = valuesFor(expression, at, shapesText, sizesText);
  let trace: ExpressionTrace;
  try {
    trace = traceExpression(expression, values);
  } catch (error) {
    const located = locateError((error as Error).message);
    const message = located.message.replace(/^traceExpression: /, "");
    const field = /value/.test(message) && !/differentiable/.test(message) ? "at" : "expr";
    throw new FieldError(field, message, located.start, located.end);
  }
  return {
    expression,
    variables,
    values,
    random,
    trace,
    nodes: nameNodes(trace),
    outputName: trace.outputName,
  };
}
