/**
 * Numeric evaluation of symbolic expressions on float64 tensors with chainrule's ops: scalars are 0-d tensors,
 * vectors and rows 1-D tensors, matrices 2-D. The symbolic dimensions are bound from the values given.
 * Evaluating the original expression with leaves that require grad records it for backpropagation, which is
 * how derivations are checked against the algorithmic gradients.
 */
import { ShapeError, ValueError } from "../../errors.js";
import { Tensor, type NestedArray } from "../../tensor/tensor.js";
import { eye, ones, tensor, zeros } from "../../tensor/creation.js";
import { shapeToString } from "../../tensor/shape.js";
import {
  add,
  astype,
  div,
  matmul,
  mul,
  neg,
  pow,
  reshape,
  sqrt,
  square,
  sub,
  transpose,
} from "../../ops/index.js";
import { product, type Expr, type VariableExpr } from "../expression/expr.js";
import { colsOf, productShape, rowsOf, shapeToText, type Dim, type Shape } from "../expression/shape.js";
import { ruleOf } from "../expression/functions.js";
import { indicatorGreater } from "./tensor-ops.js";

/** A variable's value: a tensor (converted to float64) or nested arrays of numbers. */
export type VariableValue = Tensor | NestedArray;
/** Values of the variables, by name. */
export type VariableValues = Readonly<Record<string, VariableValue>> | ReadonlyMap<string, VariableValue>;

/** Values bound to the variables and the sizes of the symbolic dimensions. */
export interface Environment {
  readonly values: ReadonlyMap<string, Tensor>;
  readonly dims: ReadonlyMap<string, number>;
  /** Values of named quantities already computed (each is computed once). */
  readonly memo: Map<string, Tensor>;
}

function lookup(values: VariableValues, name: string): VariableValue | undefined {
  if (values instanceof Map) return values.get(name);
  const record = values as Readonly<Record<string, VariableValue>>;
  return Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
}

function toFloat64(value: VariableValue, name: string): Tensor {
  if (value instanceof Tensor) return value.dtype === "float64" ? value : astype(value, "float64");
  if (typeof value === "number" || Array.isArray(value)) return tensor(value, { dtype: "float64" });
  throw new ValueError(`the value of ${name} must be a Tensor, a number or nested arrays of numbers`);
}

/** The numeric shape of a symbolic shape once its dimensions are known. */
export function numericShape(shape: Shape, dims: ReadonlyMap<string, number>): number[] {
  const size = (d: Dim): number => {
    if (typeof d === "number") return d;
    const n = dims.get(d);
    if (n === undefined)
      throw new ValueError(`the size of dimension ${d} is not known from the values given`);
    return n;
  };
  switch (shape.kind) {
    case "scalar":
      return [];
    case "vector":
    case "row":
      return [size(shape.kind === "vector" ? rowsOf(shape) : colsOf(shape))];
    case "matrix":
      return [size(shape.rows), size(shape.cols)];
  }
}

/**
 * Converts the values of `variables` to float64 tensors, checks them against the declared shapes and binds
 * the symbolic dimensions (`W: n×m` given a 3 × 4 matrix makes n = 3, m = 4).
 */
export function bindValues(variables: readonly VariableExpr[], values: VariableValues): Environment {
  if (values === null || typeof values !== "object") {
    throw new ValueError("evaluate: expected the values of the variables as an object, e.g. { x: [1, 2] }");
  }
  const bound = new Map<string, Tensor>();
  const dims = new Map<string, number>();
  const origin = new Map<string, string>();
  for (const v of variables) {
    const raw = lookup(values, v.name);
    if (raw === undefined) {
      throw new ValueError(`evaluate: no value for ${v.name} (declared ${shapeToText(v.shape)})`);
    }
    let t = toFloat64(raw, v.name);
    const declared = v.shape;
    if (declared.kind === "scalar") {
      if (t.size !== 1 || t.ndim > 1) {
        throw new ShapeError(
          `evaluate: ${v.name} is declared a scalar but its value has shape ${shapeToString(t.shape)}`,
        );
      }
      if (t.ndim !== 0) t = reshape(t, []);
    } else {
      const want = declared.kind === "matrix" ? 2 : 1;
      if (t.ndim !== want) {
        throw new ShapeError(
          `evaluate: ${v.name} is declared ${shapeToText(declared)} but its value has shape ${shapeToString(t.shape)}`,
        );
      }
      const symbolic: Dim[] =
        declared.kind === "matrix" ? [declared.rows, declared.cols] : [rowsOf(declared)];
      symbolic.forEach((d, axis) => {
        const actual = t.shape[axis]!;
        if (typeof d === "number") {
          if (d !== actual) {
            throw new ShapeError(
              `evaluate: ${v.name} is declared ${shapeToText(declared)} but its value has shape ${shapeToString(t.shape)}`,
            );
          }
          return;
        }
        const known = dims.get(d);
        if (known === undefined) {
          dims.set(d, actual);
          origin.set(d, v.name);
        } else if (known !== actual) {
          throw new ShapeError(
            `evaluate: ${v.name} has shape ${shapeToString(t.shape)}, so ${d} = ${actual}, but ${d} = ${known} from ${origin.get(d)}`,
          );
        }
      });
    }
    bound.set(v.name, t);
  }
  return { values: bound, dims, memo: new Map() };
}

function scalar(value: number): Tensor {
  return tensor(value, { dtype: "float64" });
}

/** The matrix product of two evaluated operands, reading 1-D tensors as columns or rows by their shapes. */
function matmulShaped(a: Tensor, aShape: Shape, b: Tensor, bShape: Shape): Tensor {
  const result = productShape(aShape, bShape);
  if (result === null) throw new ShapeError("evaluate: inner dimensions differ in a matrix product");
  let out: Tensor;
  if (aShape.kind === "scalar" || bShape.kind === "scalar") return mul(a, b);
  if (aShape.kind === "vector" && (bShape.kind === "row" || bShape.kind === "matrix")) {
    out = matmul(reshape(a, [-1, 1]), bShape.kind === "row" ? reshape(b, [1, -1]) : b);
  } else if (aShape.kind === "matrix" && bShape.kind === "row") {
    out = matmul(a, reshape(b, [1, -1]));
  } else out = matmul(a, b);
  const want = result.kind === "scalar" ? 0 : result.kind === "matrix" ? 2 : 1;
  if (out.ndim !== want) out = reshape(out, want === 0 ? [] : want === 1 ? [-1] : out.shape.slice(-2));
  return out;
}

/** Evaluates an expression (float64); variables and dimensions come from `env`. */
export function evaluateExpr(e: Expr, env: Environment): Tensor {
  const memo = new Map<string, Tensor>();
  const run = (x: Expr): Tensor => {
    const cached = memo.get(x.key);
    if (cached) return cached;
    const value = compute(x);
    memo.set(x.key, value);
    return value;
  };
  const compute = (x: Expr): Tensor => {
    switch (x.kind) {
      case "var": {
        const t = env.values.get(x.name);
        if (t === undefined) throw new ValueError(`evaluate: no value for ${x.name}`);
        return t;
      }
      case "const":
        return scalar(x.value);
      case "dim":
        return scalar(numericShape({ kind: "vector", n: x.dim }, env.dims)[0]!);
      case "named": {
        let t = env.memo.get(x.key);
        if (t === undefined) {
          t = evaluateExpr(x.definition, env);
          env.memo.set(x.key, t);
        }
        return t;
      }
      case "differential":
        throw new ValueError(`evaluate: the differential d${x.variable} has no value`);
      case "identity": {
        const [n] = numericShape({ kind: "vector", n: x.n }, env.dims);
        return eye(n!, n!, { dtype: "float64" });
      }
      case "ones":
        return ones(numericShape(x.shape, env.dims), { dtype: "float64" });
      case "zero":
        return zeros(numericShape(x.shape, env.dims), { dtype: "float64" });
      case "sum": {
        let total = run(x.terms[0]!);
        for (let i = 1; i < x.terms.length; i++) {
          const t = x.terms[i]!;
          // a − b rather than a + (−b): one op, as it reads
          if (t.kind === "product" && t.coefficient < 0)
            total = sub(total, run(product(t.factors, -t.coefficient)));
          else if (t.kind === "const" && t.value < 0) total = sub(total, -t.value);
          else total = add(total, run(t));
        }
        return total;
      }
      case "product": {
        let numerator: Tensor | null = null;
        let denominator: Tensor | null = null;
        const times = (acc: Tensor | null, t: Tensor): Tensor => (acc === null ? t : mul(acc, t));
        for (const f of x.factors) {
          const base = run(f.base);
          const p = Math.abs(f.power);
          const powered = p === 1 ? base : p === 2 ? square(base) : p === 0.5 ? sqrt(base) : pow(base, p);
          if (f.power > 0) numerator = times(numerator, powered);
          else denominator = times(denominator, powered);
        }
        let value: Tensor = numerator ?? scalar(1);
        if (denominator !== null) value = div(value, denominator);
        if (x.coefficient === -1) value = neg(value);
        else if (x.coefficient !== 1) value = mul(x.coefficient, value);
        return value;
      }
      case "matmul": {
        let value = run(x.factors[0]!);
        let shape = x.factors[0]!.shape;
        for (let i = 1; i < x.factors.length; i++) {
          const f = x.factors[i]!;
          value = matmulShaped(value, shape, run(f), f.shape);
          shape = productShape(shape, f.shape)!;
        }
        return value;
      }
      case "transpose": {
        const t = run(x.arg);
        return t.ndim === 2 ? transpose(t) : t;
      }
      case "indicator":
        return indicatorGreater(run(x.left), run(x.right));
      case "call":
        return ruleOf(x).evaluate(
          x.args.map(run),
          x.args.map((a) => a.shape),
        );
    }
  };
  return run(e);
}
