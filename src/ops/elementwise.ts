import { ValueError } from "../errors.js";
import { checkDType, isFloatDType, type DType } from "../tensor/dtype.js";
import { broadcastShapes, shapesEqual } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import type { ActivationKernel, BinaryKernel, UnaryKernel } from "../backend/index.js";
import { applyRule } from "../graph/apply.js";
import { autogradState } from "../graph/mode.js";
import type { AttrsOf, JvpContext, LabelOperands, OpRule } from "../graph/rule.js";
import { backend, checkFloat, checkTensor, empty, operands, unfilled } from "./helpers.js";
import { fixedPerInput, noteBroadcast } from "./describe.js";

// ---------------------------------------------------------------------------------------------------------
// The local derivative, written once per op
//
// An elementwise op y = f(x) (or f(a, b)) has a diagonal Jacobian: its local derivative ∂y/∂x is itself an
// elementwise tensor. Each rule below writes that local derivative once; backward ("downstream = upstream ×
// local") and forward mode ("tangent of y = tangent of x × local") are both derived from it.

/**
 * A local derivative ∂y/∂x: a tensor or a number to multiply by, or a quotient `times / over` (a division is
 * written as one, so that `upstream / x` is computed as a division, not as a product with 1/x).
 */
export type Local = Tensor | number | { readonly times?: Tensor; readonly over: Tensor };

/** upstream × local: a downstream gradient, or (with a tangent for `upstream`) an output tangent. */
function times(upstream: Tensor, local: Local): Tensor {
  if (typeof local === "number") {
    if (local === 1) return upstream;
    return local === -1 ? neg(upstream) : mul(upstream, local);
  }
  if (local instanceof Tensor) return mul(upstream, local);
  return div(local.times === undefined ? upstream : mul(upstream, local.times), local.over);
}

/**
 * upstream × local written over the upstream gradient, when the engine alone holds it (`autogradState.overwritable`)
 * and local is a tensor, or a quotient of tensors, of its shape and dtype: the same backend calls as `times`'s ops
 * (each position read before it is written), so the same bits, without a new array. Null otherwise, and under
 * forward mode or anomaly mode.
 */
function timesOver(upstream: Tensor, local: Local): Tensor | null {
  // Not under anomaly mode, which checks each op of the rule (to name the one that made a NaN or infinity).
  if (
    autogradState.overwritable !== upstream ||
    autogradState.forwardDepth > 0 ||
    autogradState.anomaly ||
    typeof local === "number"
  ) {
    return null;
  }
  const factors = local instanceof Tensor ? [local] : local.times === undefined ? [] : [local.times];
  const divisor = local instanceof Tensor ? null : local.over;
  for (const t of divisor === null ? factors : [...factors, divisor]) {
    if (t.dtype !== upstream.dtype || !shapesEqual(t.shape, upstream.shape)) return null;
  }
  const g = upstream._data;
  const shape = upstream.shape;
  for (const t of factors) backend().binary("mul", g, shape, t._data, shape, g, shape);
  if (divisor !== null) backend().binary("div", g, shape, divisor._data, shape, g, shape);
  return upstream;
}

/** One input's term of an output tangent, dx × local, or null (zero) when dx or local is absent. */
function tangentTerm(dx: Tensor | null, local: Local | null): Tensor | null {
  return dx === null || local === null ? null : times(dx, local);
}

/** The sum of two tangent terms, where null stands for a zero term. */
function addTangents(a: Tensor | null, b: Tensor | null): Tensor | null {
  if (a === null) return b;
  if (b === null) return a;
  return add(a, b);
}

interface UnarySpec<A> {
  /** Whether int32 tensors are accepted as well (default: float tensors only). */
  anyDType?: boolean;
  /** ∂y/∂x, from the input x, the output y and the attributes. */
  local(context: JvpContext<A>): Local;
  /** ∂y/∂x in the lecture's notation, for a symbol `x`. */
  jacobian(x: string, attrs: A): string;
  label?: (x: string) => string;
  /**
   * tanh and σ: a backward pass that records no graph computes `upstream × local` in one backend kernel
   * (`Backend.activationBackward`, with the ops' bits) instead of the three ops of `local` and the product.
   */
  activation?: ActivationKernel;
}

interface BinarySpec {
  /**
   * ∂y/∂a and ∂y/∂b. `wanted[i]` says whether input i's is needed: a rule may return null for the others
   * (and must where computing it could fail, as ln a does for a negative base).
   */
  local(context: JvpContext<null>, wanted: readonly boolean[]): [Local | null, Local | null];
  /** ∂y/∂a and ∂y/∂b in the lecture's notation. */
  jacobian(symbols: readonly string[], broadcast: readonly boolean[]): string[];
  /** Whether only float tensors are accepted (default: int32 too). */
  floatOnly?: boolean;
  /** The infix symbol of the op (`+`), or a label function (see `OpPresentation.label`). */
  infix?: string;
  label?: (operands: LabelOperands) => string;
}

/** An elementwise rule, with whether its public function accepts int32 tensors. */
export interface ElementwiseRule<A> extends OpRule<A> {
  /** True when the public function accepts int32 tensors as well as float ones. */
  readonly anyDType: boolean;
}

/** The rule of an elementwise unary op from its local derivative; `kernel` is the backend's or a function. */
function unaryRule<A>(
  kernel: UnaryKernel | ((x: Tensor, attrs: A) => Tensor),
  spec: UnarySpec<A>,
): ElementwiseRule<A> {
  const forward = typeof kernel === "function" ? kernel : unaryKernelForward(kernel);
  const label = spec.label;
  return {
    anyDType: spec.anyDType ?? false,
    forward: ([x], attrs) => forward(x, attrs),
    backward: (upstream, context) => {
      const fused =
        spec.activation !== undefined && !context.createGraph
          ? activationGradient(spec.activation, upstream, context.output)
          : null;
      if (fused !== null) return [fused];
      const local = spec.local(context);
      return [timesOver(upstream, local) ?? times(upstream, local)];
    },
    jvp: ([dx], context) => (dx === null ? null : times(dx, spec.local(context))),
    describe: {
      label: label && (({ grouped: [x] }) => label(x)),
      jacobian: ([x], attrs) => [spec.jacobian(x, attrs)],
    },
  };
}

/**
 * upstream × f′ of tanh or σ from its output y in one backend kernel, or null (then the rule runs its ops) when the
 * backend has none, the tensors differ in shape or dtype, or forward mode is on.
 */
function activationGradient(kernel: ActivationKernel, upstream: Tensor, y: Tensor): Tensor | null {
  // Inside `jvp` (forward over reverse, as `hessian` runs it) the ops carry tangents; the kernel would drop them.
  if (autogradState.forwardDepth > 0) return null;
  const kernels = backend();
  if (kernels.activationBackward === undefined) return null;
  if (upstream.dtype !== y.dtype || !shapesEqual(upstream.shape, y.shape)) return null;
  // Over the upstream gradient when the engine alone holds it (saving an array a step per activation).
  const out = autogradState.overwritable === upstream ? upstream : unfilled(y.shape, y.dtype);
  kernels.activationBackward(kernel, y._data, upstream._data, out._data);
  return out;
}

function unaryKernelForward(kernel: UnaryKernel) {
  return (x: Tensor): Tensor => {
    const out = unfilled(x.shape, x.dtype);
    backend().unary(kernel, x._data, out._data);
    return out;
  };
}

function binaryForward(kernel: BinaryKernel) {
  return ([a, b]: readonly Tensor[]): Tensor => {
    const shape = shapesEqual(a.shape, b.shape) ? a.shape : broadcastShapes(a.shape, b.shape, kernel);
    const out = unfilled(shape, a.dtype);
    backend().binary(kernel, a._data, a.shape, b._data, b.shape, out._data, shape);
    return out;
  };
}

/** The rule of an elementwise binary op from its local derivatives. */
function binaryRule(kernel: BinaryKernel, spec: BinarySpec): ElementwiseRule<null> {
  const { infix, label } = spec;
  return {
    anyDType: !spec.floatOnly,
    forward: binaryForward(kernel),
    backward: (upstream, context) => {
      const [toA, toB] = spec.local(context, context.needsGrad);
      // Only the last gradient computed may be written over the upstream (see timesOver), and only when the
      // first is not the upstream itself.
      const a =
        toA === null ? null : ((toB === null ? timesOver(upstream, toA) : null) ?? times(upstream, toA));
      const b =
        toB === null ? null : ((a !== upstream ? timesOver(upstream, toB) : null) ?? times(upstream, toB));
      return [a, b];
    },
    jvp: ([da, db], context) => {
      const [toA, toB] = spec.local(context, [da !== null, db !== null]);
      return addTangents(tangentTerm(da, toA), tangentTerm(db, toB));
    },
    describe: {
      infix: infix !== undefined,
      label: infix ? ({ grouped: [a, b] }) => `${a} ${infix} ${b}` : label,
      jacobian: (symbols, _attrs, broadcast) => spec.jacobian(symbols, broadcast),
    },
  };
}

/** A piecewise-constant op (a comparison, sign): gradient 0 and tangent 0, so it is never recorded. */
function piecewiseConstantRule(
  forward: (inputs: readonly Tensor[]) => Tensor,
  inputs: number,
): ElementwiseRule<null> {
  return {
    anyDType: true,
    forward,
    differentiable: false,
    backward: (_upstream, { inputs }) => inputs.map(() => null),
    jvp: () => null,
    describe: { jacobian: fixedPerInput(...Array<string>(inputs).fill("0")) },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Rules. The math comment of each is its differential dy; `local` is dy/dx.

const unaryRules = {
  // d(−x) = −dx
  /** The primitive −x. */
  neg: unaryRule<null>("neg", {
    anyDType: true,
    local: () => -1,
    jacobian: () => "−I",
    label: (x) => `−${x}`,
  }),
  // d exp(x) = exp(x) dx
  /** The primitive eˣ. */
  exp: unaryRule<null>("exp", { local: ({ output }) => output, jacobian: (x) => `diag(exp(${x}))` }),
  // d log(x) = dx / x
  /** The primitive ln x. */
  log: unaryRule<null>("log", { local: ({ inputs: [x] }) => ({ over: x }), jacobian: (x) => `diag(1/${x})` }),
  // d √x = dx / (2√x)
  /** The primitive √x. */
  sqrt: unaryRule<null>("sqrt", {
    local: ({ output }) => ({ over: mul(output, 2) }),
    jacobian: (x) => `diag(1/(2√${x}))`,
  }),
  // d |x| = sign(x) dx, with abs'(0) = 0
  /** The primitive |x|. */
  abs: unaryRule<null>("abs", {
    anyDType: true,
    local: ({ inputs: [x] }) => sign(x),
    jacobian: (x) => `diag(sign(${x}))`,
  }),
  // d σ(x) = σ(x)(1 − σ(x)) dx
  /** The primitive σ(x) = 1 / (1 + e⁻ˣ). */
  sigmoid: unaryRule<null>("sigmoid", {
    activation: "sigmoid",
    local: ({ output }) => mul(output, sub(1, output)),
    jacobian: (x) => `diag(σ(${x}) ∘ (1 − σ(${x})))`,
  }),
  // d tanh(x) = (1 − tanh²(x)) dx
  /** The primitive tanh x. */
  tanh: unaryRule<null>("tanh", {
    activation: "tanh",
    local: ({ output }) => sub(1, square(output)),
    jacobian: (x) => `diag(1 − tanh²(${x}))`,
  }),
  // d relu(x) = 1(x > 0) dx, with relu'(0) = 0
  /** The primitive max(x, 0). */
  relu: unaryRule<null>("relu", {
    anyDType: true,
    local: ({ inputs: [x] }) => greater(x, 0),
    jacobian: (x) => `diag(1(${x} > 0))`,
  }),
  // d sin(x) = cos(x) dx
  /** The primitive sin x. */
  sin: unaryRule<null>("sin", { local: ({ inputs: [x] }) => cos(x), jacobian: (x) => `diag(cos(${x}))` }),
  // d cos(x) = −sin(x) dx
  /** The primitive cos x. */
  cos: unaryRule<null>("cos", {
    local: ({ inputs: [x] }) => neg(sin(x)),
    jacobian: (x) => `diag(−sin(${x}))`,
  }),
  // d x² = 2x dx
  /** The primitive x². */
  square: unaryRule<null>("square", {
    anyDType: true,
    local: ({ inputs: [x] }) => mul(x, 2),
    jacobian: (x) => `diag(2${x})`,
    label: (x) => `${x}²`,
  }),
  // d clamp(x, lo, hi) = 1(lo ≤ x ≤ hi) dx
  /** The primitive clamp(x, min, max). */
  clamp: unaryRule<{
    /** The lower bound. */
    min: number;
    /** The upper bound. */
    max: number;
  }>(
    (x, { min, max }) => {
      const out = empty(x.shape, x.dtype);
      const src = x._data;
      const dst = out._data;
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        dst[i] = v < min ? min : v > max ? max : v;
      }
      return out;
    },
    {
      anyDType: true,
      local: ({ inputs: [x], attrs: { min, max } }) => mul(greaterEqual(x, min), lessEqual(x, max)),
      jacobian: (x, { min, max }) => `diag(1(${min} ≤ ${x} ≤ ${max}))`,
    },
  ),
  // sign is piecewise constant: gradient 0, tangent 0
  /** The primitive sign x (piecewise constant: never recorded). */
  sign: piecewiseConstantRule(([x]) => unaryKernelForward("sign")(x), 1),
};

/** The tie-aware share of max/min's gradient that goes to a: 1 where a wins, ½ at a tie, 0 where b wins. */
function shareOfA(wins: Tensor, a: Tensor, b: Tensor): Tensor {
  return add(wins, mul(equal(a, b), 0.5));
}

const binaryRules = {
  // d(a + b) = da + db: the gradient is distributed unchanged to both inputs
  /** The primitive a + b (broadcasting). */
  add: binaryRule("add", {
    local: () => [1, 1],
    jacobian: (_symbols, broadcast) => noteBroadcast(["I", "I"], broadcast),
    infix: "+",
  }),
  // d(a − b) = da − db
  /** The primitive a − b (broadcasting). */
  sub: binaryRule("sub", {
    local: () => [1, -1],
    jacobian: (_symbols, broadcast) => noteBroadcast(["I", "−I"], broadcast),
    infix: "−",
  }),
  // d(a·b) = b da + a db: each input gets the upstream gradient times the other ("switching")
  /** The primitive a · b, elementwise (broadcasting). */
  mul: binaryRule("mul", {
    local: ({ inputs: [a, b] }) => [b, a],
    jacobian: ([a, b], broadcast) => noteBroadcast([`diag(${b})`, `diag(${a})`], broadcast),
    infix: "·",
  }),
  // d(a/b) = da/b − (a/b²) db = da/b − (y/b) db
  /** The primitive a / b, elementwise (broadcasting). */
  div: binaryRule("div", {
    floatOnly: true,
    local: ({ inputs: [, b], output }) => [{ over: b }, { times: neg(output), over: b }],
    jacobian: ([a, b]) => [`diag(1/${b})`, `diag(−${a}/${b}²)`],
    infix: "/",
  }),
  // d(aᵇ) = b·aᵇ⁻¹ da + aᵇ·ln(a) db (ln a only when b needs it, so a constant exponent allows a negative base).
  // As in PyTorch, ∂/∂a is 0 where b = 0 (not 0·0⁻¹ = NaN at a = 0), and ∂/∂b is 0 where a = 0 and b ≥ 0
  // (aᵇ·ln a → 0 there, not 0·(−∞) = NaN): the masked places use a¹⁻¹ = 1 and ln 1 = 0 instead.
  /** The primitive aᵇ, elementwise (broadcasting). */
  pow: binaryRule("pow", {
    floatOnly: true,
    local: ({ inputs: [a, b], output }, wanted) => [
      wanted[0] ? mul(b, pow(a, add(sub(b, 1), equal(b, 0)))) : null,
      wanted[1] ? mul(output, log(add(a, mul(equal(a, 0), greaterEqual(b, 0))))) : null,
    ],
    jacobian: ([a, b]) => [`diag(${b}·${a}^(${b} − 1))`, `diag(${a}^${b}·ln ${a})`],
    label: ({ grouped: [a, b] }) => `${a}^${b}`,
  }),
  // d max(a, b) = 1(a > b) da + 1(b > a) db; a tie sends half of the gradient to each input
  /** The primitive max(a, b), elementwise (broadcasting). */
  maximum: binaryRule("maximum", {
    local: ({ inputs: [a, b] }) => {
      const toA = shareOfA(greater(a, b), a, b);
      return [toA, sub(1, toA)];
    },
    jacobian: ([a, b]) => [`diag(1(${a} > ${b}))`, `diag(1(${b} > ${a}))`],
    label: ({ plain: [a, b] }) => `max(${a}, ${b})`,
  }),
  // d min(a, b) = 1(a < b) da + 1(b < a) db; a tie sends half of the gradient to each input
  /** The primitive min(a, b), elementwise (broadcasting). */
  minimum: binaryRule("minimum", {
    local: ({ inputs: [a, b] }) => {
      const toA = shareOfA(less(a, b), a, b);
      return [toA, sub(1, toA)];
    },
    jacobian: ([a, b]) => [`diag(1(${a} < ${b}))`, `diag(1(${b} < ${a}))`],
    label: ({ plain: [a, b] }) => `min(${a}, ${b})`,
  }),
  // comparisons are piecewise constant: gradient 0, tangent 0
  /** The comparison a > b (1 or 0; never recorded). */
  greater: piecewiseConstantRule(binaryForward("greater"), 2),
  /** The comparison a ≥ b (1 or 0; never recorded). */
  greaterEqual: piecewiseConstantRule(binaryForward("greaterEqual"), 2),
  /** The comparison a < b (1 or 0; never recorded). */
  less: piecewiseConstantRule(binaryForward("less"), 2),
  /** The comparison a ≤ b (1 or 0; never recorded). */
  lessEqual: piecewiseConstantRule(binaryForward("lessEqual"), 2),
  /** The comparison a = b (1 or 0; never recorded). */
  equal: piecewiseConstantRule(binaryForward("equal"), 2),
};

const astypeRule: OpRule<{
  /** The dtype converted to. */
  dtype: DType;
}> = {
  forward: ([x], { dtype }) => {
    const out = empty(x.shape, dtype);
    backend().cast(x._data, out._data);
    return out;
  },
  // d cast(x) = cast⁻¹(dx): the gradient goes back in the input's dtype
  backward: (upstream, { inputs: [x] }) => [astype(upstream, x.dtype)],
  // forward: the tangent is converted like the value
  jvp: ([dx], { attrs: { dtype } }) => (dx === null ? null : astype(dx, dtype)),
  describe: { jacobian: fixedPerInput("I") },
};

export const elementwiseRules = {
  ...unaryRules,
  /** The primitive cast(x) to another dtype; backward casts the gradient back. */
  astype: astypeRule,
  ...binaryRules,
};

/** Runs one of this file's primitives on `inputs`, recording it for backward (graph/apply.ts). */
function apply<P extends keyof typeof elementwiseRules>(
  op: P,
  inputs: Tensor[],
  attrs: AttrsOf<(typeof elementwiseRules)[P]>,
): Tensor {
  return applyRule(op, elementwiseRules[op] as OpRule<typeof attrs>, inputs, attrs);
}

// ---------------------------------------------------------------------------------------------------------
// Public functions

function unaryFunction(op: Exclude<keyof typeof unaryRules, "clamp">): (x: Tensor) => Tensor {
  const anyDType = unaryRules[op].anyDType;
  return (x: Tensor): Tensor => {
    checkTensor(x, op);
    if (!anyDType) checkFloat(x, op);
    return apply(op, [x], null);
  };
}

/** −x */
export const neg = unaryFunction("neg");
/** eˣ, elementwise */
export const exp = unaryFunction("exp");
/** Natural logarithm, elementwise */
export const log = unaryFunction("log");
/** √x, elementwise */
export const sqrt = unaryFunction("sqrt");
/** |x|, elementwise (gradient 0 at 0) */
export const abs = unaryFunction("abs");
/** σ(x) = 1 / (1 + e⁻ˣ), computed without overflow */
export const sigmoid = unaryFunction("sigmoid");
/** tanh(x), elementwise */
export const tanh = unaryFunction("tanh");
/** max(x, 0), elementwise (gradient 0 at 0) */
export const relu = unaryFunction("relu");
/** sin x, elementwise. Local Jacobian diag(cos x). */
export const sin = unaryFunction("sin");
/** cos x, elementwise. Local Jacobian diag(−sin x). */
export const cos = unaryFunction("cos");
/** x², elementwise */
export const square = unaryFunction("square");
/** −1, 0 or 1 (not differentiable: gradient 0) */
export const sign = unaryFunction("sign");

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
  if (!isFloatDType(dtype)) return astypeRule.forward([x], { dtype });
  return apply("astype", [x], { dtype });
}

/** The public function of a binary op: NumPy broadcasting, numbers taking the dtype of the tensor beside them. */
function binaryFunction(op: keyof typeof binaryRules): (a: Tensor | number, b: Tensor | number) => Tensor {
  const floatOnly = !binaryRules[op].anyDType;
  return (a: Tensor | number, b: Tensor | number): Tensor => {
    const pair = operands(a, b, op);
    if (floatOnly) checkFloat(pair[0], op);
    return apply(op, pair, null);
  };
}

/** a + b with NumPy broadcasting */
export const add = binaryFunction("add");
/** a − b with NumPy broadcasting */
export const sub = binaryFunction("sub");
/** a · b elementwise, with NumPy broadcasting */
export const mul = binaryFunction("mul");
/** a / b elementwise, with NumPy broadcasting */
export const div = binaryFunction("div");
/** aᵇ elementwise, with NumPy broadcasting */
export const pow = binaryFunction("pow");
/** Elementwise maximum; at ties the gradient is split evenly between a and b. */
export const maximum = binaryFunction("maximum");
/** Elementwise minimum; at ties the gradient is split evenly between a and b. */
export const minimum = binaryFunction("minimum");
/** 1 where a > b, else 0 (same dtype as the operands; not differentiable) */
export const greater = binaryFunction("greater");
/** 1 where a ≥ b, else 0 (same dtype as the operands; not differentiable) */
export const greaterEqual = binaryFunction("greaterEqual");
/** 1 where a < b, else 0 (same dtype as the operands; not differentiable) */
export const less = binaryFunction("less");
/** 1 where a ≤ b, else 0 (same dtype as the operands; not differentiable) */
export const lessEqual = binaryFunction("lessEqual");
/** 1 where a = b, else 0 (same dtype as the operands; not differentiable) */
export const equal = binaryFunction("equal");
