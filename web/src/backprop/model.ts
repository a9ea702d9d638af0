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
  parseAssignments,
  parseValueAssignments,
  nodeFormula,
  ChainruleError,
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

/** Runs `read`, turning chainrule's ValueError into an error of `field`. */
function inField<T>(field: FieldError["field"], read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ChainruleError) throw new FieldError(field, error.message);
    throw error;
  }
}

function entries(text: string, field: FieldError["field"], example: string): [string, string][] {
  return inField(field, () => parseAssignments(text, example));
}

/** `x=1, y=2, W=[[1,2],[3,4]]`. */
export function parseValues(text: string): Map<string, NestedArray> {
  return inField("at", () => parseValueAssignments(text));
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

/** The nodes with the lecture's names (`z = Wx + b`, `h = tanh(z)`; in scalar expressions a, b, …, and f). */
export function nameNodes(trace: ExpressionTrace): GraphNode[] {
  const shapes = trace.nodes.map((n) => n.shape);
  return trace.nodes.map((node) => ({
    node,
    name: trace.names[node.id]!,
    formula:
      node.op === "leaf" || node.op === "constant"
        ? ""
        : (trace.definitions[node.id] ?? nodeFormula(node, trace.names, "lecture", shapes)),
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
