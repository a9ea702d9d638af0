/**
 * The lecture's step (1), "break the expression into simple pieces", and the naming of pieces and error
 * signals in results.
 *
 * A piece is a non-linear function application (`h = tanh(z)`) or the compound argument of one (`z = Wx + b`).
 * Pieces get the lecture's letters: arguments `z` (vectors), `Z` (matrices), `s` (scalars); function values `h`,
 * `H`, `a`; several of one kind are numbered (`z₁`, `z₂`), and letters taken by variables are skipped.
 *
 * In results a piece is written by its name where it is the argument of a function (`1 − tanh²(z)`), and the
 * gradient at an argument piece — the local error signal δ = ∂f/∂z, a column of z's shape — is named where
 * it is reused or multiplied further (`∂f/∂W = δ xᵀ`, `∂f/∂b = δ`).
 */
import {
  children,
  contains,
  mapExpr,
  matmul,
  named,
  product,
  rebuild,
  splitScalars,
  variable,
  type Expr,
  type Factor,
  type NamedExpr,
} from "../expression/expr.js";
import { ruleOf } from "../expression/functions.js";
import { isScalar, type Shape } from "../expression/shape.js";
import { simplify } from "./simplify.js";

/** Functions that start a new piece (the linear ones, sum, tr and diag, do not). */
export function isNonlinearCall(e: Expr): boolean {
  return e.kind === "call" && !ruleOf(e).linear;
}

/** Variables, numbers, transposed variables and their multiples (−x, 2x) are already simple. */
export function isCompound(e: Expr): boolean {
  switch (e.kind) {
    case "var":
    case "const":
    case "dim":
    case "named":
    case "identity":
    case "ones":
    case "zero":
    case "differential":
      return false;
    case "transpose":
      return isCompound(e.arg);
    case "product":
      // −x, 2x, 2xᵀ: a number times something simple is still simple
      return !(e.factors.length === 1 && e.factors[0]!.power === 1 && !isCompound(e.factors[0]!.base));
    default:
      return true;
  }
}

/** The arguments of an expression's non-linear functions and non-unit powers (where a piece name helps). */
function functionArguments(e: Expr): Expr[] {
  if (isNonlinearCall(e)) return (e as { args: readonly Expr[] }).args.slice();
  if (e.kind === "indicator") return [e.left, e.right];
  // The base of a power (xᵀx)² is an argument too, unless it is a function value itself (tanh²(z), ‖r‖²).
  if (e.kind === "product")
    return e.factors.filter((f) => f.power !== 1 && !isNonlinearCall(f.base)).map((f) => f.base);
  return [];
}

export interface Piece {
  /** The piece's node in the expression (its key identifies it). */
  node: Expr;
  /** `argument` of a function (z, s) or a function's value (h, a). */
  role: "argument" | "value";
  name: string;
}

const LETTERS: Record<string, readonly string[]> = {
  "argument:vector": ["z", "v", "q", "p", "r"],
  "argument:matrix": ["Z", "V", "Q", "P", "R"],
  "argument:scalar": ["s", "t", "r", "q", "p"],
  "value:vector": ["h", "g", "k", "e", "o"],
  "value:matrix": ["H", "G", "K", "M", "N"],
  "value:scalar": ["a", "c", "e", "k", "o"],
};

const SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉";

/** n as Unicode subscript digits. */
export function subscript(n: number): string {
  return [...String(n)].map((d) => SUBSCRIPTS[Number(d)]).join("");
}

function shapeClass(shape: Shape): "vector" | "matrix" | "scalar" {
  if (shape.kind === "scalar") return "scalar";
  if (shape.kind === "matrix") return "matrix";
  return "vector";
}

/**
 * The pieces of `root` (not the root itself), inputs first, with names that avoid `taken`.
 */
export function findPieces(root: Expr, taken: ReadonlySet<string>): Piece[] {
  const found = new Map<string, { node: Expr; role: "argument" | "value" }>();
  const order: string[] = [];
  const visited = new Set<string>();
  const visit = (e: Expr, isRoot: boolean): void => {
    if (visited.has(e.key)) return;
    visited.add(e.key);
    for (const child of children(e)) visit(child, false);
    for (const arg of functionArguments(e)) {
      if (isCompound(arg) && !found.has(arg.key)) {
        found.set(arg.key, { node: arg, role: isNonlinearCall(arg) ? "value" : "argument" });
        order.push(arg.key);
      }
    }
    if (!isRoot && isNonlinearCall(e) && !found.has(e.key)) {
      found.set(e.key, { node: e, role: "value" });
      order.push(e.key);
    }
  };
  visit(root, true);
  // Post-order visits put every piece after the pieces inside it.
  const pieces = order.map((key) => found.get(key)!);
  const groups = new Map<string, number>();
  for (const p of pieces) {
    const group = `${p.role}:${shapeClass(p.node.shape)}`;
    groups.set(group, (groups.get(group) ?? 0) + 1);
  }
  const counters = new Map<string, number>();
  const chosen = new Map<string, string>();
  const result: Piece[] = [];
  for (const p of pieces) {
    const group = `${p.role}:${shapeClass(p.node.shape)}`;
    const count = groups.get(group)!;
    let letter = chosen.get(group);
    if (letter === undefined) {
      const free = LETTERS[group]!.find((l) => !taken.has(l)) ?? `${group.startsWith("value") ? "h" : "z"}_`;
      letter = free;
      chosen.set(group, letter);
    }
    const index = (counters.get(group) ?? 0) + 1;
    counters.set(group, index);
    let name = count === 1 ? letter : letter + subscript(index);
    if (group === "argument:scalar" && count > 1) {
      // Scalars are not layers: distinct letters (s, t, r, …) read better than s₁, s₂ while they last.
      const free = LETTERS[group]!.filter((l) => !taken.has(l));
      if (free.length >= count) name = free[index - 1]!;
    }
    result.push({ node: p.node, role: p.role, name });
  }
  return result;
}

/** Replaces whole sub-expressions, top-down (the largest match wins), rebuilding through the constructors. */
export function substitute(e: Expr, replacements: ReadonlyMap<string, Expr>): Expr {
  const memo = new Map<string, Expr>();
  const walk = (x: Expr): Expr => {
    const hit = replacements.get(x.key);
    if (hit !== undefined) return hit;
    const cached = memo.get(x.key);
    if (cached) return cached;
    const kids = children(x);
    let out = x;
    if (kids.length > 0) {
      const mapped = kids.map(walk);
      if (mapped.some((m, i) => m !== kids[i])) out = rebuild(x, mapped);
    }
    memo.set(x.key, out);
    return out;
  };
  return walk(e);
}

/** Each piece's expression written with the names of the pieces inside it, as variables (for steps). */
export function pieceVariables(pieces: readonly Piece[]): {
  definitions: Map<string, Expr>;
  variables: Map<string, Expr>;
} {
  const variables = new Map<string, Expr>();
  const definitions = new Map<string, Expr>();
  for (const p of pieces) {
    definitions.set(p.name, substitute(p.node, variables));
    variables.set(p.node.key, variable(p.name, p.node.shape));
  }
  return { definitions, variables };
}

/** Keys of the pieces that occur as the argument of a function (or a power) anywhere in `exprs`. */
function piecesUsedAsArguments(exprs: readonly Expr[], pieceKeys: ReadonlySet<string>): Set<string> {
  const used = new Set<string>();
  const seen = new Set<string>();
  const visit = (e: Expr): void => {
    if (seen.has(e.key)) return;
    seen.add(e.key);
    for (const arg of functionArguments(e)) if (pieceKeys.has(arg.key)) used.add(arg.key);
    if (e.kind === "named") visit(e.definition);
    for (const child of children(e)) visit(child);
  };
  exprs.forEach(visit);
  return used;
}

/**
 * Writes the pieces that appear as function arguments by name, in `exprs` and in each other's definitions.
 * Returns the rewritten expressions and the named pieces used, inputs first.
 */
export function namePieces(
  exprs: readonly Expr[],
  pieces: readonly Piece[],
): { exprs: Expr[]; definitions: NamedExpr[] } {
  // Function values (h = tanh(z)) stay written out in results, so that f' reads as such (1 − tanh²(z)).
  const keys = new Set(pieces.filter((p) => p.role === "argument").map((p) => p.node.key));
  const used = new Set<string>();
  let frontier = [...exprs];
  // Fixpoint: a used piece's own definition may use further pieces.
  while (frontier.length > 0) {
    const found = piecesUsedAsArguments(frontier, keys);
    frontier = [];
    for (const key of found) {
      if (!used.has(key)) {
        used.add(key);
        frontier.push(pieces.find((p) => p.node.key === key)!.node);
      }
    }
  }
  const replacements = new Map<string, Expr>();
  const definitions: NamedExpr[] = [];
  for (const p of pieces) {
    if (!used.has(p.node.key)) continue;
    const node = named(p.name, substitute(p.node, replacements), "piece");
    replacements.set(p.node.key, node);
    definitions.push(node);
  }
  return { exprs: exprs.map((e) => substitute(e, replacements)), definitions };
}

// ---------------------------------------------------------------------------------------------------------
// Error signals δ

function hasFunction(e: Expr): boolean {
  return contains(e, (node) => node.kind === "call" || node.kind === "indicator");
}

/** Multiset inclusion of factors (same bases, same powers); returns the factors left over, or null. */
function withoutFactors(factors: readonly Factor[], remove: readonly Factor[]): Factor[] | null {
  const left = factors.slice();
  for (const r of remove) {
    const i = left.findIndex((f) => f.base.key === r.base.key && f.power === r.power);
    if (i < 0) return null;
    left.splice(i, 1);
  }
  return left;
}

function divideCoefficient(total: number, part: number): number | null {
  if (part === 1) return total;
  const q = total / part;
  return Number.isInteger(q) || q === 1 ? q : null;
}

/**
 * Replaces the occurrences of `pattern` in multiplicative positions of `target` (the whole target, a factor of
 * a product, a factor of a matrix product, a sub-product of a product) by `replacement`. A pattern that is a
 * mere term of a sum is left alone.
 */
export function replaceProducts(target: Expr, pattern: Expr, replacement: Expr): Expr {
  const scalarPart = splitScalars(pattern);
  const core =
    pattern.kind === "product" && scalarPart.rest.length > 0 && !isScalar(pattern.shape)
      ? product(scalarPart.rest, 1)
      : null;
  const memo = new Map<string, Expr>();
  const walk = (x: Expr, inSum: boolean): Expr => {
    if (!inSum && x.key === pattern.key) return replacement;
    const memoKey = `${inSum ? 1 : 0}${x.key}`;
    const cached = memo.get(memoKey);
    if (cached) return cached;
    let out: Expr | null = null;
    if (x.kind === "product" && pattern.kind === "product") {
      const rest = withoutFactors(x.factors, pattern.factors);
      const coefficient = divideCoefficient(x.coefficient, pattern.coefficient);
      if (rest && coefficient !== null && rest.length > 0) {
        out = product(
          [
            ...rest.map((f) => ({ base: walk(f.base, false), power: f.power })),
            { base: replacement, power: 1 },
          ],
          coefficient,
        );
      }
    }
    if (out === null && x.kind === "product" && core !== null) {
      // The pattern's scalars were moved out of a matrix product: s (…N…) with pattern s N.
      const split = splitScalars(x);
      const only = split.rest.length === 1 ? split.rest[0]! : null;
      const coefficient = divideCoefficient(split.coefficient, scalarPart.coefficient);
      const scalarsLeft = withoutFactors(split.scalars, scalarPart.scalars);
      if (only && only.power === 1 && only.base.kind === "matmul" && scalarsLeft && coefficient !== null) {
        const index = only.base.factors.findIndex((f) => f.key === core.key);
        if (index >= 0) {
          const chain = only.base.factors.map((f, i) => (i === index ? replacement : walk(f, false)));
          out = product([...scalarsLeft, { base: matmul(chain), power: 1 }], coefficient);
        }
      }
    }
    if (out === null) {
      const kids = children(x);
      if (kids.length > 0) {
        const mapped = kids.map((k) => walk(k, x.kind === "sum"));
        out = mapped.some((m, i) => m !== kids[i]) ? rebuild(x, mapped) : x;
      } else out = x;
    }
    memo.set(memoKey, out);
    return out;
  };
  return walk(target, false);
}

/** How many times the node with `key` occurs in the tree `e` (memoised, so shared sub-trees cost once). */
function countUses(e: Expr, key: string): number {
  const memo = new Map<string, number>();
  const count = (x: Expr): number => {
    if (x.key === key) return 1;
    let n = memo.get(x.key);
    if (n === undefined) {
      n = 0;
      for (const child of children(x)) n += count(child);
      memo.set(x.key, n);
    }
    return n;
  };
  return count(e);
}

export interface ErrorSignals {
  /** The results with δ written in. */
  results: Expr[];
  /** The δ definitions kept, output side first (a δ may use the ones before it). */
  deltas: NamedExpr[];
  /** For each δ kept, the piece whose gradient it is. */
  pieceOf: Map<string, Piece>;
}

/**
 * Names the gradients at the argument pieces (`δ = ∂f/∂z`) where they are reused, or where a vector or
 * matrix signal holding a derivative is multiplied further (`∂f/∂W = δ xᵀ`); numbers them δ₁, δ₂, … from the
 * input side when there are several.
 */
export function nameErrorSignals(
  results: readonly Expr[],
  pieces: readonly Piece[],
  adjoints: ReadonlyMap<string, Expr>,
): ErrorSignals {
  let current = results.slice();
  let deltas: { node: NamedExpr; piece: Piece }[] = [];
  let placeholder = 0;
  for (const piece of pieces) {
    if (piece.role !== "argument") continue;
    const gradient = adjoints.get(piece.node.key);
    if (gradient === undefined || !isCompound(gradient) || gradient.kind === "transpose") continue;
    const node = named(`δ#${placeholder++}`, gradient, "delta");
    const replaced = current.map((r) => replaceProducts(r, gradient, node));
    const redefined = deltas.map((d) => ({
      node: named(d.node.name, replaceProducts(d.node.definition, gradient, node), "delta"),
      piece: d.piece,
    }));
    // Rebind the renamed definitions inside the results (names are the keys, so nothing to do there).
    current = replaced;
    deltas = [...redefined, { node, piece }];
  }
  // Keep a δ that is used twice, or once inside a larger expression when it holds a derivative (f').
  const keep = (d: { node: NamedExpr }): boolean => {
    const key = d.node.key;
    let uses = 0;
    let whole = false;
    for (const r of current) {
      uses += countUses(r, key);
      if (r.key === key) whole = true;
    }
    for (const other of deltas) if (other !== d) uses += countUses(other.node.definition, key);
    if (uses >= 2) return true;
    // Used once: worth a name when it is a vector or matrix signal multiplied further (δ xᵀ, Wᵀ δ).
    return uses === 1 && !whole && !isScalar(d.node.shape) && hasFunction(d.node.definition);
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const d of deltas) {
      if (keep(d)) continue;
      const inline = new Map([[d.node.key, d.node.definition]]);
      current = current.map((r) => simplify(substitute(r, inline)));
      deltas = deltas
        .filter((other) => other !== d)
        .map((other) => ({
          node: named(other.node.name, simplify(substitute(other.node.definition, inline)), "delta"),
          piece: other.piece,
        }));
      changed = true;
      break;
    }
  }
  // A kept δ also stands for itself where it is a mere term of a sum.
  for (const key of deltas.map((d) => d.node.key)) {
    const d = deltas.find((x) => x.node.key === key)!;
    const whole = new Map([[d.node.definition.key, d.node as Expr]]);
    current = current.map((r) => substitute(r, whole));
    deltas = deltas.map((other) =>
      other.node.key === key
        ? other
        : {
            node: named(other.node.name, substitute(other.node.definition, whole), "delta"),
            piece: other.piece,
          },
    );
  }
  // Final names: δ alone, or δ₁, δ₂, … from the input side.
  const names = new Map<string, string>();
  deltas.forEach((d, i) => names.set(d.node.key, deltas.length === 1 ? "δ" : `δ${subscript(i + 1)}`));
  const renamed = new Map<string, NamedExpr>();
  const rename = (e: Expr): Expr =>
    mapExpr(e, (x) => (x.kind === "named" && names.has(x.key) ? renamed.get(x.key)! : x));
  // Output side first: a δ nearer the input is defined with the ones nearer the output.
  for (const d of [...deltas].reverse()) {
    renamed.set(d.node.key, named(names.get(d.node.key)!, rename(d.node.definition), "delta"));
  }
  const pieceOf = new Map<string, Piece>();
  for (const d of deltas) pieceOf.set(names.get(d.node.key)!, d.piece);
  return {
    results: current.map(rename),
    deltas: deltas.map((d) => renamed.get(d.node.key)!).reverse(),
    pieceOf,
  };
}
