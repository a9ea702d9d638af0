import { ValueError } from "../errors.js";
import { checkDType, isFloatDType, type DType } from "../tensor/dtype.js";
import { broadcastShapes, shapesEqual } from "../tensor/shape.js";
import type { Tensor } from "../tensor/tensor.js";
import type { BinaryKernel, UnaryKernel } from "../backend/index.js";
import { applyRule } from "../graph/apply.js";
import { backend, checkFloat, checkTensor, empty, operands } from "./helpers.js";
import type { OpAttrs, OpRule } from "./types.js";

// ---------------------------------------------------------------------------------------------------------
// Forward kernels

function unaryForward(kernel: UnaryKernel) {
  return ([x]: readonly Tensor[]): Tensor => {
    const out = empty(x!.shape, x!.dtype);
    backend().unary(kernel, x!._data, out._data);
    return out;
  };
}

function binaryForward(kernel: BinaryKernel) {
  return ([a, b]: readonly Tensor[]): Tensor => {
    const shape = shapesEqual(a!.shape, b!.shape) ? a!.shape : broadcastShapes(a!.shape, b!.shape, kernel);
    const out = empty(shape, a!.dtype);
    backend().binary(kernel, a!._data, a!.shape, b!._data, b!.shape, out._data, shape);
    return out;
  };
}

const noGradient = (_g: Tensor, c: { inputs: readonly Tensor[] }): null[] => c.inputs.map(() => null);

/** A piecewise-constant op has a zero tangent. */
const noTangent = (): null => null;

/** The sum of two tangent terms, where null stands for a zero term. */
function addTangents(a: Tensor | null, b: Tensor | null): Tensor | null {
  if (a === null) return b;
  if (b === null) return a;
  return add(a, b);
}

/** The tangent of max/min: each input's tangent weighted by its share `toA` / 1 − `toA` of the output. */
function selectTangent(toA: Tensor, da: Tensor | null, db: Tensor | null): Tensor | null {
  return addTangents(da && mul(da, toA), db && mul(db, sub(1, toA)));
}

// ---------------------------------------------------------------------------------------------------------
// Rules: forward, backward and jvp side by side. `g` is the upstream gradient ∂L/∂out. The math comment of
// each rule is its differential: `jvp` evaluates it with the input tangents as dx, `backward` transposes it.

type Rules<K extends keyof OpAttrs> = { [P in K]: OpRule<OpAttrs[P]> };

export const elementwiseRules: Rules<
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "abs"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "sin"
  | "cos"
  | "square"
  | "sign"
  | "clamp"
  | "astype"
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "greater"
  | "greaterEqual"
  | "less"
  | "lessEqual"
  | "equal"
> = {
  neg: {
    forward: unaryForward("neg"),
    // d(−x) = −dx
    backward: (g) => [neg(g)],
    jvp: ([dx]) => neg(dx!),
  },
  exp: {
    forward: unaryForward("exp"),
    // d exp(x) = exp(x) dx
    backward: (g, { output }) => [mul(g, output)],
    jvp: ([dx], { output }) => mul(dx!, output),
  },
  log: {
    forward: unaryForward("log"),
    // d log(x) = dx / x
    backward: (g, { inputs: [x] }) => [div(g, x!)],
    jvp: ([dx], { inputs: [x] }) => div(dx!, x!),
  },
  sqrt: {
    forward: unaryForward("sqrt"),
    // d √x = dx / (2√x)
    backward: (g, { output }) => [div(g, mul(output, 2))],
    jvp: ([dx], { output }) => div(dx!, mul(output, 2)),
  },
  abs: {
    forward: unaryForward("abs"),
    // d |x| = sign(x) dx, with abs'(0) = 0
    backward: (g, { inputs: [x] }) => [mul(g, sign(x!))],
    jvp: ([dx], { inputs: [x] }) => mul(dx!, sign(x!)),
  },
  sigmoid: {
    forward: unaryForward("sigmoid"),
    // d σ(x) = σ(x)(1 − σ(x)) dx
    backward: (g, { output }) => [mul(g, mul(output, sub(1, output)))],
    jvp: ([dx], { output }) => mul(dx!, mul(output, sub(1, output))),
  },
  tanh: {
    forward: unaryForward("tanh"),
    // d tanh(x) = (1 − tanh²(x)) dx
    backward: (g, { output }) => [mul(g, sub(1, square(output)))],
    jvp: ([dx], { output }) => mul(dx!, sub(1, square(output))),
  },
  relu: {
    forward: unaryForward("relu"),
    // d relu(x) = 1(x > 0) dx, with relu'(0) = 0
    backward: (g, { inputs: [x] }) => [mul(g, greater(x!, 0))],
    jvp: ([dx], { inputs: [x] }) => mul(dx!, greater(x!, 0)),
  },
  sin: {
    forward: unaryForward("sin"),
    // d sin(x) = cos(x) dx
    backward: (g, { inputs: [x] }) => [mul(g, cos(x!))],
    jvp: ([dx], { inputs: [x] }) => mul(dx!, cos(x!)),
  },
  cos: {
    forward: unaryForward("cos"),
    // d cos(x) = −sin(x) dx
    backward: (g, { inputs: [x] }) => [neg(mul(g, sin(x!)))],
    jvp: ([dx], { inputs: [x] }) => neg(mul(dx!, sin(x!))),
  },
  square: {
    forward: unaryForward("square"),
    // d x² = 2x dx
    backward: (g, { inputs: [x] }) => [mul(g, mul(x!, 2))],
    jvp: ([dx], { inputs: [x] }) => mul(dx!, mul(x!, 2)),
  },
  sign: {
    forward: unaryForward("sign"),
    // sign is piecewise constant: gradient 0, tangent 0 (never recorded)
    differentiable: false,
    backward: noGradient,
    jvp: noTangent,
  },
  clamp: {
    forward: ([x], { min, max }) => {
      const out = empty(x!.shape, x!.dtype);
      const src = x!._data;
      const dst = out._data;
      for (let i = 0; i < src.length; i++) {
        const v = src[i]!;
        dst[i] = v < min ? min : v > max ? max : v;
      }
      return out;
    },
    // d clamp(x, lo, hi) = 1(lo ≤ x ≤ hi) dx
    backward: (g, { inputs: [x], attrs: { min, max } }) => [
      mul(g, mul(greaterEqual(x!, min), lessEqual(x!, max))),
    ],
    jvp: ([dx], { inputs: [x], attrs: { min, max } }) =>
      mul(dx!, mul(greaterEqual(x!, min), lessEqual(x!, max))),
  },
  astype: {
    forward: ([x], { dtype }) => {
      const out = empty(x!.shape, dtype);
      backend().cast(x!._data, out._data);
      return out;
    },
    // d cast(x) = cast⁻¹(dx): the gradient goes back in the input's dtype
    backward: (g, { inputs: [x] }) => [astype(g, x!.dtype)],
    // forward: the tangent is converted like the value
    jvp: ([dx], { attrs: { dtype } }) => astype(dx!, dtype),
  },
  add: {
    forward: binaryForward("add"),
    // d(a + b) = da + db: the gradient is distributed unchanged to both inputs
    backward: (g) => [g, g],
    jvp: ([da, db]) => addTangents(da, db),
  },
  sub: {
    forward: binaryForward("sub"),
    // d(a − b) = da − db
    backward: (g, { needsGrad }) => [g, needsGrad[1] ? neg(g) : null],
    jvp: ([da, db]) => (db ? (da ? sub(da, db) : neg(db)) : da),
  },
  mul: {
    forward: binaryForward("mul"),
    // d(a·b) = b da + a db: each input gets the upstream gradient times the other ("switching")
    backward: (g, { inputs: [a, b], needsGrad }) => [
      needsGrad[0] ? mul(g, b!) : null,
      needsGrad[1] ? mul(g, a!) : null,
    ],
    jvp: ([da, db], { inputs: [a, b] }) => addTangents(da && mul(da, b!), db && mul(db, a!)),
  },
  div: {
    forward: binaryForward("div"),
    // d(a/b) = da/b − (a/b²) db
    backward: (g, { inputs: [, b], output, needsGrad }) => [
      needsGrad[0] ? div(g, b!) : null,
      needsGrad[1] ? neg(div(mul(g, output), b!)) : null,
    ],
    jvp: ([da, db], { inputs: [, b], output }) => {
      const fromA = da && div(da, b!);
      const fromB = db && div(mul(db, output), b!);
      return fromB ? (fromA ? sub(fromA, fromB) : neg(fromB)) : fromA;
    },
  },
  pow: {
    forward: binaryForward("pow"),
    // d(aᵇ) = b·aᵇ⁻¹ da + aᵇ·ln(a) db
    backward: (g, { inputs: [a, b], output, needsGrad }) => [
      needsGrad[0] ? mul(g, mul(b!, pow(a!, sub(b!, 1)))) : null,
      needsGrad[1] ? mul(g, mul(output, log(a!))) : null,
    ],
    // (ln a is only evaluated when b has a tangent, so a constant exponent allows a negative base)
    jvp: ([da, db], { inputs: [a, b], output }) =>
      addTangents(da && mul(da, mul(b!, pow(a!, sub(b!, 1)))), db && mul(db, mul(output, log(a!)))),
  },
  maximum: {
    forward: binaryForward("maximum"),
    // d max(a, b) = 1(a > b) da + 1(b > a) db; a tie sends half of the gradient to each input
    backward: (g, { inputs: [a, b] }) => {
      const toA = add(greater(a!, b!), mul(equal(a!, b!), 0.5));
      return [mul(g, toA), mul(g, sub(1, toA))];
    },
    jvp: ([da, db], { inputs: [a, b] }) =>
      selectTangent(add(greater(a!, b!), mul(equal(a!, b!), 0.5)), da, db),
  },
  minimum: {
    forward: binaryForward("minimum"),
    // d min(a, b) = 1(a < b) da + 1(b < a) db; a tie sends half of the gradient to each input
    backward: (g, { inputs: [a, b] }) => {
      const toA = add(less(a!, b!), mul(equal(a!, b!), 0.5));
      return [mul(g, toA), mul(g, sub(1, toA))];
    },
    jvp: ([da, db], { inputs: [a, b] }) => selectTangent(add(less(a!, b!), mul(equal(a!, b!), 0.5)), da, db),
  },
  // comparisons are piecewise constant: gradient 0, tangent 0 (never recorded)
  greater: { forward: binaryForward("greater"), differentiable: false, backward: noGradient, jvp: noTangent },
  greaterEqual: {
    forward: binaryForward("greaterEqual"),
    differentiable: false,
    backward: noGradient,
    jvp: noTangent,
  },
  less: { forward: binaryForward("less"), differentiable: false, backward: noGradient, jvp: noTangent },
  lessEqual: {
    forward: binaryForward("lessEqual"),
    differentiable: false,
    backward: noGradient,
    jvp: noTangent,
  },
  equal: { forward: binaryForward("equal"), differentiable: false, backward: noGradient, jvp: noTangent },
};

/** Runs one of this file's primitives on `inputs`, recording it for backward (graph/apply.ts). */
function apply<P extends keyof typeof elementwiseRules>(op: P, inputs: Tensor[], attrs: OpAttrs[P]): Tensor {
  return applyRule(op, elementwiseRules[op] as OpRule<OpAttrs[P]>, inputs, attrs);
}

// ---------------------------------------------------------------------------------------------------------
// Public functions

function unaryFloat(
  op:
    "neg" | "exp" | "log" | "sqrt" | "abs" | "sigmoid" | "tanh" | "relu" | "sin" | "cos" | "square" | "sign",
) {
  const anyDType = op === "neg" || op === "abs" || op === "relu" || op === "square" || op === "sign";
  return (x: Tensor): Tensor => {
    checkTensor(x, op);
    if (!anyDType) checkFloat(x, op);
    return apply(op, [x], null);
  };
}

/** −x */
export const neg = unaryFloat("neg");
/** eˣ, elementwise */
export const exp = unaryFloat("exp");
/** Natural logarithm, elementwise */
export const log = unaryFloat("log");
/** √x, elementwise */
export const sqrt = unaryFloat("sqrt");
/** |x|, elementwise (gradient 0 at 0) */
export const abs = unaryFloat("abs");
/** σ(x) = 1 / (1 + e⁻ˣ), computed without overflow */
export const sigmoid = unaryFloat("sigmoid");
/** tanh(x), elementwise */
export const tanh = unaryFloat("tanh");
/** max(x, 0), elementwise (gradient 0 at 0) */
export const relu = unaryFloat("relu");
export const sin = unaryFloat("sin");
export const cos = unaryFloat("cos");
/** x², elementwise */
export const square = unaryFloat("square");
/** −1, 0 or 1 (not differentiable: gradient 0) */
export const sign = unaryFloat("sign");

/** Limits every value to [min, max] (the gradient passes where min ≤ x ≤ max). `hardtanh` is clamp(x, −1, 1). */
export function clamp(x: Tensor, min: number, max: number): Tensor {
  checkTensor(x, "clamp");
  if (
    typeof min !== "number" ||
    typeof max !== "number" ||
    Number.isNaN(min) ||
    Number.isNaN(max) ||
    min > max
  ) {
    throw new ValueError(`clamp: need numbers min ≤ max, got ${min} and ${max}`);
  }
  return apply("clamp", [x], { min, max });
}

/** clamp(x, −1, 1) */
export function hardtanh(x: Tensor): Tensor {
  return clamp(x, -1, 1);
}

/** Converts to another dtype (a copy; differentiable between float dtypes). */
export function astype(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, "astype");
  checkDType(dtype, "astype");
  if (x.dtype === dtype) return x;
  // A conversion to int32 is not differentiable: its result never requires grad.
  if (!isFloatDType(dtype)) return elementwiseRules.astype.forward([x], { dtype });
  return apply("astype", [x], { dtype });
}

function binaryOp(op: "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum", floatOnly: boolean) {
  return (a: Tensor | number, b: Tensor | number): Tensor => {
    const pair = operands(a, b, op);
    if (floatOnly) checkFloat(pair[0], op);
    return apply(op, pair, null);
  };
}

function comparison(op: "greater" | "greaterEqual" | "less" | "lessEqual" | "equal") {
  return (a: Tensor | number, b: Tensor | number): Tensor => {
    const [x, y] = operands(a, b, op);
    return apply(op, [x, y], null);
  };
}

/** a + b with NumPy broadcasting */
export const add = binaryOp("add", false);
/** a − b with NumPy broadcasting */
export const sub = binaryOp("sub", false);
/** a · b elementwise, with NumPy broadcasting */
export const mul = binaryOp("mul", false);
/** a / b elementwise, with NumPy broadcasting */
export const div = binaryOp("div", true);
/** aᵇ elementwise, with NumPy broadcasting */
export const pow = binaryOp("pow", true);
/** Elementwise maximum; at ties the gradient is split evenly between a and b. */
export const maximum = binaryOp("maximum", false);
/** Elementwise minimum; at ties the gradient is split evenly between a and b. */
export const minimum = binaryOp("minimum", false);
/** 1 where a > b, else 0 (same dtype as the operands; not differentiable) */
export const greater = comparison("greater");
export const greaterEqual = comparison("greaterEqual");
export const less = comparison("less");
export const lessEqual = comparison("lessEqual");
export const equal = comparison("equal");
