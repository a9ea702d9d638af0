import { GradientError, ShapeError, ValueError } from "../errors.js";
import {
  blockView,
  checkShape,
  normalizeAxes,
  normalizeAxis,
  reducedShape,
  shapeToString,
  shapesEqual,
} from "../tensor/shape.js";
import type { Tensor } from "../tensor/tensor.js";
import { applyRule } from "../graph/apply.js";
import { fixedPerInput } from "./describe.js";
import { backend, checkFloat, checkTensor, empty } from "./helpers.js";
import type { OpRule } from "../graph/rule.js";
import { div, equal, exp, mul, sub } from "./elementwise.js";
import { reshape } from "./shape.js";

type Axis = number | readonly number[] | null | undefined;

function reduceForward(kind: "sum" | "max" | "min") {
  return ([x]: readonly Tensor[], { axes, keepDims }: { axes: number[]; keepDims: boolean }): Tensor => {
    const out = empty(reducedShape(x.shape, axes, keepDims), x.dtype);
    backend().reduce(kind, x._data, x.shape, axes, out._data);
    return out;
  };
}

/** Reshapes a reduced gradient (or output) so that it broadcasts against the input: reduced axes become 1. */
function keepDimsView(t: Tensor, inputShape: readonly number[], axes: readonly number[]): Tensor {
  return reshape(t, reducedShape(inputShape, axes, true));
}

/** The permutation that moves `axes` to the end, keeping the other axes in order. */
function axesLast(ndim: number, axes: readonly number[]): number[] {
  const rest: number[] = [];
  for (let d = 0; d < ndim; d++) if (!axes.includes(d)) rest.push(d);
  return [...rest, ...axes];
}

function extremumBackward(
  upstream: Tensor,
  context: { inputs: readonly Tensor[]; output: Tensor; attrs: { axes: number[] } },
): Tensor[] {
  // The gradient goes to the entries equal to the extremum, split evenly among ties.
  const [x] = context.inputs;
  const { axes } = context.attrs;
  const mask = equal(x, keepDimsView(context.output, x.shape, axes));
  const count = sum(mask, axes, true);
  return [div(mul(keepDimsView(upstream, x.shape, axes), mask), count)];
}

function extremumTangent(
  dx: Tensor,
  context: { inputs: readonly Tensor[]; output: Tensor; attrs: { axes: number[]; keepDims: boolean } },
): Tensor {
  // The tangent of the extremum is the mean of the tangents of the entries equal to it (ties share evenly).
  const [x] = context.inputs;
  const { axes, keepDims } = context.attrs;
  const mask = equal(x, keepDimsView(context.output, x.shape, axes));
  return sum(div(mul(dx, mask), sum(mask, axes, true)), axes, keepDims);
}

// broadcastTo lives here beside sum: each is the other's adjoint (the backward of one is the other).
/** The attributes each op of this file records (what its forward and backward read). */
interface Attrs {
  /** Σ over `axes`; backward broadcasts the upstream gradient back over them. */
  sum: {
    /** The reduced axes, sorted, non-negative. */
    axes: number[];
    /** Whether the reduced axes stay in the output as size 1. */
    keepDims: boolean;
  };
  /** Maximum over `axes`; backward routes the gradient to the maxima (split at ties). */
  max: {
    /** The reduced axes, sorted, non-negative. */
    axes: number[];
    /** Whether the reduced axes stay in the output as size 1. */
    keepDims: boolean;
  };
  /** Minimum over `axes`; backward routes the gradient to the minima (split at ties). */
  min: {
    /** The reduced axes, sorted, non-negative. */
    axes: number[];
    /** Whether the reduced axes stay in the output as size 1. */
    keepDims: boolean;
  };
  /** log Σ exp over `axes`; backward multiplies the upstream gradient by softmax(x). */
  logSumExp: {
    /** The reduced axes, sorted, non-negative. */
    axes: number[];
    /** Whether the reduced axes stay in the output as size 1. */
    keepDims: boolean;
  };
  /** Broadcast to `shape`; backward sums the gradient back over the broadcast axes (the adjoint of sum). */
  broadcastTo: {
    /** The output's shape. */
    shape: number[];
  };
}

export const reduceRules: { [P in keyof Attrs]: OpRule<Attrs[P]> } = {
  broadcastTo: {
    forward: ([x], { shape }) => {
      const out = empty(shape, x.dtype);
      backend().broadcastTo(x._data, x.shape, out._data, shape);
      return out;
    },
    // Copies of an entry each pass their gradient back: the gradient is summed over the broadcast axes
    backward: (upstream, { inputs: [x] }) => [sumToShape(upstream, x.shape, "broadcastTo")],
    // forward: d broadcastTo(x) = broadcastTo(dx)
    jvp: ([dx], { attrs: { shape } }) => broadcastTo(dx!, shape),
    describe: { jacobian: fixedPerInput("copies: the gradient is summed over the broadcast axes") },
  },
  sum: {
    forward: reduceForward("sum"),
    // d Σx = Σ dx: every input entry receives the upstream gradient of its sum
    backward: (upstream, { inputs: [x], attrs: { axes } }) => [
      broadcastTo(keepDimsView(upstream, x.shape, axes), x.shape),
    ],
    jvp: ([dx], { attrs: { axes, keepDims } }) => sum(dx!, axes, keepDims),
    describe: { jacobian: () => ["1ᵀ: every summed entry receives the upstream gradient"] },
  },
  max: {
    forward: reduceForward("max"),
    // d max(x) = dx_k for the maximal entry k (ties share the gradient evenly, like PyTorch's amax)
    backward: (upstream, context) => extremumBackward(upstream, context),
    jvp: ([dx], context) => extremumTangent(dx!, context),
    describe: {
      jacobian: ([x]) => [`onehot(argmax ${x})ᵀ: routes the gradient to the largest entry (ties share it)`],
    },
  },
  min: {
    forward: reduceForward("min"),
    // d min(x) = dx_k for the minimal entry k (ties share the gradient evenly)
    backward: (upstream, context) => extremumBackward(upstream, context),
    jvp: ([dx], context) => extremumTangent(dx!, context),
    describe: {
      jacobian: ([x]) => [`onehot(argmin ${x})ᵀ: routes the gradient to the smallest entry (ties share it)`],
    },
  },
  logSumExp: {
    forward: ([x], { axes, keepDims }) => {
      const out = empty(reducedShape(x.shape, axes, keepDims), x.dtype);
      let data = x._data;
      let view = blockView(x.shape, axes);
      if (view === null) {
        // Move the reduced axes to the end so the kernel sees them as one block.
        const perm = axesLast(x.ndim, axes);
        data = empty(x.shape, x.dtype)._data;
        backend().transpose(x._data, x.shape, perm, data);
        const shape = perm.map((p) => x.shape[p]);
        view = blockView(
          shape,
          axes.map((_, i) => x.ndim - axes.length + i),
        )!;
      }
      backend().logSumExp(data, view, out._data);
      return out;
    },
    // d log Σ exp(x) = softmax(x) · dx
    backward: (upstream, { inputs: [x], output, attrs: { axes } }) => [
      mul(keepDimsView(upstream, x.shape, axes), exp(sub(x, keepDimsView(output, x.shape, axes)))),
    ],
    jvp: ([dx], { inputs: [x], output, attrs: { axes, keepDims } }) =>
      sum(mul(dx!, exp(sub(x, keepDimsView(output, x.shape, axes)))), axes, keepDims),
    describe: { jacobian: ([x]) => [`softmax(${x})ᵀ`] },
  },
};

/** Runs one of this file's primitives on `inputs`, recording it for backward (graph/apply.ts). */
function apply<P extends keyof Attrs>(op: P, inputs: Tensor[], attrs: Attrs[P]): Tensor {
  return applyRule(op, reduceRules[op] as OpRule<Attrs[P]>, inputs, attrs);
}

function resolveAxes(x: Tensor, axis: Axis, op: string): number[] {
  return normalizeAxes(axis ?? undefined, x.ndim, op);
}

/** Sum over `axis` (all axes when omitted; a number, a negative number or a list). */
export function sum(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  checkTensor(x, "sum");
  return apply("sum", [x], { axes: resolveAxes(x, axis, "sum"), keepDims });
}

/** Mean over `axis` (all axes when omitted). */
export function mean(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  checkTensor(x, "mean");
  checkFloat(x, "mean");
  const axes = resolveAxes(x, axis, "mean");
  let count = 1;
  for (const a of axes) count *= x.shape[a];
  if (count === 0) throw new ValueError("mean: cannot take the mean of an empty tensor");
  return div(sum(x, axes, keepDims), count);
}

/** Maximum over `axis` (all axes when omitted). The gradient is split evenly among tied maxima. */
export function max(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  checkTensor(x, "max");
  const axes = resolveAxes(x, axis, "max");
  for (const a of axes) if (x.shape[a] === 0) throw new ValueError("max: cannot reduce an empty axis");
  return apply("max", [x], { axes, keepDims });
}

/** Minimum over `axis` (all axes when omitted). The gradient is split evenly among tied minima. */
export function min(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  checkTensor(x, "min");
  const axes = resolveAxes(x, axis, "min");
  for (const a of axes) if (x.shape[a] === 0) throw new ValueError("min: cannot reduce an empty axis");
  return apply("min", [x], { axes, keepDims });
}

/** log Σ exp(x) over `axis`, computed stably (the maximum is subtracted first). */
export function logSumExp(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  checkTensor(x, "logSumExp");
  checkFloat(x, "logSumExp");
  return apply("logSumExp", [x], { axes: resolveAxes(x, axis, "logSumExp"), keepDims });
}

/** Index of the maximum along `axis` (over the flattened tensor when omitted), as an int32 tensor. */
export function argmax(x: Tensor, axis?: number, keepDims = false): Tensor {
  checkTensor(x, "argmax");
  const flat = axis === undefined;
  const source = flat ? reshape(x, [-1]) : x;
  const ax = flat ? 0 : normalizeAxis(axis, x.ndim, "argmax");
  const shape = source.shape;
  if (shape[ax] === 0) throw new ValueError("argmax: cannot take the argmax of an empty axis");
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < ax; d++) outer *= shape[d];
  for (let d = ax + 1; d < shape.length; d++) inner *= shape[d];
  const n = shape[ax];
  const out = empty(
    flat ? (keepDims ? x.shape.map(() => 1) : []) : reducedShape(shape, [ax], keepDims),
    "int32",
  );
  const data = source._data;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0;
      let bestValue = data[o * n * inner + i];
      for (let j = 1; j < n; j++) {
        const v = data[(o * n + j) * inner + i];
        if (v > bestValue) {
          bestValue = v;
          best = j;
        }
      }
      out._data[o * inner + i] = best;
    }
  }
  return out;
}

/** Repeats `x` along broadcast dimensions to fill `shape` (NumPy's broadcast_to, as a copy). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "broadcastTo");
  const target = checkShape(shape, "broadcastTo");
  const offset = target.length - x.ndim;
  let ok = offset >= 0;
  for (let i = 0; ok && i < x.ndim; i++) {
    const d = x.shape[i];
    if (d !== 1 && d !== target[i + offset]) ok = false;
  }
  if (!ok)
    throw new ShapeError(
      `broadcastTo: cannot broadcast ${shapeToString(x.shape)} to ${shapeToString(target)}`,
    );
  if (shapesEqual(target, x.shape)) return x;
  return apply("broadcastTo", [x], { shape: target });
}

/**
 * Sums `g` down to `shape`, undoing NumPy broadcasting: leading extra axes are summed away, and axes where
 * `shape` has size 1 are summed with keepDims. This is where the engine undoes broadcasting for every op.
 */
export function sumToShape(g: Tensor, shape: readonly number[], op = "sumToShape"): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  let ok = lead >= 0;
  for (let d = 0; ok && d < g.ndim; d++) {
    if (d < lead) axes.push(d);
    else {
      const want = shape[d - lead];
      const have = g.shape[d];
      if (want === 1 && have !== 1) axes.push(d);
      else if (want !== have) ok = false;
    }
  }
  if (!ok) {
    throw new GradientError(
      `${op}: a gradient of shape ${shapeToString(g.shape)} does not fit its input of shape ${shapeToString(shape)}`,
    );
  }
  return reshape(sum(g, axes, true), shape);
}
