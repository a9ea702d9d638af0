/**
 * Forward-mode symbolic differentiation with differentials (`d(Wx + b) = dW x + W dx + db`), and the
 * extraction of a Jacobian from a differential that is linear in `dx`: `dh = (1 − tanh²(z)) ∘ dz` gives
 * `∂h/∂z = diag(1 − tanh²(z))`. Used for Jacobians `(∂f/∂x)_ij = ∂f_i/∂x_j` (m × n), for Hessians (the
 * Jacobian of the gradient) and for the local derivatives shown in derivation steps.
 */
import { ValueError } from "../../errors.js";
import {
  ONE,
  contains,
  dependsOn,
  differential,
  hadamard,
  identity,
  matmul,
  ones,
  product,
  sum,
  transpose,
  zero,
  type Expr,
} from "../expression/expr.js";
import { call, ruleOf } from "../expression/functions.js";
import { isScalar, jacobianShape, rowsOf, shapeToText, type Shape } from "../expression/shape.js";
import { simplify } from "../4-simplify/simplify.js";

/** The differential of `e` with respect to the variable `name` (its differential written `d name`). */
export function differentialOf(e: Expr, name: string, shape: Shape): Expr {
  const dv = differential(name, shape);
  const memo = new Map<string, Expr>();
  const d = (x: Expr): Expr => {
    const cached = memo.get(x.key);
    if (cached) return cached;
    const result = dependsOn(x, name) ? rule(x) : zero(x.shape);
    memo.set(x.key, result);
    return result;
  };
  const rule = (x: Expr): Expr => {
    switch (x.kind) {
      case "var":
        return x.name === name ? dv : zero(x.shape);
      case "named":
        return d(x.definition);
      case "sum":
        // d(a + b) = da + db
        return sum(x.terms.map(d));
      case "product": {
        // d(c Π bᵢ^pᵢ) = Σᵢ c pᵢ bᵢ^(pᵢ−1) Π_{j≠i} bⱼ^pⱼ ∘ dbᵢ
        const terms: Expr[] = [];
        x.factors.forEach((f, i) => {
          if (!dependsOn(f.base, name)) return;
          const rest = x.factors.map((g, j) => (j === i ? { base: g.base, power: g.power - 1 } : g));
          terms.push(product([...rest, { base: d(f.base), power: 1 }], x.coefficient * f.power));
        });
        return sum(terms);
      }
      case "matmul": {
        // d(F₁⋯Fₖ) = Σᵢ F₁⋯dFᵢ⋯Fₖ
        const terms: Expr[] = [];
        x.factors.forEach((f, i) => {
          if (!dependsOn(f, name)) return;
          terms.push(matmul(x.factors.map((g, j) => (j === i ? d(g) : g))));
        });
        return sum(terms);
      }
      case "transpose":
        // d(Aᵀ) = (dA)ᵀ
        return transpose(d(x.arg));
      case "call":
        // the function's own rule: d f(a) = f'(a) ∘ da, d(X⁻¹) = −X⁻¹ dX X⁻¹, …
        return ruleOf(x).differential(x, d);
      default:
        // Constants, indicators (piecewise constant) and the like.
        return zero(x.shape);
    }
  };
  return simplify(d(e));
}

function notSupported(what: Expr, name: string): ValueError {
  return new ValueError(
    `the Jacobian with respect to ${name} passes through a matrix (${shapeToText(what.shape)}) that depends on ${name}, ` +
      `a third-order tensor; chainrule's Jacobians and Hessians need every matrix in the chain to be constant in ${name}`,
  );
}

/**
 * J such that `de = J d name` for a differential `de` linear in `d name`: for a vector variable of length n,
 * a vector e of length m gives an m × n matrix and a scalar e a 1 × n row; for a scalar variable, J has e's
 * shape.
 */
/** True if `e` contains the differential of `name`. */
function hasDifferential(e: Expr, name: string): boolean {
  return contains(e, (node) => node.kind === "differential" && node.variable === name);
}

export function jacobianFromDifferential(de: Expr, name: string, variableShape: Shape): Expr {
  const scalarVariable = isScalar(variableShape);
  if (!scalarVariable && variableShape.kind !== "vector") {
    throw new ValueError(
      `Jacobians and Hessians are taken with respect to scalars and vectors; ${name} is a matrix (${shapeToText(variableShape)}). ` +
        `Differentiate a scalar expression to get the gradient with respect to a matrix.`,
    );
  }
  const n = scalarVariable ? 1 : rowsOf(variableShape);
  const zeroJacobian = (e: Expr): Expr => {
    if (scalarVariable) return zero(e.shape);
    if (isScalar(e.shape)) return zero({ kind: "row", n });
    return zero(jacobianShape(rowsOf(e.shape), n));
  };
  const coefficient = (e: Expr): Expr => {
    if (!hasDifferential(e, name)) return zeroJacobian(e);
    if (e.kind === "transpose" || e.shape.kind === "row") {
      // A row holds the same entries as its transpose.
      const column = transpose(e);
      if (column.kind === "transpose" || column.shape.kind !== "vector") throw notSupported(e, name);
      return coefficient(column);
    }
    if (e.shape.kind === "matrix") throw notSupported(e, name);
    switch (e.kind) {
      case "differential":
        return scalarVariable ? ONE : identity(n);
      case "sum":
        return sum(
          e.terms.map((t) => {
            const j = coefficient(t);
            if (!isScalar(t.shape) || isScalar(e.shape)) return j;
            // a scalar term broadcast over a vector: every row of the Jacobian is its row
            return scalarVariable ? hadamard(j, ones(e.shape)) : matmul([ones(e.shape), j]);
          }),
        );
      case "product": {
        const index = e.factors.findIndex((f) => hasDifferential(f.base, name));
        const factor = e.factors[index]!;
        if (factor.power !== 1 || e.factors.some((f, i) => i !== index && hasDifferential(f.base, name))) {
          throw new ValueError(`internal: the differential ${name} is not linear`);
        }
        const rest = product(
          e.factors.filter((_, i) => i !== index),
          e.coefficient,
        );
        const j = coefficient(factor.base);
        if (isScalar(e.shape) || isScalar(rest.shape) || scalarVariable) return hadamard(rest, j);
        if (isScalar(factor.base.shape)) return matmul([rest, j]);
        return matmul([call("diag", [rest]), j]);
      }
      case "matmul": {
        const index = e.factors.findIndex((f) => hasDifferential(f, name));
        const factor = e.factors[index]!;
        const left = e.factors.slice(0, index);
        const right = e.factors.slice(index + 1);
        if (factor.shape.kind === "vector" && right.length === 0)
          return matmul([...left, coefficient(factor)]);
        if (factor.shape.kind === "row" && right.length > 0) {
          const rest = matmul(right);
          if (rest.shape.kind !== "vector") throw notSupported(e, name);
          // F R = Rᵀ Fᵀ for a row F and a column R
          const inside = matmul([transpose(rest), coefficient(transpose(factor))]);
          return left.length > 0 ? matmul([...left, inside]) : inside;
        }
        throw notSupported(factor, name);
      }
      case "call":
        if ((e.fn === "sum" || e.fn === "tr") && !isScalar(e.args[0]!.shape)) {
          const arg = e.args[0]!;
          if (e.fn === "sum" && arg.shape.kind === "vector") {
            return matmul([transpose(ones(arg.shape)), coefficient(arg)]);
          }
          throw notSupported(arg, name);
        }
        if (isScalar(e.args[0]!.shape)) return coefficient(e.args[0]!);
        throw notSupported(e, name);
      default:
        throw notSupported(e, name);
    }
  };
  return simplify(coefficient(de));
}

/** The Jacobian ∂e/∂name (m × n) of a scalar or vector expression with respect to a scalar or vector. */
export function jacobianOf(e: Expr, name: string, variableShape: Shape): Expr {
  if (e.shape.kind === "matrix" || e.shape.kind === "row") {
    throw new ValueError(
      `Jacobians are of scalars and vectors; the expression is ${e.shape.kind === "row" ? "a row" : "a matrix"} (${shapeToText(e.shape)})`,
    );
  }
  const de = differentialOf(e, name, variableShape);
  return jacobianFromDifferential(de, name, variableShape);
}
