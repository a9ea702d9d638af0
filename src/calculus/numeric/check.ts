/**
 * Numeric verification of a derivation: at random values (sizes chosen for the symbolic dimensions), the
 * symbolic derivatives are compared with chainrule's backpropagation of the same expression and with
 * central finite differences, all in float64.
 */
import { ValueError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { tensor } from "../../tensor/creation.js";
import { Random } from "../../tensor/random.js";
import { gradients } from "../../autograd/engine.js";
import { noGrad } from "../../autograd/mode.js";
import { contains, dimensionsOf, variable, type Expr, type VariableExpr } from "../expression/expr.js";
import { ruleOf } from "../expression/functions.js";
import { evaluateExpr, numericShape, type Environment } from "./evaluate.js";
import { shapeToText, symbolsOf } from "../expression/shape.js";
import type { Derivation } from "../derive.js";

/** Options of {@link checkDerivation}. */
export interface CheckOptions {
  /** Seed of the random values (default 0). */
  seed?: number;
  /** Sizes of symbolic dimensions; the others get 3, 4, 2, 5, 6, … in order of appearance. */
  sizes?: Readonly<Record<string, number>>;
  /** Finite-difference step (default 1e-6; Hessians use 1e-5). */
  eps?: number;
  /**
   * Called as the check goes: `done` of `total` evaluations for one variable, `what` says which stage
   * ("backprop" or "finite differences"). A check costs two evaluations of the expression per entry of
   * each variable, so large sizes take a while.
   */
  onProgress?: (progress: { variable: string; what: string; done: number; total: number }) => void;
}

/** The most numbers a check gives one variable (its values, then as many finite-difference columns). */
export const MAX_CHECK_ENTRIES = 1 << 24;

/** The result of {@link checkDerivation}. */
export interface CheckReport {
  /** The sizes used for the symbolic dimensions. */
  sizes: Record<string, number>;
  /** The random values used, by variable. */
  values: Record<string, Tensor>;
  /** Largest |symbolic − backprop| over all entries of all derivatives. */
  maxBackpropDifference: number;
  /** Largest |symbolic − finite differences|. */
  maxFiniteDifference: number;
  /** The same differences divided by 1 + |reference| (what `passed` is judged on). */
  maxBackpropError: number;
  /** Largest |symbolic − finite differences| / (1 + |finite differences|). */
  maxFiniteDifferenceError: number;
  /** True when backprop agrees to 1e-8 and finite differences to 1e-5 (relative to 1 + |value|). */
  passed: boolean;
  /** Per variable of `wrt`: the largest absolute differences found for its derivative. */
  variables: {
    /** The variable. */
    variable: string;
    /** Largest |symbolic − backprop| over the derivative's entries. */
    backprop: number;
    /** Largest |symbolic − finite differences| over the derivative's entries. */
    finiteDifference: number;
  }[];
}

const DEFAULT_SIZES = [3, 4, 2, 5, 6, 7, 8, 9];

function assignSizes(
  root: Expr,
  variables: readonly VariableExpr[],
  sizes: Readonly<Record<string, number>> | undefined,
): Map<string, number> {
  const dims = new Map<string, number>();
  const symbols = [...new Set([...variables.flatMap((v) => symbolsOf(v.shape)), ...dimensionsOf(root)])];
  let next = 0;
  for (const d of symbols) {
    const given = sizes?.[d];
    if (given !== undefined) {
      if (!Number.isSafeInteger(given) || given < 1)
        throw new ValueError(`check: the size of ${d} must be a positive integer`);
      dims.set(d, given);
    } else dims.set(d, DEFAULT_SIZES[next++ % DEFAULT_SIZES.length]!);
  }
  return dims;
}

/** How a variable should be sampled: positive where it sits under a function with a domain (log, √, a power
 * with an expression exponent), a division or a fractional power. */
function needsPositive(root: Expr, name: string): boolean {
  const uses = (e: Expr): boolean => contains(e, (x) => x.kind === "var" && x.name === name);
  return contains(root, (node) => {
    if (node.kind === "call" && ruleOf(node).domain !== undefined) return uses(node.args[0]!);
    if (node.kind === "product") {
      return node.factors.some((f) => (f.power < 0 || !Number.isInteger(f.power)) && uses(f.base));
    }
    return false;
  });
}

function usedAsMatrixArgument(root: Expr, name: string): boolean {
  return contains(
    root,
    (node) =>
      node.kind === "call" &&
      ruleOf(node).invertible === true &&
      contains(node.args[0]!, (x) => x.kind === "var" && x.name === name),
  );
}

/** Refuses sizes whose values could not be allocated (or checked) before allocating anything. */
function checkSizes(variables: readonly VariableExpr[], dims: Map<string, number>): void {
  for (const v of variables) {
    const shape = numericShape(v.shape, dims);
    const size = shape.reduce((a, b) => a * b, 1);
    if (size > MAX_CHECK_ENTRIES) {
      const sizes = symbolsOf(v.shape)
        .map((d) => `${d} = ${dims.get(d)}`)
        .join(", ");
      throw new ValueError(
        `check: ${v.name} (${shapeToText(v.shape)}) would hold ${shape.join(" × ")} = ${size.toExponential(2)} numbers at ${sizes}, ` +
          `more than the ${MAX_CHECK_ENTRIES} a check allocates per variable; give smaller sizes`,
      );
    }
  }
}

function randomValue(v: VariableExpr, root: Expr, dims: Map<string, number>, random: Random): Tensor {
  const shape = numericShape(v.shape, dims);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(size);
  const positive = needsPositive(root, v.name);
  for (let i = 0; i < size; i++) data[i] = positive ? 0.5 + 1.5 * random.uniform() : random.normal();
  if (v.shape.kind === "matrix" && shape[0] === shape[1] && usedAsMatrixArgument(root, v.name)) {
    // Keep matrices that are inverted well conditioned.
    for (let i = 0; i < shape[0]!; i++) data[i * shape[0]! + i] += shape[0]!;
  }
  return tensor(data, { dtype: "float64", shape });
}

function environment(values: Map<string, Tensor>, dims: Map<string, number>): Environment {
  return { values, dims, memo: new Map() };
}

/** The reference derivative by backpropagation: gradient, Jacobian (row by row) or Hessian. */
function backpropDerivative(
  derivation: Derivation,
  root: Expr,
  variables: readonly VariableExpr[],
  values: Map<string, Tensor>,
  dims: Map<string, number>,
  target: string,
): Tensor {
  const leaves = new Map<string, Tensor>();
  for (const v of variables) {
    const t = values.get(v.name)!;
    leaves.set(
      v.name,
      v.name === target
        ? tensor(t.data.slice(), { dtype: "float64", shape: t.shape.slice(), requiresGrad: true })
        : t,
    );
  }
  const leaf = leaves.get(target)!;
  const output = evaluateExpr(root, environment(leaves, dims));
  if (derivation.kind === "gradient") return gradients([output], [leaf])[0]!;
  const rows = (f: Tensor, createGraph: boolean): Tensor[] => {
    const out: Tensor[] = [];
    for (let i = 0; i < f.size; i++) {
      const seed = new Float64Array(f.size);
      seed[i] = 1;
      out.push(
        gradients([f], [leaf], {
          seeds: [tensor(seed, { dtype: "float64", shape: f.shape.slice() })],
          retainGraph: true,
          createGraph,
        })[0]!,
      );
    }
    return out;
  };
  if (derivation.kind === "jacobian") return stackRows(rows(output, false), output.shape, leaf.shape);
  const g = gradients([output], [leaf], { createGraph: true })[0]!;
  return stackRows(rows(g, false), g.shape, leaf.shape);
}

/** Rows ∂f_i/∂x (each of x's shape) as the Jacobian: m × n, a vector for a scalar x, a row for a scalar f. */
function stackRows(rows: Tensor[], outputShape: readonly number[], inputShape: readonly number[]): Tensor {
  const n = inputShape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(rows.length * n);
  rows.forEach((r, i) => data.set(r.data as Float64Array, i * n));
  if (outputShape.length === 0) return tensor(data, { dtype: "float64", shape: inputShape.slice() });
  if (inputShape.length === 0) return tensor(data, { dtype: "float64", shape: outputShape.slice() });
  return tensor(data, { dtype: "float64", shape: [rows.length, n] });
}

/** The derivative by central finite differences, column by column. */
function finiteDifference(
  derivation: Derivation,
  root: Expr,
  values: Map<string, Tensor>,
  dims: Map<string, number>,
  target: string,
  eps: number,
  onProgress: CheckOptions["onProgress"],
): Tensor {
  const base = values.get(target)!;
  const evaluateAt = (data: Float64Array): Tensor => {
    const changed = new Map(values);
    changed.set(target, tensor(data, { dtype: "float64", shape: base.shape.slice() }));
    if (derivation.kind === "hessian") {
      const leaves = new Map(changed);
      const leaf = tensor(data.slice(), { dtype: "float64", shape: base.shape.slice(), requiresGrad: true });
      leaves.set(target, leaf);
      const output = evaluateExpr(root, environment(leaves, dims));
      return gradients([output], [leaf])[0]!;
    }
    return noGrad(() => evaluateExpr(root, environment(changed, dims)));
  };
  const columns: Float64Array[] = [];
  let outSize = 0;
  for (let j = 0; j < base.size; j++) {
    const plus = Float64Array.from(base.data);
    const minus = Float64Array.from(base.data);
    const h = eps * Math.max(1, Math.abs(base.data[j]!));
    plus[j] = plus[j]! + h;
    minus[j] = minus[j]! - h;
    const fp = evaluateAt(plus);
    const fm = evaluateAt(minus);
    onProgress?.({ variable: target, what: "finite differences", done: j + 1, total: base.size });
    outSize = fp.size;
    const column = new Float64Array(fp.size);
    for (let i = 0; i < fp.size; i++) column[i] = (fp.data[i]! - fm.data[i]!) / (2 * h);
    columns.push(column);
  }
  const n = base.size;
  const data = new Float64Array(outSize * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < outSize; i++) data[i * n + j] = columns[j]![i]!;
  if (derivation.kind === "gradient") return tensor(data, { dtype: "float64", shape: base.shape.slice() });
  const outputShape = derivation.kind === "jacobian" ? numericShape(root.shape, dims) : base.shape.slice();
  if (outputShape.length === 0) return tensor(data, { dtype: "float64", shape: base.shape.slice() });
  if (base.ndim === 0) return tensor(data, { dtype: "float64", shape: outputShape });
  return tensor(data, { dtype: "float64", shape: [outSize, n] });
}

function compare(a: Tensor, b: Tensor, what: string): { absolute: number; relative: number } {
  if (a.size !== b.size) {
    throw new ValueError(`check: the ${what} has ${b.size} entries but the symbolic result has ${a.size}`);
  }
  let absolute = 0;
  let relative = 0;
  for (let i = 0; i < a.size; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    const r = d / (1 + Math.abs(b.data[i]!));
    if (!(d <= absolute)) absolute = d;
    if (!(r <= relative)) relative = r;
  }
  return { absolute, relative };
}

/**
 * Checks a derivation numerically at random values: every derivative against backpropagation and against
 * central finite differences.
 */
export function checkDerivation(derivation: Derivation, options: CheckOptions = {}): CheckReport {
  const root = derivation.output.expression;
  const variables = Object.entries(derivation.variableShapes).map(([name, shape]) => variable(name, shape));
  const dims = assignSizes(root, variables, options.sizes);
  checkSizes(variables, dims);
  const random = new Random(options.seed ?? 0);
  const values = new Map<string, Tensor>();
  for (const v of variables) values.set(v.name, randomValue(v, root, dims, random));
  const symbolic = derivation.evaluate(values);
  const eps = options.eps ?? (derivation.kind === "hessian" ? 1e-5 : 1e-6);
  const report: CheckReport = {
    sizes: Object.fromEntries(dims),
    values: Object.fromEntries(values),
    maxBackpropDifference: 0,
    maxFiniteDifference: 0,
    maxBackpropError: 0,
    maxFiniteDifferenceError: 0,
    passed: true,
    variables: [],
  };
  for (const w of derivation.wrt) {
    const mine = symbolic.gradients[w]!;
    const backprop = backpropDerivative(derivation, root, variables, values, dims, w);
    options.onProgress?.({ variable: w, what: "backprop", done: 1, total: 1 });
    const numeric = finiteDifference(derivation, root, values, dims, w, eps, options.onProgress);
    const b = compare(mine, backprop, "backprop derivative");
    const f = compare(mine, numeric, "finite-difference derivative");
    report.variables.push({ variable: w, backprop: b.absolute, finiteDifference: f.absolute });
    report.maxBackpropDifference = Math.max(report.maxBackpropDifference, b.absolute);
    report.maxFiniteDifference = Math.max(report.maxFiniteDifference, f.absolute);
    report.maxBackpropError = Math.max(report.maxBackpropError, b.relative);
    report.maxFiniteDifferenceError = Math.max(report.maxFiniteDifferenceError, f.relative);
    if (!Number.isFinite(b.absolute) || !Number.isFinite(f.absolute)) report.passed = false;
  }
  report.passed = report.passed && report.maxBackpropError <= 1e-8 && report.maxFiniteDifferenceError <= 1e-5;
  return report;
}
