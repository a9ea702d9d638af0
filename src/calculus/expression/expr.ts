/**
 * The expression tree of the matrix calculus: immutable nodes with a shape and a structural key, built only
 * through the constructors below, which keep every tree in a normal form:
 *
 * - sums are flat, drop zeros and collect like terms (`A + A = 2A`); positive terms come first;
 * - elementwise products (`∘`, scaling, division and numeric powers) are flat, commutative monomials
 *   `c · b₁^p₁ ∘ b₂^p₂ ∘ …` in which equal bases merge their exponents (`σ(s)⁻¹ ∘ σ(s) = 1`);
 * - matrix products are flat chains of non-scalar factors; scalars move out in front (`Aᵀ(2r) = 2Aᵀr`),
 *   identities drop out, and diagonal matrices act elementwise (`diag(a) v = a ∘ v`);
 * - a transpose is pushed into sums, products and chains when that leaves fewer transposes
 *   (`(xᵀAᵀ)ᵀ = Ax`, but `(AB)ᵀ` stays), and cancels in pairs.
 *
 * The global rewrites (factoring, expansion when terms cancel) are in simplify.ts.
 */
import { ValueError } from "../../errors.js";
import {
  SCALAR,
  colsOf,
  elementwiseShape,
  isScalar,
  matrixShape,
  productShape,
  rowsOf,
  shapeToCompact,
  shapesEqual,
  transposeShape,
  type Dim,
  type Shape,
} from "./shape.js";

/** Every function a call node may hold (the function table, functions.ts, has one rule per name); `pow` is
 * an elementwise power with a non-numeric exponent and `sign` the derivative of `abs`. */
export type FunctionName =
  | "exp"
  | "log"
  | "sqrt"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "sin"
  | "cos"
  | "abs"
  | "sign"
  | "sum"
  | "tr"
  | "diag"
  | "norm2"
  | "lse"
  | "softmax"
  | "max"
  | "inv"
  | "det"
  | "logdet"
  | "pow";

/**
 * What the tree's constructors need to know about a function; the function table (functions.ts) holds the
 * full rule (differential, adjoint, evaluation, printing, code) and every call node carries its rule, so
 * that each stage reads a function's facts from the node instead of switching on its name.
 */
export interface CallRule {
  readonly name: FunctionName;
  /** Applied to each entry (`f(A)ᵢⱼ = f(Aᵢⱼ)`). */
  readonly elementwise: boolean;
  /** f(Aᵀ) = f(A)ᵀ, so a transpose may move through the call (elementwise functions, max, pow, inv). */
  readonly commutesWithTranspose: boolean;
  /** The result's shape (the arguments' shapes were checked when the expression was built). */
  shape(args: readonly Expr[]): Shape;
  /** A simpler equal expression (a folded number, sum(cX) = c sum(X), inv(inv(X)) = X), or null. */
  simplify?(args: readonly Expr[]): Expr | null;
  /** f(args)ᵀ = f(args) (diag of a vector). */
  symmetric?(args: readonly Expr[]): boolean;
}

/** One factor of an elementwise product: `base^power`. */
export interface Factor {
  readonly base: Expr;
  readonly power: number;
}

interface Node<K extends string> {
  readonly kind: K;
  readonly shape: Shape;
  readonly key: string;
}

/** A declared variable. */
export interface VariableExpr extends Node<"var"> {
  readonly name: string;
}
/** A number (always a scalar). */
export interface ConstantExpr extends Node<"const"> {
  readonly value: number;
}
/** The size of a dimension, as a scalar (`sum(𝟏) = n`). */
export interface DimensionExpr extends Node<"dim"> {
  readonly dim: Dim;
}
/** A named intermediate quantity (a piece such as `z = Wx + b`, or an error signal δ). */
export interface NamedExpr extends Node<"named"> {
  readonly name: string;
  readonly definition: Expr;
  readonly role: "piece" | "delta";
}
/** The differential `dx` of a variable (used by the forward rules). */
export interface DifferentialExpr extends Node<"differential"> {
  readonly variable: string;
}
/** The identity matrix I (n × n). */
export interface IdentityExpr extends Node<"identity"> {
  readonly n: Dim;
}
/** A vector or matrix of ones, 𝟏. */
export type OnesExpr = Node<"ones">;
/** A zero of a non-scalar shape (the scalar zero is the constant 0). */
export type ZeroExpr = Node<"zero">;
export interface SumExpr extends Node<"sum"> {
  readonly terms: readonly Expr[];
}
/** An elementwise product (monomial): `coefficient · Π base^power`, scalars broadcast. */
export interface ProductExpr extends Node<"product"> {
  readonly coefficient: number;
  readonly factors: readonly Factor[];
}
/** A matrix product of two or more non-scalar factors. */
export interface MatmulExpr extends Node<"matmul"> {
  readonly factors: readonly Expr[];
}
export interface TransposeExpr extends Node<"transpose"> {
  readonly arg: Expr;
}
export interface CallExpr extends Node<"call"> {
  readonly fn: FunctionName;
  readonly args: readonly Expr[];
  /** The function's rule in the function table. */
  readonly rule: CallRule;
}
/** The indicator 1(left > right), elementwise; at a tie it is ½, as in chainrule's backward of max. */
export interface IndicatorExpr extends Node<"indicator"> {
  readonly left: Expr;
  readonly right: Expr;
}

/**
 * A node of the symbolic expression tree that `derive` builds, differentiates and simplifies: a variable, a
 * constant, a sum, a product, a matrix product, a transpose, a function call, … (see `kind`). Each node
 * carries its symbolic shape.
 */
export type Expr =
  | VariableExpr
  | ConstantExpr
  | DimensionExpr
  | NamedExpr
  | DifferentialExpr
  | IdentityExpr
  | OnesExpr
  | ZeroExpr
  | SumExpr
  | ProductExpr
  | MatmulExpr
  | TransposeExpr
  | CallExpr
  | IndicatorExpr;

/** An internal invariant failed: a bug in chainrule, not in the user's expression. */
function internal(message: string): Error {
  return new Error(`chainrule calculus internal error: ${message}`);
}

function freeze<T extends object>(node: T): T {
  return Object.freeze(node);
}

// Keys are hash-consed: a compound node's key names its structure through its children's short keys, so a
// key stays short however deep the tree (and comparing two trees is comparing two strings).
const interned = new Map<string, string>();
let nextKey = 0;
const MAX_INTERNED = 500_000;

function intern(structure: string): string {
  let key = interned.get(structure);
  if (key === undefined) {
    // Forgetting old entries only costs sharing (ids are never reused, so keys never collide).
    if (interned.size >= MAX_INTERNED) interned.clear();
    key = `#${(nextKey++).toString(36)}`;
    interned.set(structure, key);
  }
  return key;
}

// ---------------------------------------------------------------------------------------------------------
// Leaves

export function variable(name: string, shape: Shape): VariableExpr {
  return freeze({ kind: "var", name, shape, key: `v:${name}` });
}

export function constant(value: number): ConstantExpr {
  if (Object.is(value, -0)) value = 0;
  return freeze({ kind: "const", value, shape: SCALAR, key: `c:${value}` });
}

export const ZERO = constant(0);
export const ONE = constant(1);

export function dimension(dim: Dim): Expr {
  if (typeof dim === "number") return constant(dim);
  return freeze({ kind: "dim", dim, shape: SCALAR, key: `d:${dim}` });
}

export function named(name: string, definition: Expr, role: "piece" | "delta"): NamedExpr {
  return freeze({ kind: "named", name, definition, role, shape: definition.shape, key: `n:${name}` });
}

export function differential(variableName: string, shape: Shape): DifferentialExpr {
  return freeze({ kind: "differential", variable: variableName, shape, key: `d(${variableName})` });
}

export function identity(n: Dim): Expr {
  if (n === 1) return ONE;
  return freeze({ kind: "identity", n, shape: matrixShape(n, n), key: `I:${n}` });
}

export function ones(shape: Shape): Expr {
  if (isScalar(shape)) return ONE;
  return freeze({ kind: "ones", shape, key: `1:${shapeToCompact(shape)}` });
}

export function zero(shape: Shape): Expr {
  if (isScalar(shape)) return ZERO;
  return freeze({ kind: "zero", shape, key: `0:${shapeToCompact(shape)}` });
}

export function isZero(e: Expr): boolean {
  return e.kind === "zero" || (e.kind === "const" && e.value === 0);
}

export function isOne(e: Expr): boolean {
  return e.kind === "const" && e.value === 1;
}

// ---------------------------------------------------------------------------------------------------------
// Sums

/** Splits a term into its numeric coefficient and the rest (`−3x` → −3 and `x`). */
export function splitCoefficient(e: Expr): { coefficient: number; body: Expr } {
  if (e.kind === "const") return { coefficient: e.value, body: ONE };
  if (e.kind === "product" && e.coefficient !== 1) {
    return { coefficient: e.coefficient, body: product(e.factors, 1) };
  }
  return { coefficient: 1, body: e };
}

/** a₁ + a₂ + …, with scalars broadcast over the non-scalar terms. */
export function sum(items: readonly Expr[]): Expr {
  let shape: Shape = SCALAR;
  const flat: Expr[] = [];
  const push = (e: Expr): void => {
    const s = elementwiseShape(shape, e.shape);
    if (s === null) {
      throw internal(`sum of shapes ${shapeToCompact(shape)} and ${shapeToCompact(e.shape)}`);
    }
    shape = s;
    if (e.kind === "sum") for (const t of e.terms) push(t);
    else if (!isZero(e)) flat.push(e);
  };
  for (const item of items) push(item);
  const order: string[] = [];
  const entries = new Map<string, { body: Expr; coefficient: number }>();
  for (const term of flat) {
    const { coefficient, body } = splitCoefficient(term);
    const entry = entries.get(body.key);
    if (entry) entry.coefficient += coefficient;
    else {
      entries.set(body.key, { body, coefficient });
      order.push(body.key);
    }
  }
  const positive: Expr[] = [];
  const negative: Expr[] = [];
  for (const key of order) {
    const { body, coefficient } = entries.get(key)!;
    if (coefficient === 0) continue;
    const term = scale(coefficient, body);
    (coefficient < 0 ? negative : positive).push(term);
  }
  let terms = [...positive, ...negative];
  if (terms.some((t) => !isScalar(t.shape) && !isOnes(t))) {
    // 𝟏 next to a non-scalar term is the number 1 broadcast: x + 𝟏 = x + 1
    terms = terms.map((t) => (isOnes(t) ? constant(t.kind === "product" ? t.coefficient : 1) : t));
  }
  if (terms.length === 0) return zero(shape);
  if (terms.length === 1) {
    const only = terms[0]!;
    if (isScalar(only.shape) && !isScalar(shape))
      return product(
        [
          { base: only, power: 1 },
          { base: ones(shape), power: 1 },
        ],
        1,
      );
    return only;
  }
  const key = intern(
    `+(${terms
      .map((t) => t.key)
      .sort()
      .join(",")})`,
  );
  return freeze({ kind: "sum", terms, shape, key });
}

/** 𝟏 or c𝟏. */
function isOnes(e: Expr): boolean {
  return (
    e.kind === "ones" ||
    (e.kind === "product" && e.factors.length === 1 && e.factors[0]!.base.kind === "ones")
  );
}

export function add(a: Expr, b: Expr): Expr {
  return sum([a, b]);
}

export function subtract(a: Expr, b: Expr): Expr {
  return sum([a, scale(-1, b)]);
}

export function negate(a: Expr): Expr {
  return scale(-1, a);
}

// ---------------------------------------------------------------------------------------------------------
// Elementwise products

/** c · e */
export function scale(c: number, e: Expr): Expr {
  if (c === 1) return e;
  return product([{ base: e, power: 1 }], c);
}

/** a ∘ b (also scaling when one of them is a scalar). */
export function hadamard(...items: Expr[]): Expr {
  return product(
    items.map((base) => ({ base, power: 1 })),
    1,
  );
}

/** a ⊘ b, elementwise. */
export function divide(a: Expr, b: Expr): Expr {
  return product(
    [
      { base: a, power: 1 },
      { base: b, power: -1 },
    ],
    1,
  );
}

/** base^p, elementwise, for a number p. */
export function power(base: Expr, p: number): Expr {
  return product([{ base, power: p }], 1);
}

/**
 * The normal-form elementwise product `coefficient · Π base^power`: nested products flatten (integer
 * powers distribute over them), numbers multiply into the coefficient, equal bases merge their exponents,
 * ones drop out, and a zero makes the whole product zero.
 */
export function product(items: readonly Factor[], coefficient: number): Expr {
  let shape: Shape = SCALAR;
  let isZeroProduct = false;
  const merged = new Map<string, { base: Expr; power: number }>();
  const push = (base: Expr, p: number): void => {
    const s = elementwiseShape(shape, base.shape);
    if (s === null) {
      throw internal(`elementwise product of ${shapeToCompact(shape)} and ${shapeToCompact(base.shape)}`);
    }
    shape = s;
    if (p === 0) return;
    switch (base.kind) {
      case "const":
        if (base.value === 0 && p < 0) throw new ValueError("division by zero in the expression");
        coefficient *= base.value ** p;
        return;
      case "zero":
        if (p < 0) throw new ValueError("division by zero in the expression");
        isZeroProduct = true;
        return;
      case "ones":
        return;
      case "product":
        if (Number.isInteger(p)) {
          coefficient *= base.coefficient ** p;
          for (const f of base.factors) push(f.base, f.power * p);
          return;
        }
        break;
      default:
        break;
    }
    const entry = merged.get(base.key);
    if (entry) entry.power += p;
    else merged.set(base.key, { base, power: p });
  };
  for (const item of items) push(item.base, item.power);
  if (isZeroProduct || coefficient === 0) return zero(shape);
  const factors: Factor[] = [];
  for (const entry of merged.values()) {
    if (entry.power !== 0) factors.push(freeze({ base: entry.base, power: entry.power }));
  }
  if (factors.length === 0) return coefficient === 1 ? ones(shape) : scaleOnes(coefficient, shape);
  if (!isScalar(shape) && factors.every((f) => isScalar(f.base.shape))) {
    factors.push(freeze({ base: ones(shape), power: 1 }));
  }
  if (factors.length === 1 && factors[0]!.power === 1 && coefficient === 1) return factors[0]!.base;
  const key = intern(
    `*(${coefficient};${factors
      .map((f) => (f.power === 1 ? f.base.key : `${f.base.key}^${f.power}`))
      .sort()
      .join(",")})`,
  );
  return freeze({ kind: "product", coefficient, factors, shape, key });
}

function scaleOnes(c: number, shape: Shape): Expr {
  if (isScalar(shape)) return constant(c);
  const one = ones(shape);
  return freeze({
    kind: "product",
    coefficient: c,
    factors: [freeze({ base: one, power: 1 })],
    shape,
    key: intern(`*(${c};${one.key})`),
  });
}

/** The scalar factors and coefficient of a product, and its non-scalar factors. */
export function splitScalars(e: Expr): { scalars: Factor[]; coefficient: number; rest: Factor[] } {
  if (isScalar(e.shape)) {
    if (e.kind === "const") return { scalars: [], coefficient: e.value, rest: [] };
    if (e.kind === "product") return { scalars: e.factors.slice(), coefficient: e.coefficient, rest: [] };
    return { scalars: [{ base: e, power: 1 }], coefficient: 1, rest: [] };
  }
  if (e.kind !== "product") return { scalars: [], coefficient: 1, rest: [{ base: e, power: 1 }] };
  const scalars: Factor[] = [];
  const rest: Factor[] = [];
  for (const f of e.factors) (isScalar(f.base.shape) ? scalars : rest).push(f);
  return { scalars, coefficient: e.coefficient, rest };
}

// ---------------------------------------------------------------------------------------------------------
// Matrix products

/**
 * The matrix product of `items` (left to right). Scalars (and the scalar parts of elementwise products)
 * move out in front, nested products flatten, identities drop out, `diag(a) diag(b) = diag(a ∘ b)`,
 * `diag(a) v = a ∘ v` and `vᵀ diag(a) = (v ∘ a)ᵀ`.
 */
export function matmul(items: readonly Expr[]): Expr {
  const scalars: Factor[] = [];
  let coefficient = 1;
  const factors: Expr[] = [];
  const state: { shape: Shape | null; isZero: boolean } = { shape: null, isZero: false };
  const combine = (s: Shape): void => {
    if (state.shape === null) {
      state.shape = s;
      return;
    }
    const next = productShape(state.shape, s);
    if (next === null) {
      throw internal(`matrix product of ${shapeToCompact(state.shape)} and ${shapeToCompact(s)}`);
    }
    state.shape = next;
  };
  const push = (e: Expr): void => {
    if (isScalar(e.shape)) {
      if (e.kind === "const") coefficient *= e.value;
      else scalars.push({ base: e, power: 1 });
      return;
    }
    switch (e.kind) {
      case "matmul":
        for (const f of e.factors) push(f);
        return;
      case "zero":
        combine(e.shape);
        state.isZero = true;
        return;
      case "identity":
        combine(e.shape);
        return;
      case "product": {
        const split = splitScalars(e);
        if (split.scalars.length > 0 || split.coefficient !== 1) {
          coefficient *= split.coefficient;
          scalars.push(...split.scalars);
          push(product(split.rest, 1));
          return;
        }
        break;
      }
      default:
        break;
    }
    combine(e.shape);
    appendFactor(factors, e);
  };
  for (const item of items) push(item);
  if (state.shape === null) return product(scalars, coefficient);
  const finalShape: Shape = state.shape;
  if (state.isZero || coefficient === 0) return zero(finalShape);
  let core: Expr;
  if (factors.length === 0) core = identity(rowsOf(finalShape));
  else if (factors.length === 1) core = factors[0]!;
  else {
    let s: Shape = factors[0]!.shape;
    for (let i = 1; i < factors.length; i++) s = productShape(s, factors[i]!.shape)!;
    core = freeze({
      kind: "matmul",
      factors,
      shape: s,
      key: intern(`@(${factors.map((f) => f.key).join(",")})`),
    });
  }
  if (!shapesEqual(core.shape, finalShape) && !(isScalar(finalShape) && isScalar(core.shape))) {
    throw internal(`matrix product shape ${shapeToCompact(core.shape)} ≠ ${shapeToCompact(finalShape)}`);
  }
  if (scalars.length === 0 && coefficient === 1) return core;
  return product([...scalars, { base: core, power: 1 }], coefficient);
}

function isDiagonalOfVector(e: Expr): e is CallExpr {
  return e.kind === "call" && e.fn === "diag" && e.args[0]!.shape.kind === "vector";
}

/** Appends a factor to a chain, applying the rules between it and the factor before it. */
function appendFactor(factors: Expr[], e: Expr): void {
  const last = factors[factors.length - 1];
  if (last !== undefined) {
    if (isDiagonalOfVector(last) && isDiagonalOfVector(e)) {
      factors.pop();
      appendFactor(factors, applyFunction(last.rule, [hadamard(last.args[0]!, e.args[0]!)]));
      return;
    }
    if (isDiagonalOfVector(last) && e.shape.kind === "vector") {
      factors.pop();
      appendFactor(factors, hadamard(last.args[0]!, e));
      return;
    }
    if (last.shape.kind === "row" && isDiagonalOfVector(e)) {
      factors.pop();
      appendFactor(factors, transpose(hadamard(transpose(last), e.args[0]!)));
      return;
    }
  }
  factors.push(e);
}

export function multiply(a: Expr, b: Expr): Expr {
  return matmul([a, b]);
}

// ---------------------------------------------------------------------------------------------------------
// Transposes

const transposeCounts = new WeakMap<Expr, number>();

/** How many transposes a tree holds (what the transpose rules minimise). */
export function transposeCount(e: Expr): number {
  const cached = transposeCounts.get(e);
  if (cached !== undefined) return cached;
  let count = 0;
  for (const child of children(e)) count += transposeCount(child);
  if (e.kind === "transpose") count += 1;
  transposeCounts.set(e, count);
  return count;
}

/** eᵀ, pushed inside when that leaves fewer transposes. */
export function transpose(e: Expr): Expr {
  if (isScalar(e.shape)) return e;
  switch (e.kind) {
    case "transpose":
      return e.arg;
    case "identity":
      return e;
    case "ones":
      return ones(transposeShape(e.shape));
    case "zero":
      return zero(transposeShape(e.shape));
    case "call":
      if (e.rule.symmetric?.(e.args)) return e;
      break;
    default:
      break;
  }
  const wrapped: Expr = freeze({
    kind: "transpose",
    arg: e,
    shape: transposeShape(e.shape),
    key: intern(`T(${e.key})`),
  });
  const pushed = pushTranspose(e);
  if (pushed === null) return wrapped;
  return transposeCount(pushed) < transposeCount(wrapped) ? pushed : wrapped;
}

/** eᵀ with the transpose moved one level in, or null when it cannot move. */
function pushTranspose(e: Expr): Expr | null {
  switch (e.kind) {
    case "sum":
      return sum(e.terms.map(transpose));
    case "product":
      return product(
        e.factors.map((f) => ({ base: transpose(f.base), power: f.power })),
        e.coefficient,
      );
    case "matmul":
      return matmul(e.factors.slice().reverse().map(transpose));
    case "call":
      // f(Aᵀ)ᵀ = f(A) for elementwise f and (Xᵀ)⁻ᵀ = X⁻¹; otherwise the transpose stays outside the call.
      if (!e.args.every((a) => a.kind === "transpose" || isScalar(a.shape))) return null;
      return e.rule.commutesWithTranspose ? applyFunction(e.rule, e.args.map(transpose)) : null;
    case "indicator":
      if (!(e.left.kind === "transpose" || isScalar(e.left.shape))) return null;
      if (!(e.right.kind === "transpose" || isScalar(e.right.shape))) return null;
      return indicator(transpose(e.left), transpose(e.right));
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Functions

/**
 * A function applied to its arguments (use `call` of functions.ts to apply one by name): the rule's
 * simplification where one applies, else a call node carrying the rule.
 */
export function applyFunction(rule: CallRule, args: readonly Expr[]): Expr {
  const simpler = rule.simplify?.(args);
  if (simpler !== undefined && simpler !== null) return simpler;
  return freeze({
    kind: "call",
    fn: rule.name,
    args: args.slice(),
    rule,
    shape: rule.shape(args),
    key: intern(`${rule.name}(${args.map((a) => a.key).join(",")})`),
  });
}

/** Pulls the scalar part out of the argument of a linear function: sum(c X) = c sum(X). */
export function pullScalars(rule: CallRule, arg: Expr): Expr | null {
  if (arg.kind !== "product" || isScalar(arg.shape)) return null;
  const split = splitScalars(arg);
  if (split.scalars.length === 0 && split.coefficient === 1) return null;
  return product(
    [...split.scalars, { base: applyFunction(rule, [product(split.rest, 1)]), power: 1 }],
    split.coefficient,
  );
}

/** The internal-invariant error of the tree, for rules that find shapes they cannot combine. */
export function internalError(message: string): Error {
  return internal(message);
}

/** The number of entries of a shape, as a scalar expression (n·m). */
export function dimensionProduct(shape: Shape): Expr {
  const rows = rowsOf(shape);
  const cols = colsOf(shape);
  return hadamard(dimension(rows), dimension(cols));
}

/** 1(left > right), elementwise, ½ at ties. */
export function indicator(left: Expr, right: Expr): Expr {
  const shape = elementwiseShape(left.shape, right.shape);
  if (shape === null)
    throw internal(`indicator of ${shapeToCompact(left.shape)} and ${shapeToCompact(right.shape)}`);
  if (left.kind === "const" && right.kind === "const") {
    return constant(left.value > right.value ? 1 : left.value === right.value ? 0.5 : 0);
  }
  return freeze({ kind: "indicator", left, right, shape, key: intern(`>(${left.key},${right.key})`) });
}

// ---------------------------------------------------------------------------------------------------------
// Traversal

/** The direct sub-expressions of a node (a named node's definition is not one of them). */
export function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case "sum":
      return e.terms;
    case "product":
      return e.factors.map((f) => f.base);
    case "matmul":
      return e.factors;
    case "transpose":
      return [e.arg];
    case "call":
      return e.args;
    case "indicator":
      return [e.left, e.right];
    default:
      return [];
  }
}

/** Rebuilds `e` with new children (in the order of {@link children}) through the normalising constructors. */
export function rebuild(e: Expr, kids: readonly Expr[]): Expr {
  switch (e.kind) {
    case "sum":
      return sum(kids);
    case "product":
      return product(
        e.factors.map((f, i) => ({ base: kids[i]!, power: f.power })),
        e.coefficient,
      );
    case "matmul":
      return matmul(kids);
    case "transpose":
      return transpose(kids[0]!);
    case "call":
      return applyFunction(e.rule, kids);
    case "indicator":
      return indicator(kids[0]!, kids[1]!);
    default:
      return e;
  }
}

/** Replaces sub-expressions bottom-up: `fn` sees each rebuilt node and may return a replacement. */
export function mapExpr(e: Expr, fn: (node: Expr) => Expr, memo = new Map<string, Expr>()): Expr {
  const done = memo.get(e.key);
  if (done) return done;
  const kids = children(e);
  let node = e;
  if (kids.length > 0) {
    const mapped = kids.map((k) => mapExpr(k, fn, memo));
    if (mapped.some((m, i) => m !== kids[i])) node = rebuild(e, mapped);
  }
  const result = fn(node);
  memo.set(e.key, result);
  return result;
}

/** Number of nodes (with exponents and coefficients counted), the measure the simplifier minimises. */
export function sizeOf(e: Expr): number {
  let n = 1;
  if (e.kind === "product") {
    if (e.coefficient !== 1) n++;
    for (const f of e.factors) n += sizeOf(f.base) + (f.power === 1 ? 0 : 1);
    return n;
  }
  for (const child of children(e)) n += sizeOf(child);
  return n;
}

/** True if `e` contains a node for which `test` holds (named definitions are not entered). */
export function contains(e: Expr, test: (node: Expr) => boolean): boolean {
  if (test(e)) return true;
  return children(e).some((child) => contains(child, test));
}

/** True if `e` depends on the variable (or differential) named `name`, looking through named definitions. */
export function dependsOn(e: Expr, name: string): boolean {
  return contains(
    e,
    (node) =>
      (node.kind === "var" && node.name === name) ||
      (node.kind === "differential" && node.variable === name) ||
      (node.kind === "named" && dependsOn(node.definition, name)),
  );
}

/** Replaces every named node by its definition (recursively). */
export function inlineNamed(e: Expr, only?: (node: NamedExpr) => boolean): Expr {
  return mapExpr(e, (node) =>
    node.kind === "named" && (only === undefined || only(node)) ? inlineNamed(node.definition, only) : node,
  );
}

/** The variables an expression uses, in order of first appearance. */
export function variablesOf(e: Expr): VariableExpr[] {
  const seen = new Map<string, VariableExpr>();
  const visit = (node: Expr): void => {
    if (node.kind === "var") {
      if (!seen.has(node.name)) seen.set(node.name, node);
      return;
    }
    if (node.kind === "named") {
      visit(node.definition);
      return;
    }
    for (const child of children(node)) visit(child);
  };
  visit(e);
  return [...seen.values()];
}

/** The dimension symbols used by a tree's shapes. */
export function dimensionsOf(e: Expr, out = new Set<string>()): Set<string> {
  for (const d of [rowsOf(e.shape), colsOf(e.shape)]) if (typeof d === "string") out.add(d);
  if (e.kind === "dim" && typeof e.dim === "string") out.add(e.dim);
  if (e.kind === "identity" && typeof e.n === "string") out.add(e.n);
  if (e.kind === "named") dimensionsOf(e.definition, out);
  for (const child of children(e)) dimensionsOf(child, out);
  return out;
}
