import { DTypeError, ShapeError, ValueError } from "../errors.js";
import { blockView, normalizeAxis, shapeToString, shapesEqual, type BlockView } from "../tensor/shape.js";
import { Tensor, type NestedArray } from "../tensor/tensor.js";
import { tensor } from "../tensor/creation.js";
import { applyRule } from "../graph/apply.js";
import { backend, checkFloat, checkTensor, empty } from "./helpers.js";
import type { OpRule } from "../graph/rule.js";
import { abs, exp, log, mul, neg, relu, sigmoid, square, sub, add } from "./elementwise.js";
import { mean, sum } from "./reduce.js";
import { reshape } from "./shape.js";

/** [outer, axis, inner] sizes of `shape` around `axis`. */
function view(shape: readonly number[], axis: number): BlockView {
  return blockView(shape, [axis])!;
}

/** Per-row coefficient of the cross-entropy gradient: weight of the target over the mean's denominator. */
function crossEntropyCoefficients(
  attrs: Attrs["crossEntropy"],
  dtype: Tensor["dtype"],
): { coef: Tensor; total: number } {
  const { targets, weight, ignoreIndex, reduction } = attrs;
  const coef = empty([targets.length, 1], dtype);
  let total = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t === ignoreIndex) continue;
    const w = weight ? weight[t] : 1;
    coef._data[i] = w;
    total += w;
  }
  if (reduction === "mean" && total > 0) for (let i = 0; i < targets.length; i++) coef._data[i] /= total;
  return { coef, total };
}

function oneHot(targets: Int32Array, classes: number, ignoreIndex: number, dtype: Tensor["dtype"]): Tensor {
  const out = empty([targets.length, classes], dtype);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t !== ignoreIndex) out._data[i * classes + t] = 1;
  }
  return out;
}

/** softplus(z) = log(1 + eᶻ), written stably as relu(z) + log(1 + e^−|z|). */
function softplus(z: Tensor): Tensor {
  return add(relu(z), log(add(exp(neg(abs(z))), 1)));
}

/** Loss reductions. */
export type Reduction = "mean" | "sum" | "none";

/** The attributes each op of this file records (what its forward and backward read). */
interface Attrs {
  /** softmax along an axis; backward: y ∘ (upstream − Σ(upstream ∘ y)), i.e. (diag(y) − yyᵀ) upstream. */
  softmax: {
    /** The axis normalised over (non-negative). */
    axis: number;
  };
  /** log softmax along an axis; backward: upstream − softmax(x) Σ upstream. */
  logSoftmax: {
    /** The axis normalised over (non-negative). */
    axis: number;
  };
  /** Cross-entropy of logits [n, c] against class indices; backward: w (softmax(x) − onehot(t)) upstream. */
  crossEntropy: {
    /** The target class of each row. */
    targets: Int32Array;
    /** A weight per class, or null for 1 each. */
    weight: Float64Array | null;
    /** Rows with this target contribute nothing. */
    ignoreIndex: number;
    /** How the per-row losses are combined. */
    reduction: Reduction;
  };
  /** Binary cross-entropy of logits s against targets t; backward: (σ(s) − t) upstream when `posWeight` is 1. */
  binaryCrossEntropyWithLogits: {
    /** How the per-element losses are combined. */
    reduction: Reduction;
    /** The weight of the positive term (1 for the plain loss). */
    posWeight: number;
  };
}

export const nnRules: { [P in keyof Attrs]: OpRule<Attrs[P]> } = {
  softmax: {
    forward: ([x], { axis }) => {
      const out = empty(x.shape, x.dtype);
      backend().softmax(x._data, view(x.shape, axis), out._data, false);
      return out;
    },
    // y = softmax(x): dx = y ∘ (dy − Σ(dy ∘ y)), i.e. (diag(y) − yyᵀ) dy
    backward: (upstream, { output, attrs: { axis } }) => [
      mul(output, sub(upstream, sum(mul(upstream, output), axis, true))),
    ],
    // forward: dy = y ∘ (dx − Σ(y ∘ dx)) (the Jacobian diag(y) − yyᵀ is symmetric)
    jvp: ([dx], { output, attrs: { axis } }) => mul(output, sub(dx!, sum(mul(dx!, output), axis, true))),
    describe: { jacobian: ([x]) => [`diag(p) − ppᵀ with p = softmax(${x})`] },
  },
  logSoftmax: {
    forward: ([x], { axis }) => {
      const out = empty(x.shape, x.dtype);
      backend().softmax(x._data, view(x.shape, axis), out._data, true);
      return out;
    },
    // y = log softmax(x): dx = dy − softmax(x) Σ dy
    backward: (upstream, { output, attrs: { axis } }) => [
      sub(upstream, mul(exp(output), sum(upstream, axis, true))),
    ],
    // forward: dy = dx − Σ(softmax(x) ∘ dx)
    jvp: ([dx], { output, attrs: { axis } }) => sub(dx!, sum(mul(exp(output), dx!), axis, true)),
    describe: { jacobian: ([x]) => [`I − 1pᵀ with p = softmax(${x})`] },
  },
  crossEntropy: {
    forward: ([logits], attrs) => {
      const [n, c] = logits.shape as [number, number];
      const logp = new Float64Array(n * c);
      backend().softmax(logits._data, { outer: n, axis: c, inner: 1 }, logp, true);
      const { weight, targets, ignoreIndex, reduction } = attrs;
      const losses = new Float64Array(n);
      let total = 0;
      let denominator = 0;
      for (let i = 0; i < n; i++) {
        const t = targets[i];
        if (t === ignoreIndex) continue;
        const w = weight ? weight[t] : 1;
        losses[i] = -w * logp[i * c + t];
        total += losses[i];
        denominator += w;
      }
      if (reduction === "none") return tensor(losses, { dtype: logits.dtype });
      const value = reduction === "sum" ? total : denominator > 0 ? total / denominator : NaN;
      return tensor(value, { dtype: logits.dtype });
    },
    // L_i = w_tᵢ (log Σ exp(xᵢ) − x_{i,tᵢ}): dxᵢ = w_tᵢ (softmax(xᵢ) − onehot(tᵢ)) dLᵢ (÷ Σw for the mean)
    backward: (upstream, { inputs: [logits], attrs }) => {
      const { coef } = crossEntropyCoefficients(attrs, logits.dtype);
      const [, c] = logits.shape as [number, number];
      const target = oneHot(attrs.targets, c, attrs.ignoreIndex, logits.dtype);
      const perRow = attrs.reduction === "none" ? reshape(upstream, [upstream.size, 1]) : upstream;
      return [mul(sub(softmaxOf(logits), target), mul(perRow, coef))];
    },
    // forward: dLᵢ = w_tᵢ Σⱼ (softmax(xᵢ) − onehot(tᵢ))ⱼ dxᵢⱼ (÷ Σw for the mean; summed unless "none")
    jvp: ([dx], { inputs: [logits], attrs }) => {
      const { coef } = crossEntropyCoefficients(attrs, logits.dtype);
      const [, c] = logits.shape as [number, number];
      const target = oneHot(attrs.targets, c, attrs.ignoreIndex, logits.dtype);
      const perRow = mul(sum(mul(sub(softmaxOf(logits), target), dx!), 1, true), coef);
      return attrs.reduction === "none" ? reshape(perRow, [perRow.size]) : sum(perRow);
    },
    describe: {
      jacobian: ([x], { reduction }) => [
        `w ∘ (softmax(${x}) − onehot(targets))` + (reduction === "mean" ? " / Σw" : ""),
      ],
    },
  },
  binaryCrossEntropyWithLogits: {
    forward: ([x, t], { reduction, posWeight }) => {
      const n = x.size;
      const losses = new Float64Array(n);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const z = x._data[i];
        const y = t._data[i];
        // softplus(±z) computed without overflow
        const spNeg = Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
        const spPos = Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
        losses[i] = posWeight * y * spNeg + (1 - y) * spPos;
        total += losses[i];
      }
      if (reduction === "none") return tensor(losses, { dtype: x.dtype, shape: x.shape });
      return tensor(reduction === "sum" ? total : total / Math.max(1, n), { dtype: x.dtype });
    },
    // L = p·t·softplus(−x) + (1 − t)·softplus(x): dx = ((1 − t)σ(x) − p·t·(1 − σ(x))) dL,
    // dt = (p·softplus(−x) − softplus(x)) dL; with p = 1, dx = σ(x) − t
    backward: (upstream, { inputs: [x, t], attrs: { reduction, posWeight }, needsGrad }) => {
      const scale = reduction === "mean" ? mul(upstream, 1 / Math.max(1, x.size)) : upstream;
      const s = sigmoid(x);
      const dx = needsGrad[0] ? mul(scale, sub(mul(sub(1, t), s), mul(mul(t, posWeight), sub(1, s)))) : null;
      const dt = needsGrad[1] ? mul(scale, sub(mul(softplus(neg(x)), posWeight), softplus(x))) : null;
      return [dx, dt];
    },
    // forward: dLᵢ = ((1 − t)σ(x) − p·t·(1 − σ(x))) dx + (p·softplus(−x) − softplus(x)) dt, then reduced
    jvp: ([dx, dt], { inputs: [x, t], attrs: { reduction, posWeight } }) => {
      const s = sigmoid(x);
      const fromX = dx && mul(dx, sub(mul(sub(1, t), s), mul(mul(t, posWeight), sub(1, s))));
      const fromT = dt && mul(dt, sub(mul(softplus(neg(x)), posWeight), softplus(x)));
      const perElement = fromX && fromT ? add(fromX, fromT) : (fromX ?? fromT)!;
      if (reduction === "none") return perElement;
      const total = sum(perElement);
      return reduction === "mean" ? mul(total, 1 / Math.max(1, x.size)) : total;
    },
    describe: {
      jacobian: ([x, t], { reduction, posWeight }) => {
        // Elementwise losses have a diagonal Jacobian; a reduced loss has one row, the same values transposed.
        const wrap = (text: string) =>
          reduction === "none" ? `diag(${text})` : `(${text})ᵀ${reduction === "mean" ? " / N" : ""}`;
        const p = posWeight === 1 ? "" : `${posWeight}·`;
        return [
          wrap(posWeight === 1 ? `σ(${x}) − ${t}` : `(1 − ${t}) ∘ σ(${x}) − ${p}${t} ∘ (1 − σ(${x}))`),
          wrap(`${p}softplus(−${x}) − softplus(${x})`),
        ];
      },
    },
  },
};

/** Runs one of this file's primitives on `inputs`, recording it for backward (graph/apply.ts). */
function apply<P extends keyof Attrs>(op: P, inputs: Tensor[], attrs: Attrs[P]): Tensor {
  return applyRule(op, nnRules[op] as OpRule<Attrs[P]>, inputs, attrs);
}

function softmaxOf(x: Tensor): Tensor {
  return apply("softmax", [x], { axis: x.ndim - 1 });
}

/** softmax along `axis` (default: the last), computed stably. Its Jacobian is diag(p) − ppᵀ. */
export function softmax(x: Tensor, axis = -1): Tensor {
  checkTensor(x, "softmax");
  checkFloat(x, "softmax");
  if (x.ndim === 0) throw new ShapeError("softmax: needs at least one dimension");
  return apply("softmax", [x], { axis: normalizeAxis(axis, x.ndim, "softmax") });
}

/** log softmax along `axis` (default: the last), computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkTensor(x, "logSoftmax");
  checkFloat(x, "logSoftmax");
  if (x.ndim === 0) throw new ShapeError("logSoftmax: needs at least one dimension");
  return apply("logSoftmax", [x], { axis: normalizeAxis(axis, x.ndim, "logSoftmax") });
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** A weight per class (length C): each row's loss is scaled by its target's weight. */
  weight?: Tensor | readonly number[] | Float64Array;
  /** Rows whose target equals this index contribute nothing (default −100, as in PyTorch). */
  ignoreIndex?: number;
  /** "mean" (default; weighted by the targets' weights), "sum" or "none" (one loss per row). */
  reduction?: Reduction;
}

function checkReduction(reduction: unknown, op: string): Reduction {
  if (reduction !== "mean" && reduction !== "sum" && reduction !== "none") {
    throw new ValueError(
      `${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`,
    );
  }
  return reduction;
}

/**
 * Softmax cross-entropy between `logits` [N, C] and integer class `targets` [N] (an int32 tensor or an
 * array), fused into one stable primitive whose gradient is softmax(logits) − onehot(targets).
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor | readonly number[] | Int32Array,
  options: CrossEntropyOptions = {},
): Tensor {
  checkTensor(logits, "crossEntropy", "logits");
  checkFloat(logits, "crossEntropy");
  if (logits.ndim !== 2)
    throw new ShapeError(`crossEntropy: logits must have shape [N, C], got ${shapeToString(logits.shape)}`);
  const [n, c] = logits.shape as [number, number];
  let data: Int32Array;
  if (targets instanceof Tensor) {
    if (targets.dtype !== "int32") {
      throw new DTypeError(
        `crossEntropy: targets must be an int32 tensor of class indices, got ${targets.dtype}`,
      );
    }
    if (targets.ndim !== 1)
      throw new ShapeError(`crossEntropy: targets must have shape [N], got ${shapeToString(targets.shape)}`);
    data = targets.data as Int32Array;
  } else if (targets instanceof Int32Array) data = targets;
  else if (Array.isArray(targets)) {
    if (!targets.every((t) => Number.isInteger(t)))
      throw new DTypeError("crossEntropy: targets must be integers");
    data = Int32Array.from(targets);
  } else throw new ValueError("crossEntropy: targets must be an int32 tensor or an array of integers");
  if (data.length !== n) {
    throw new ShapeError(
      `crossEntropy: ${n} rows of logits ${shapeToString(logits.shape)} but ${data.length} targets`,
    );
  }
  const ignoreIndex = options.ignoreIndex ?? -100;
  for (let i = 0; i < n; i++) {
    const t = data[i];
    if (t !== ignoreIndex && (t < 0 || t >= c)) {
      throw new ValueError(`crossEntropy: target ${t} at row ${i} is out of range for ${c} classes`);
    }
  }
  let weight: Float64Array | null = null;
  if (options.weight !== undefined) {
    const w = options.weight instanceof Tensor ? options.weight.data : options.weight;
    if (w.length !== c) throw new ShapeError(`crossEntropy: ${w.length} class weights for ${c} classes`);
    weight = Float64Array.from(w as ArrayLike<number>);
  }
  const reduction = checkReduction(options.reduction ?? "mean", "crossEntropy");
  return apply("crossEntropy", [logits], { targets: data, weight, ignoreIndex, reduction });
}

/** Options of {@link binaryCrossEntropyWithLogits}. */
export interface BinaryCrossEntropyOptions {
  /** "mean" (default), "sum" or "none" (one loss per element). */
  reduction?: Reduction;
  /** Weight of the positive examples (PyTorch's pos_weight), default 1. */
  posWeight?: number;
}

function asTensorLike(value: Tensor | NestedArray, like: Tensor, op: string): Tensor {
  if (value instanceof Tensor) {
    if (value.dtype !== like.dtype)
      throw new DTypeError(`${op}: cannot mix ${like.dtype} and ${value.dtype}`);
    return value;
  }
  return tensor(value, { dtype: like.dtype });
}

/**
 * Binary cross-entropy of σ(logits) against targets in [0, 1], computed from the logits without overflow:
 * the loss of the lecture's J = σ(s) classifier. Gradient: σ(logits) − targets.
 */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  targets: Tensor | NestedArray,
  options: BinaryCrossEntropyOptions = {},
): Tensor {
  checkTensor(logits, "binaryCrossEntropyWithLogits", "logits");
  checkFloat(logits, "binaryCrossEntropyWithLogits");
  const t = asTensorLike(targets, logits, "binaryCrossEntropyWithLogits");
  if (!shapesEqual(t.shape, logits.shape)) {
    throw new ShapeError(
      `binaryCrossEntropyWithLogits: logits ${shapeToString(logits.shape)} and targets ${shapeToString(t.shape)} differ in shape`,
    );
  }
  const posWeight = options.posWeight ?? 1;
  if (!Number.isFinite(posWeight) || posWeight < 0)
    throw new ValueError(`binaryCrossEntropyWithLogits: posWeight must be ≥ 0`);
  const reduction = checkReduction(options.reduction ?? "mean", "binaryCrossEntropyWithLogits");
  return apply("binaryCrossEntropyWithLogits", [logits, t], { reduction, posWeight });
}

/** Mean squared error, mean((a − b)²) (or "sum" / "none"). */
export function mseLoss(a: Tensor, b: Tensor | NestedArray, options: { reduction?: Reduction } = {}): Tensor {
  checkTensor(a, "mseLoss");
  checkFloat(a, "mseLoss");
  const other = asTensorLike(b, a, "mseLoss");
  if (!shapesEqual(a.shape, other.shape)) {
    throw new ShapeError(
      `mseLoss: shapes ${shapeToString(a.shape)} and ${shapeToString(other.shape)} differ`,
    );
  }
  const reduction = checkReduction(options.reduction ?? "mean", "mseLoss");
  const squared = square(sub(a, other));
  return reduction === "none" ? squared : reduction === "sum" ? sum(squared) : mean(squared);
}
