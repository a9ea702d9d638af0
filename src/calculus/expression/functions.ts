/**
 * The function table of the matrix calculus: everything about each function in one entry, as the op table
 * does for tensor primitives. A rule says how the function is written (arity, the shapes it accepts), the
 * shape of its value, how it simplifies, its differential (forward rule, `d tanh(a) = (1 − tanh²(a)) ∘ da`),
 * its adjoint (the vector–Jacobian product the backward sweep uses), how to compute it on tensors, how it
 * is printed and which code computes it.
 *
 * Elementwise functions state their derivative f'(a) once (`elementwise(…)`); the differential
 * `f'(a) ∘ da` and the adjoint `upstream ∘ f'(a)` are derived from it. Every call node carries its rule
 * (`node.rule`), so the stages (differentiate, simplify, print, code, evaluate) read the facts from the node.
 *
 * Adding a function: one entry here (and its name in `FunctionName` of expr.ts, which makes this table
 * incomplete until the entry exists).
 */
import type { Tensor } from "../../tensor/tensor.js";
import {
  abs,
  cos,
  det,
  exp,
  inv,
  log,
  logdet,
  logSumExp,
  maximum,
  pow,
  relu,
  sigmoid,
  sign,
  sin,
  softmax,
  sqrt,
  sum as sumOf,
  tanh,
} from "../../ops/index.js";
import { diagMatrix, diagonal, norm2, trace } from "../numeric/tensor-ops.js";
import {
  ONE,
  ZERO,
  applyFunction,
  constant,
  dimension,
  dimensionProduct,
  divide,
  hadamard,
  identity,
  indicator,
  internalError,
  isZero,
  matmul,
  negate,
  ones,
  power,
  product,
  pullScalars,
  subtract,
  sum,
  transpose,
  zero,
  type CallExpr,
  type CallRule,
  type Expr,
  type FunctionName,
} from "./expr.js";
import {
  SCALAR,
  elementwiseShape,
  isScalar,
  isSquare,
  matrixShape,
  rowsOf,
  shapeToCompact,
  vectorShape,
  type Shape,
} from "./shape.js";

export type { FunctionName } from "./expr.js";

/** How a function is printed; the printer (5-output/print.ts) knows how to set each notation. */
export type FunctionNotation =
  /** `name(args)`, with the name given for text and LaTeX (default: the function's name, `\operatorname`). */
  | { kind: "call"; text?: string; latex?: string }
  /** `X⁻¹` (and `X⁻ᵀ` under a transpose). */
  | { kind: "inverse" }
  /** `‖a‖`, `|a|`: the argument between two delimiters. */
  | { kind: "delimited"; text: [string, string]; latex: [string, string] }
  /** `√a`. */
  | { kind: "root" }
  /** `a^b`. */
  | { kind: "power" };

/** Helpers the generated code defines when it uses them (their source is in 5-output/codegen.ts). */
export type CodeHelper = "outer" | "trace" | "diagMatrix" | "diagonal" | "norm2" | "indicator";

/** Code computing a function from its arguments' code (each a tensor expression). */
export interface FunctionCode {
  code: string;
  helper?: CodeHelper;
}

/** Where a function is defined: a value outside it gives NaN or ±∞. */
export interface FunctionDomain {
  /** The argument's condition, as a person writes it: `x > 0`. */
  text: string;
  /** True for an argument value inside the domain. */
  contains(x: number): boolean;
}

/** The differential's recursion: the differential of a sub-expression. */
export type Differentiate = (e: Expr) => Expr;

export interface FunctionRule extends CallRule {
  /** Number of arguments. */
  readonly arity: 1 | 2;
  /** False for the functions only the engine writes (`pow` with an expression exponent, `sign`). */
  readonly syntax: boolean;
  /** Linear in its argument (sum, tr, diag): not a piece of its own in the lecture's steps. */
  readonly linear: boolean;
  /** What the arguments must be, or null when they fit: the text after "expects" in a ShapeError. */
  check?(shapes: readonly Shape[]): string | null;
  /** d f(a) in terms of the differentials of the arguments. */
  differential(node: CallExpr, d: Differentiate): Expr;
  /** The gradient flowing to argument `slot` given the node's upstream gradient, or null when none flows. */
  adjoint(node: CallExpr, slot: number, upstream: Expr): Expr | null;
  /** The value on tensors (float64), given the arguments' values and symbolic shapes. */
  evaluate(args: readonly Tensor[], shapes: readonly Shape[]): Tensor;
  readonly notation: FunctionNotation;
  /** Code computing the function with chainrule's ops (`cr.tanh(z)`). */
  code(args: readonly string[], shapes: readonly Shape[]): FunctionCode;
  /** The argument values where the function is defined (log: x > 0), when that is not every number. */
  readonly domain?: FunctionDomain;
  /** The argument must be invertible (random test values are made well conditioned). */
  readonly invertible?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Shared pieces of rules

/** Sums a scalar input's gradient over the entries it was broadcast to. */
export function unbroadcast(input: Expr, node: Expr, gradient: Expr): Expr {
  return isScalar(input.shape) && !isScalar(node.shape) ? call("sum", [gradient]) : gradient;
}

/** ⟨a, da⟩: aᵀda for vectors, sum(a ∘ da) for matrices, a·da for scalars. */
function inner(a: Expr, da: Expr): Expr {
  if (isScalar(a.shape)) return hadamard(a, da);
  if (a.shape.kind === "vector") return matmul([transpose(a), da]);
  return call("sum", [hadamard(a, da)]);
}

const sameShape = (args: readonly Expr[]): Shape => args[0]!.shape;
const scalarShape = (): Shape => SCALAR;
const squareMatrix = (shapes: readonly Shape[]): string | null =>
  isSquare(shapes[0]!) ? null : "a square matrix";

function broadcastShape(name: string) {
  return (args: readonly Expr[]): Shape => {
    const s = elementwiseShape(args[0]!.shape, args[1]!.shape);
    if (s === null) {
      throw internalError(
        `${name} of ${shapeToCompact(args[0]!.shape)} and ${shapeToCompact(args[1]!.shape)}`,
      );
    }
    return s;
  };
}

const op =
  (name: string) =>
  (args: readonly string[]): FunctionCode => ({ code: `cr.${name}(${args.join(", ")})` });

const POSITIVE: FunctionDomain = { text: "> 0", contains: (x) => x > 0 };
const NON_NEGATIVE: FunctionDomain = { text: "≥ 0", contains: (x) => x >= 0 };

interface ElementwiseSpec {
  name: FunctionName;
  /** The value at a number (folded into the tree when it is an integer). */
  fold(x: number): number;
  /** f(0) = 0, so f(𝟎) is the zero of its shape. */
  zeroAtZero?: boolean;
  /** f'(a), written with `value` = f(a) where that reads best; null where it is zero (sign). */
  derivative(a: Expr, value: Expr): Expr | null;
  evaluate(x: Tensor): Tensor;
  /** The op of the generated code (`tanh` → `cr.tanh`). */
  codeName: string;
  notation?: FunctionNotation;
  domain?: FunctionDomain;
  syntax?: boolean;
}

/** A rule for an elementwise function, with the differential and the adjoint derived from f'. */
function elementwise(spec: ElementwiseSpec): FunctionRule {
  return {
    name: spec.name,
    arity: 1,
    syntax: spec.syntax ?? true,
    elementwise: true,
    linear: false,
    commutesWithTranspose: true,
    shape: sameShape,
    simplify([x]) {
      if (x!.kind === "const") {
        const value = spec.fold(x.value);
        if (Number.isInteger(value)) return constant(value);
      }
      if (spec.zeroAtZero && isZero(x!)) return x!;
      return null;
    },
    // d f(a) = f'(a) ∘ da
    differential(node, d) {
      const a = node.args[0]!;
      const derivative = spec.derivative(a, node);
      return derivative === null ? zero(node.shape) : hadamard(derivative, d(a));
    },
    // downstream = upstream ∘ f'(a)
    adjoint(node, _slot, upstream) {
      const derivative = spec.derivative(node.args[0]!, node);
      return derivative === null ? null : hadamard(upstream, derivative);
    },
    evaluate: ([x]) => spec.evaluate(x!),
    notation: spec.notation ?? { kind: "call" },
    code: op(spec.codeName),
    ...(spec.domain ? { domain: spec.domain } : {}),
  };
}

/** The defaults of a rule: not elementwise, one argument a person may write, not linear, a transpose
 * stays outside it, written `name(args)`. */
type RuleSpec<F extends FunctionName> = Omit<
  FunctionRule,
  "name" | "arity" | "syntax" | "elementwise" | "linear" | "commutesWithTranspose" | "notation"
> &
  Partial<FunctionRule> & { name: F };

function defineFunction<F extends FunctionName>(spec: RuleSpec<F>): FunctionRule & { name: F } {
  return {
    arity: 1,
    syntax: true,
    elementwise: false,
    linear: false,
    commutesWithTranspose: false,
    notation: { kind: "call" },
    ...spec,
  };
}

/** tr(X⁻¹ dX), the differential of log|det X| (and of det X, divided by det X). */
function traceOfInverseTimes(x: Expr, dx: Expr): Expr {
  return call("tr", [matmul([call("inv", [x]), dx])]);
}

// ---------------------------------------------------------------------------------------------------------
// The table

/** One rule per function, in the order the language lists them. */
export const FUNCTION_RULES: { readonly [F in FunctionName]: FunctionRule & { readonly name: F } } = {
  exp: {
    ...elementwise({
      name: "exp",
      fold: Math.exp,
      // exp'(a) = exp(a)
      derivative: (_a, value) => value,
      evaluate: exp,
      codeName: "exp",
      notation: { kind: "call", latex: "\\exp" },
    }),
    name: "exp",
  },
  log: {
    ...elementwise({
      name: "log",
      fold: Math.log,
      // log'(a) = 1 / a
      derivative: (a) => power(a, -1),
      evaluate: log,
      codeName: "log",
      notation: { kind: "call", latex: "\\log" },
      domain: POSITIVE,
    }),
    name: "log",
  },
  sqrt: {
    ...elementwise({
      name: "sqrt",
      fold: Math.sqrt,
      zeroAtZero: true,
      // (√a)' = 1 / (2√a)
      derivative: (_a, value) => product([{ base: value, power: -1 }], 0.5),
      evaluate: sqrt,
      codeName: "sqrt",
      notation: { kind: "root" },
      domain: NON_NEGATIVE,
    }),
    name: "sqrt",
  },
  tanh: {
    ...elementwise({
      name: "tanh",
      fold: Math.tanh,
      zeroAtZero: true,
      // tanh'(a) = 1 − tanh²(a)
      derivative: (_a, value) => subtract(ONE, power(value, 2)),
      evaluate: tanh,
      codeName: "tanh",
      notation: { kind: "call", latex: "\\tanh" },
    }),
    name: "tanh",
  },
  sigmoid: {
    ...elementwise({
      name: "sigmoid",
      fold: (x) => 1 / (1 + Math.exp(-x)),
      // σ'(a) = σ(a)(1 − σ(a))
      derivative: (_a, value) => hadamard(value, subtract(ONE, value)),
      evaluate: sigmoid,
      codeName: "sigmoid",
      notation: { kind: "call", text: "σ", latex: "\\sigma" },
    }),
    name: "sigmoid",
  },
  relu: {
    ...elementwise({
      name: "relu",
      fold: (x) => Math.max(x, 0),
      zeroAtZero: true,
      // relu'(a) = 1(a > 0)
      derivative: (a) => indicator(a, ZERO),
      evaluate: relu,
      codeName: "relu",
    }),
    name: "relu",
  },
  sin: {
    ...elementwise({
      name: "sin",
      fold: Math.sin,
      zeroAtZero: true,
      // sin'(a) = cos(a)
      derivative: (a) => call("cos", [a]),
      evaluate: sin,
      codeName: "sin",
      notation: { kind: "call", latex: "\\sin" },
    }),
    name: "sin",
  },
  cos: {
    ...elementwise({
      name: "cos",
      fold: Math.cos,
      // cos'(a) = −sin(a)
      derivative: (a) => negate(call("sin", [a])),
      evaluate: cos,
      codeName: "cos",
      notation: { kind: "call", latex: "\\cos" },
    }),
    name: "cos",
  },
  abs: {
    ...elementwise({
      name: "abs",
      fold: Math.abs,
      zeroAtZero: true,
      // |a|' = sign(a)
      derivative: (a) => call("sign", [a]),
      evaluate: abs,
      codeName: "abs",
      notation: { kind: "delimited", text: ["|", "|"], latex: ["\\left\\lvert ", " \\right\\rvert"] },
    }),
    name: "abs",
  },
  sign: {
    ...elementwise({
      name: "sign",
      fold: Math.sign,
      zeroAtZero: true,
      // sign'(a) = 0 (almost everywhere)
      derivative: () => null,
      evaluate: sign,
      codeName: "sign",
      syntax: false,
    }),
    name: "sign",
  },

  sum: defineFunction({
    name: "sum",
    linear: true,
    shape: scalarShape,
    simplify([x]) {
      if (isScalar(x!.shape)) return x!;
      if (x!.kind === "zero") return ZERO;
      if (x!.kind === "transpose") return call("sum", [x.arg]);
      if (x!.kind === "ones") return dimensionProduct(x.shape);
      if (x!.kind === "sum") {
        const shape = x.shape;
        return sum(
          x.terms.map((t) => (isScalar(t.shape) ? hadamard(dimensionProduct(shape), t) : call("sum", [t]))),
        );
      }
      return pullScalars(FUNCTION_RULES.sum, x!);
    },
    // d sum(A) = sum(dA)
    differential: (node, d) => call("sum", [d(node.args[0]!)]),
    // every entry receives the upstream gradient
    adjoint: (node, _slot, upstream) => hadamard(upstream, ones(node.args[0]!.shape)),
    evaluate: ([x]) => sumOf(x!),
    code: op("sum"),
  }),
  tr: defineFunction({
    name: "tr",
    linear: true,
    shape: scalarShape,
    check: (shapes) => (isScalar(shapes[0]!) || isSquare(shapes[0]!) ? null : "a square matrix"),
    simplify([x]) {
      if (isScalar(x!.shape)) return x!;
      if (x!.kind === "zero") return ZERO;
      if (x!.kind === "identity") return dimension(x.n);
      if (x!.kind === "transpose") return call("tr", [x.arg]);
      return pullScalars(FUNCTION_RULES.tr, x!);
    },
    // d tr(A) = tr(dA)
    differential: (node, d) => call("tr", [d(node.args[0]!)]),
    // d tr(A) = ⟨I, dA⟩
    adjoint(node, _slot, upstream) {
      const a = node.args[0]!;
      return isScalar(a.shape) ? upstream : hadamard(upstream, identity(rowsOf(a.shape)));
    },
    evaluate: ([x]) => (x!.ndim === 0 ? x! : trace(x!)),
    code: (args, shapes) =>
      isScalar(shapes[0]!) ? { code: args[0]! } : { code: `trace(${args[0]})`, helper: "trace" },
  }),
  diag: defineFunction({
    name: "diag",
    linear: true,
    shape([x]) {
      const a = x!.shape;
      if (a.kind === "vector") return matrixShape(a.n, a.n);
      if (a.kind === "matrix") return vectorShape(a.rows);
      return a;
    },
    check: ([a]) =>
      a!.kind === "vector" || isSquare(a!) ? null : "a vector (to make a diagonal matrix) or a square matrix",
    symmetric: ([x]) => x!.shape.kind === "vector",
    simplify([x]) {
      if (isScalar(x!.shape)) return x!;
      if (x!.kind === "zero") return zero(FUNCTION_RULES.diag.shape([x!]));
      if (x!.kind === "ones" && x.shape.kind === "vector") return identity(x.shape.n);
      if (x!.kind === "identity") return ones(vectorShape(x.n));
      if (x!.kind === "transpose" && x.shape.kind === "matrix") return call("diag", [x.arg]);
      if (x!.kind === "call" && x.fn === "diag" && x.args[0]!.shape.kind === "vector") return x.args[0]!;
      return pullScalars(FUNCTION_RULES.diag, x!);
    },
    // d diag(A) = diag(dA)
    differential: (node, d) => call("diag", [d(node.args[0]!)]),
    // diag is linear and its adjoint is diag (vector ↔ diagonal matrix)
    adjoint: (_node, _slot, upstream) => call("diag", [upstream]),
    evaluate([x], [shape]) {
      if (shape!.kind === "scalar") return x!;
      return shape!.kind === "vector" ? diagMatrix(x!) : diagonal(x!);
    },
    code(args, [shape]) {
      if (isScalar(shape!)) return { code: args[0]! };
      const helper = shape!.kind === "vector" ? "diagMatrix" : "diagonal";
      return { code: `${helper}(${args[0]})`, helper };
    },
  }),
  norm2: defineFunction({
    name: "norm2",
    shape: scalarShape,
    simplify: ([x]) => (isZero(x!) ? ZERO : null),
    // d‖a‖ = ⟨a, da⟩ / ‖a‖
    differential(node, d) {
      const a = node.args[0]!;
      return divide(inner(a, d(a)), node);
    },
    adjoint: (node, _slot, upstream) =>
      product(
        [
          { base: upstream, power: 1 },
          { base: node.args[0]!, power: 1 },
          { base: node, power: -1 },
        ],
        1,
      ),
    evaluate: ([x]) => norm2(x!),
    notation: { kind: "delimited", text: ["‖", "‖"], latex: ["\\left\\lVert ", " \\right\\rVert"] },
    code: (args) => ({ code: `norm2(${args[0]})`, helper: "norm2" }),
  }),
  lse: defineFunction({
    name: "lse",
    shape: scalarShape,
    // d lse(a) = ⟨softmax(a), da⟩
    differential(node, d) {
      const a = node.args[0]!;
      if (isScalar(a.shape)) return d(a);
      if (a.shape.kind === "vector") return matmul([transpose(call("softmax", [a])), d(a)]);
      return inner(call("exp", [subtract(a, node)]), d(a));
    },
    adjoint(node, _slot, upstream) {
      const a = node.args[0]!;
      if (isScalar(a.shape)) return upstream;
      if (a.shape.kind === "vector") return hadamard(upstream, call("softmax", [a]));
      return hadamard(upstream, call("exp", [subtract(a, node)]));
    },
    evaluate: ([x]) => (x!.ndim === 0 ? x! : logSumExp(x!)),
    code: (args, [shape]) => (isScalar(shape!) ? { code: args[0]! } : { code: `cr.logSumExp(${args[0]})` }),
  }),
  softmax: defineFunction({
    name: "softmax",
    shape: sameShape,
    check: ([a]) => (a!.kind === "vector" ? null : "a vector"),
    // dp = p ∘ da − p pᵀ da with p = softmax(a)
    differential(node, d) {
      const da = d(node.args[0]!);
      return subtract(hadamard(node, da), matmul([node, transpose(node), da]));
    },
    // so ∂f/∂a = p ∘ (G − pᵀG)
    adjoint: (node, _slot, upstream) =>
      hadamard(node, subtract(upstream, matmul([transpose(node), upstream]))),
    evaluate: ([x]) => softmax(x!),
    code: op("softmax"),
  }),
  max: defineFunction({
    name: "max",
    arity: 2,
    elementwise: true,
    commutesWithTranspose: true,
    shape: broadcastShape("max"),
    check: ([a, b]) =>
      elementwiseShape(a!, b!) === null ? "two arguments of one shape (or a scalar)" : null,
    simplify: ([a, b]) => (a!.key === b!.key ? a! : null),
    // d max(a, b) = 1(a > b) ∘ da + 1(b > a) ∘ db
    differential(node, d) {
      const [a, b] = node.args as [Expr, Expr];
      return sum([hadamard(indicator(a, b), d(a)), hadamard(indicator(b, a), d(b))]);
    },
    // the upstream gradient is routed to the larger input
    adjoint(node, slot, upstream) {
      const [a, b] = node.args as [Expr, Expr];
      const [x, y] = slot === 0 ? [a, b] : [b, a];
      return unbroadcast(x, node, hadamard(upstream, indicator(x, y)));
    },
    evaluate: ([a, b]) => maximum(a!, b!),
    notation: { kind: "call", latex: "\\max" },
    code: op("maximum"),
  }),
  inv: defineFunction({
    name: "inv",
    commutesWithTranspose: true,
    invertible: true,
    shape: sameShape,
    check: squareMatrix,
    simplify([x]) {
      if (x!.kind === "identity") return x!;
      if (x!.kind === "call" && x.fn === "inv") return x.args[0]!;
      if (isScalar(x!.shape)) return power(x!, -1);
      return null;
    },
    // d(X⁻¹) = −X⁻¹ dX X⁻¹
    differential: (node, d) => negate(matmul([node, d(node.args[0]!), node])),
    // so ∂f/∂X = −X⁻ᵀ G X⁻ᵀ
    adjoint: (node, _slot, upstream) => negate(matmul([transpose(node), upstream, transpose(node)])),
    evaluate: ([x]) => inv(x!),
    notation: { kind: "inverse" },
    code: op("inv"),
  }),
  det: defineFunction({
    name: "det",
    invertible: true,
    shape: scalarShape,
    check: squareMatrix,
    simplify([x]) {
      if (x!.kind === "identity") return ONE;
      if (isScalar(x!.shape)) return x!;
      return null;
    },
    // d det(X) = det(X) tr(X⁻¹ dX)
    differential: (node, d) => hadamard(node, traceOfInverseTimes(node.args[0]!, d(node.args[0]!))),
    // so ∂f/∂X = G det(X) X⁻ᵀ
    adjoint: (node, _slot, upstream) => hadamard(upstream, node, transpose(call("inv", [node.args[0]!]))),
    evaluate: ([x]) => det(x!),
    notation: { kind: "call", latex: "\\det" },
    code: op("det"),
  }),
  logdet: defineFunction({
    name: "logdet",
    invertible: true,
    shape: scalarShape,
    check: squareMatrix,
    simplify: ([x]) => (x!.kind === "identity" ? ZERO : null),
    // d log|det X| = tr(X⁻¹ dX)
    differential: (node, d) => traceOfInverseTimes(node.args[0]!, d(node.args[0]!)),
    // so ∂f/∂X = G X⁻ᵀ
    adjoint: (node, _slot, upstream) => hadamard(upstream, transpose(call("inv", [node.args[0]!]))),
    evaluate: ([x]) => logdet(x!),
    code: op("logdet"),
  }),
  pow: defineFunction({
    name: "pow",
    arity: 2,
    syntax: false,
    elementwise: true,
    commutesWithTranspose: true,
    domain: POSITIVE,
    shape: broadcastShape("pow"),
    simplify: ([a, b]) => (b!.kind === "const" ? power(a!, b.value) : null),
    // d(a^b) = b a^(b−1) ∘ da + a^b log(a) ∘ db
    differential(node, d) {
      const [a, b] = node.args as [Expr, Expr];
      return sum([
        hadamard(b, call("pow", [a, subtract(b, ONE)]), d(a)),
        hadamard(node, call("log", [a]), d(b)),
      ]);
    },
    adjoint(node, slot, upstream) {
      const [a, b] = node.args as [Expr, Expr];
      if (slot === 0) return unbroadcast(a, node, hadamard(upstream, b, call("pow", [a, subtract(b, ONE)])));
      return unbroadcast(b, node, hadamard(upstream, node, call("log", [a])));
    },
    evaluate: ([a, b]) => pow(a!, b!),
    notation: { kind: "power" },
    code: op("pow"),
  }),
};

/** The rule of a function of the language, or undefined for a name that is not one. */
export function functionRule(name: string): FunctionRule | undefined {
  return Object.prototype.hasOwnProperty.call(FUNCTION_RULES, name)
    ? FUNCTION_RULES[name as FunctionName]
    : undefined;
}

/** The rule of a call node (every call node holds a rule of this table). */
export function ruleOf(node: CallExpr): FunctionRule {
  return node.rule as FunctionRule;
}

/** A function applied to its arguments by name, simplified where its rule says how. */
export function call(fn: FunctionName, args: readonly Expr[]): Expr {
  return applyFunction(FUNCTION_RULES[fn], args);
}

/** The functions a person may write, with their number of arguments, in the table's order. */
export const LANGUAGE_FUNCTIONS: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(
    Object.values(FUNCTION_RULES)
      .filter((rule) => rule.syntax)
      .map((rule) => [rule.name, rule.arity]),
  ),
);
