/**
 * The global rewrites of the simplifier, applied bottom-up on top of the normal form the constructors keep
 * (expr.ts):
 *
 * - **factoring** a sum: a factor common to every term of a matrix product comes out on its side
 *   (`Ax + Aᵀx = (A + Aᵀ)x`, `softmax(z)xᵀ − yxᵀ = (softmax(z) − y)xᵀ`), so does an elementwise factor common
 *   to every term (`σ − σ² = σ ∘ (1 − σ)`) and an integer common to every coefficient (`2a + 2b = 2(a + b)`);
 * - **expanding** a sum or an elementwise product over the sums inside it, kept only when terms cancel
 *   (`−y(1 − σ(s)) + (1 − y)σ(s) = σ(s) − y`), so that factored forms such as `σ(z) ∘ (1 − σ(z))` stay.
 */
import {
  mapExpr,
  matmul,
  product,
  sizeOf,
  splitScalars,
  sum,
  isZero,
  type Expr,
  type Factor,
  type SumExpr,
} from "../expression/expr.js";
import { isScalar, shapesEqual } from "../expression/shape.js";

let sharedMemo: Map<string, Expr> | null = null;

/**
 * Runs `fn` with one memo for every `simplify` inside it, so that sub-expressions met again (the forward
 * pieces inside each adjoint) are simplified once. Keys name a structure only within one derivation (a
 * variable's key is its name), so the memo must not outlive it.
 */
export function withSimplifyMemo<T>(fn: () => T): T {
  const previous = sharedMemo;
  sharedMemo = new Map();
  try {
    return fn();
  } finally {
    sharedMemo = previous;
  }
}

/** Simplifies an expression: the constructors' normal form plus factoring and cancelling expansion. */
export function simplify(e: Expr): Expr {
  return mapExpr(e, tidy, sharedMemo ?? new Map());
}

function tidy(node: Expr): Expr {
  let best = node;
  if (node.kind === "sum") best = factorSum(node);
  if (node.kind === "sum" || node.kind === "product") {
    const expanded = expandWithCancellation(node);
    if (expanded !== null) {
      const candidate = expanded.kind === "sum" ? factorSum(expanded) : expanded;
      if (sizeOf(candidate) <= sizeOf(best)) best = candidate;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// Factoring

interface ChainParts {
  scalars: Factor[];
  coefficient: number;
  chain: Expr[];
}

/** A term as (scalar part) × (matrix product), or null when it is not a matrix product. */
function chainParts(t: Expr): ChainParts | null {
  if (t.kind === "matmul") return { scalars: [], coefficient: 1, chain: t.factors.slice() };
  if (t.kind === "product") {
    const split = splitScalars(t);
    const only = split.rest.length === 1 ? split.rest[0]! : null;
    if (only && only.power === 1 && only.base.kind === "matmul") {
      return { scalars: split.scalars, coefficient: split.coefficient, chain: only.base.factors.slice() };
    }
  }
  return null;
}

function rejoin(parts: ChainParts, chain: Expr[]): Expr {
  return product([...parts.scalars, { base: matmul(chain), power: 1 }], parts.coefficient);
}

function factorChains(terms: readonly Expr[]): Expr | null {
  // Only terms of one shape (no scalar broadcast) factor like a matrix sum.
  if (terms.some((t) => !shapesEqual(t.shape, terms[0]!.shape))) return null;
  const parts = terms.map(chainParts);
  for (const side of ["right", "left"] as const) {
    // The factor shared by the most terms on this side (at least two of them).
    const end = (p: ChainParts): Expr => (side === "right" ? p.chain[p.chain.length - 1]! : p.chain[0]!);
    const counts = new Map<string, number>();
    for (const p of parts)
      if (p && p.chain.length >= 2) counts.set(end(p).key, (counts.get(end(p).key) ?? 0) + 1);
    let best: string | null = null;
    for (const [key, count] of counts)
      if (count >= 2 && (best === null || count > counts.get(best)!)) best = key;
    if (best === null) continue;
    const grouped: ChainParts[] = [];
    const others: Expr[] = [];
    parts.forEach((p, i) => {
      if (p && p.chain.length >= 2 && end(p).key === best) grouped.push(p);
      else others.push(terms[i]!);
    });
    const common = end(grouped[0]!);
    const rest = grouped.map((p) => rejoin(p, side === "right" ? p.chain.slice(0, -1) : p.chain.slice(1)));
    if (rest.some((r) => !shapesEqual(r.shape, rest[0]!.shape))) continue;
    const inner = tidy(sum(rest));
    const factored = side === "right" ? matmul([inner, common]) : matmul([common, inner]);
    if (others.length === 0) return factored;
    const whole = sum([factored, ...others]);
    return whole.kind === "sum" ? factorSum(whole) : whole;
  }
  return null;
}

function factorsOf(t: Expr): { coefficient: number; factors: readonly Factor[] } {
  if (t.kind === "product") return { coefficient: t.coefficient, factors: t.factors };
  if (t.kind === "const") return { coefficient: t.value, factors: [] };
  return { coefficient: 1, factors: [{ base: t, power: 1 }] };
}

function factorElementwise(terms: readonly Expr[]): Expr | null {
  const split = terms.map(factorsOf);
  const common: Factor[] = [];
  for (const candidate of split[0]!.factors) {
    if (candidate.power <= 0 || candidate.base.kind === "ones") continue;
    let least = candidate.power;
    let everywhere = true;
    for (let i = 1; i < split.length && everywhere; i++) {
      const match = split[i]!.factors.find((f) => f.base.key === candidate.base.key);
      if (!match || match.power <= 0) everywhere = false;
      else least = Math.min(least, match.power);
    }
    if (everywhere) common.push({ base: candidate.base, power: least });
  }
  if (common.length === 0) return null;
  const divided = terms.map((t) =>
    product([{ base: t, power: 1 }, ...common.map((f) => ({ base: f.base, power: -f.power }))], 1),
  );
  return product([...common, { base: tidy(sum(divided)), power: 1 }], 1);
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b > 0) [a, b] = [b, a % b];
  return a;
}

function factorInteger(terms: readonly Expr[]): Expr | null {
  const coefficients = terms.map((t) => factorsOf(t).coefficient);
  if (!coefficients.every((c) => Number.isInteger(c))) return null;
  const g = coefficients.reduce((acc, c) => gcd(acc, c), 0);
  if (g <= 1) return null;
  return product([{ base: sum(terms.map((t) => product([{ base: t, power: 1 }], 1 / g))), power: 1 }], g);
}

/** Factors a sum (see the module comment); returns the sum itself when nothing is common. */
export function factorSum(s: SumExpr): Expr {
  return factorChains(s.terms) ?? factorElementwise(s.terms) ?? factorInteger(s.terms) ?? s;
}

// ---------------------------------------------------------------------------------------------------------
// Expansion

const MAX_TERMS = 64;
const MAX_STEPS = 2000;
const MAX_POWER = 4;

/** The monomials of `e` with every elementwise product distributed over the sums in it, or null if too many. */
function expandTerms(e: Expr, budget: { steps: number }): Expr[] | null {
  if (++budget.steps > MAX_STEPS) return null;
  if (e.kind === "sum") {
    const out: Expr[] = [];
    for (const t of e.terms) {
      const expanded = expandTerms(t, budget);
      if (expanded === null) return null;
      out.push(...expanded);
      if (out.length > MAX_TERMS) return null;
    }
    return out;
  }
  if (e.kind !== "product") return [e];
  const index = e.factors.findIndex(
    (f) => f.base.kind === "sum" && Number.isInteger(f.power) && f.power > 0 && f.power <= MAX_POWER,
  );
  if (index < 0) return [e];
  const chosen = e.factors[index]!;
  const others = e.factors.map((f, i) => (i === index ? { base: f.base, power: f.power - 1 } : f));
  const out: Expr[] = [];
  for (const t of (chosen.base as SumExpr).terms) {
    const expanded = expandTerms(product([...others, { base: t, power: 1 }], e.coefficient), budget);
    if (expanded === null) return null;
    out.push(...expanded);
    if (out.length > MAX_TERMS) return null;
  }
  return out;
}

/** The expanded form of a sum or product when expanding makes terms cancel, else null. */
function expandWithCancellation(e: Expr): Expr | null {
  const terms = expandTerms(e, { steps: 0 });
  if (terms === null || terms.length <= 1) return null;
  const collected = sum(terms);
  const count = collected.kind === "sum" ? collected.terms.length : isZero(collected) ? 0 : 1;
  if (count >= terms.length) return null;
  // A scalar sum broadcast over a non-scalar shape keeps that shape.
  if (isScalar(collected.shape) !== isScalar(e.shape)) return null;
  return collected;
}
