/**
 * Functional transforms: `grad`, `valueAndGrad`, `vjp`, `jvp`, `jacobian` and `hessian`.
 *
 * Each takes a function of tensors and returns a function (or values) computed without touching any `.grad`:
 * reverse mode goes through `gradients()`, forward mode through the op table's jvp rules (autograd/forward.ts).
 * They nest: `grad(grad(f))`, `jacobian(grad(f))`, and a Hessian–vector product as `jvp` of `grad`.
 *
 * Arguments may be Tensors or plain numbers, nested arrays and typed arrays; anything that is not a Tensor is
 * converted with `tensor(value, { dtype: "float64" })` (a typed array keeps its own dtype). A transform never
 * changes the caller's tensors: it differentiates fresh views of the arguments (sharing their values), so
 * `.grad`, `requiresGrad` and the caller's graph are left as they were.
 *
 * Results are recorded (differentiable again) exactly when the computation involves tensors that require
 * grad from outside the transform: arguments that require grad, tensors `f` closes over, or the arguments of
 * an enclosing transform. Otherwise they are plain tensors with no graph attached.
 */
import { DTypeError, GraphError, ShapeError, ValueError } from "../errors.js";
import { gradNodeOf } from "../graph/node.js";
import { Tensor, type NestedArray } from "../tensor/tensor.js";
import { tensor, zerosLike } from "../tensor/creation.js";
import { isFloatDType, type TypedArray } from "../tensor/dtype.js";
import { shapeToString, shapesEqual } from "../tensor/shape.js";
import { apply } from "./record.js";
import { enableGrad, isGradEnabled } from "../graph/mode.js";
import { gradients, topologicalSort } from "./engine.js";
import { closeLevel, dropTangent, openLevel, setTangent, tangentOf } from "./forward.js";
import type { Node } from "../graph/node.js";
import { reshape, stack } from "../ops/index.js";

/** What a transform accepts as an argument: a Tensor, or values that `tensor()` converts (to float64). */
export type TensorLike = Tensor | NestedArray | TypedArray;

/** A function of tensors returning a tensor: what the transforms differentiate. */
export type TensorFunction = (...args: Tensor[]) => Tensor;

/** Options of `grad`, `valueAndGrad` and `vjp`: which arguments to differentiate. */
export interface ArgnumsOptions<N extends number | readonly number[] = number | readonly number[]> {
  /**
   * Which arguments to differentiate with respect to (default 0, the first). A number gives one result; a
   * list gives a list of results in the same order.
   */
  argnums?: N;
}

/** Options of `jacobian` and `hessian`: which arguments, and which mode of differentiation. */
export interface JacobianOptions<
  N extends number | readonly number[] = number | readonly number[],
> extends ArgnumsOptions<N> {
  /**
   * "rev" (default): one backward pass per output element; "fwd": one forward-mode pass per input element.
   * Both give the same Jacobian; pick the one that makes fewer passes.
   */
  mode?: "rev" | "fwd";
}

// ---------------------------------------------------------------------------------------------------------
// Arguments

function toTensor(value: TensorLike, op: string, position: number): Tensor {
  if (value instanceof Tensor) return value;
  if (value === undefined || value === null) {
    throw new ValueError(`${op}: argument ${position} is ${value}; expected a Tensor, a number or an array`);
  }
  if (ArrayBuffer.isView(value)) return tensor(value);
  return tensor(value, { dtype: "float64" });
}

function checkFunction(f: unknown, op: string): void {
  if (typeof f !== "function") {
    throw new ValueError(`${op}: expected a function of tensors, got ${f === null ? "null" : typeof f}`);
  }
}

function resolveArgnums(
  argnums: number | readonly number[] | undefined,
  count: number,
  op: string,
): { list: number[]; single: boolean } {
  const single = argnums === undefined || typeof argnums === "number";
  const list = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : argnums;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ValueError(`${op}: argnums must be a number or a non-empty list of numbers`);
  }
  const seen = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < 0 || a >= count) {
      throw new ValueError(
        `${op}: argnums ${JSON.stringify(argnums ?? 0)} is out of range for a function called with ` +
          `${count} argument${count === 1 ? "" : "s"}`,
      );
    }
    if (seen.has(a)) throw new ValueError(`${op}: argnums ${JSON.stringify(argnums)} repeats ${a}`);
    seen.add(a);
  }
  return { list: list.slice(), single };
}

/**
 * A fresh tensor with the values of `x` that gradients can be taken with respect to. It is an identity op
 * on `x` when `x` is part of a recorded graph (so enclosing transforms still see the dependence), and a new
 * leaf otherwise. It carries the tangents of `x` (forward mode), so a jvp of a grad sees through it.
 */
function differentiableView(x: Tensor, op: string, position: number, recording: boolean): Tensor {
  if (!isFloatDType(x.dtype)) {
    throw new DTypeError(
      `${op}: argument ${position} is ${x.dtype} ${shapeToString(x.shape)}; only float32 and float64 ` +
        "arguments can be differentiated",
    );
  }
  const view =
    recording && x.requiresGrad ? apply("reshape", [x], { shape: x.shape.slice() }) : noRecordView(x);
  view._requiresGrad = true;
  return view;
}

/** A tensor sharing the values and the forward-mode tangents of `x`, outside any recorded graph. */
function noRecordView(x: Tensor): Tensor {
  const view = new Tensor(x._data, x.shape, x.dtype);
  view._tangents = x._tangents;
  return view;
}

/**
 * True when the graph behind `out` reaches tensors that require grad other than `views`: then the
 * gradients must be recorded, because someone outside may differentiate them.
 */
function reachesOuterGraph(out: Tensor, views: readonly Tensor[]): boolean {
  const root = gradNodeOf(out);
  if (root === null) return false;
  const own = new Set<Node>();
  for (const v of views) {
    if (v._node !== null) return true; // an identity on a recorded tensor: the outer graph is right there
    const node = gradNodeOf(v);
    if (node) own.add(node);
  }
  for (const node of topologicalSort([root])) {
    if (node.leaf !== null && !own.has(node)) return true;
  }
  return false;
}

interface Prepared {
  args: Tensor[];
  views: Tensor[];
  recording: boolean;
}

function prepare(rawArgs: readonly TensorLike[], argnums: readonly number[], op: string): Prepared {
  const recording = isGradEnabled();
  const args = rawArgs.map((a, i) => toTensor(a, op, i));
  const views = argnums.map((i) => {
    const view = differentiableView(args[i]!, op, i, recording);
    args[i] = view;
    return view;
  });
  return { args, views, recording };
}

function callFunction(f: TensorFunction, args: readonly Tensor[], op: string): Tensor {
  const out = enableGrad(() => f(...args));
  if (!(out instanceof Tensor)) {
    throw new ValueError(
      `${op}: the function must return a Tensor, got ${out === null ? "null" : Array.isArray(out) ? "an array" : typeof out}`,
    );
  }
  return out;
}

function checkScalar(out: Tensor, op: string): void {
  if (out.size !== 1) {
    throw new GraphError(
      `${op}: the function must return a scalar (one-element) tensor, but it returned shape ` +
        `${shapeToString(out.shape)}; use jacobian or vjp for a function with several outputs`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reverse mode

function reverse(
  f: TensorFunction,
  rawArgs: readonly TensorLike[],
  argnums: readonly number[],
  op: string,
): { out: Tensor; grads: Tensor[]; createGraph: boolean } {
  const { args, views, recording } = prepare(rawArgs, argnums, op);
  const out = callFunction(f, args, op);
  checkScalar(out, op);
  const createGraph = recording && reachesOuterGraph(out, views);
  const grads = enableGrad(() => gradients([out], views, { createGraph }));
  return { out, grads: createGraph ? grads : distinct(grads), createGraph };
}

/**
 * The engine may hand one gradient tensor to several inputs (`+` passes its upstream gradient to both);
 * results given to the caller get their own storage, so that changing one does not change another.
 */
function distinct(grads: Tensor[]): Tensor[] {
  return grads.map((g, i) => {
    if (grads.indexOf(g) === i) return g;
    const copy = new Tensor(g._data.slice(), g.shape, g.dtype);
    copy._tangents = g._tangents; // forward-mode tangents are values too: they come along
    return copy;
  });
}

/**
 * The gradient of a scalar-valued `f` with respect to argument `argnums` (default 0): `grad(f)(x)` is
 * ∂f/∂x, shaped like `x`. With a list of argnums, returns the list of gradients. Nests: `grad(grad(f))`.
 */
export function grad(f: TensorFunction, options?: ArgnumsOptions<number>): (...args: TensorLike[]) => Tensor;
export function grad(
  f: TensorFunction,
  options: ArgnumsOptions<readonly number[]>,
): (...args: TensorLike[]) => Tensor[];
export function grad(
  f: TensorFunction,
  options?: ArgnumsOptions,
): (...args: TensorLike[]) => Tensor | Tensor[];
export function grad(
  f: TensorFunction,
  options: ArgnumsOptions = {},
): (...args: TensorLike[]) => Tensor | Tensor[] {
  checkFunction(f, "grad");
  return (...args: TensorLike[]) => {
    const { list, single } = resolveArgnums(options.argnums, args.length, "grad");
    const { grads } = reverse(f, args, list, "grad");
    return single ? grads[0]! : grads;
  };
}

/** Like {@link grad}, but returns `[value, gradient(s)]`: f's value and its gradient in one pass. */
export function valueAndGrad(
  f: TensorFunction,
  options?: ArgnumsOptions<number>,
): (...args: TensorLike[]) => [Tensor, Tensor];
export function valueAndGrad(
  f: TensorFunction,
  options: ArgnumsOptions<readonly number[]>,
): (...args: TensorLike[]) => [Tensor, Tensor[]];
export function valueAndGrad(
  f: TensorFunction,
  options?: ArgnumsOptions,
): (...args: TensorLike[]) => [Tensor, Tensor | Tensor[]];
export function valueAndGrad(
  f: TensorFunction,
  options: ArgnumsOptions = {},
): (...args: TensorLike[]) => [Tensor, Tensor | Tensor[]] {
  checkFunction(f, "valueAndGrad");
  return (...args: TensorLike[]) => {
    const { list, single } = resolveArgnums(options.argnums, args.length, "valueAndGrad");
    const { out, grads, createGraph } = reverse(f, args, list, "valueAndGrad");
    return [createGraph ? out : noRecordView(out), single ? grads[0]! : grads];
  };
}

/**
 * Evaluates `f` at `primals` and returns `[output, vjpFn]`; `vjpFn(cotangent)` returns one gradient per
 * primal, `cotangentᵀ · ∂output/∂primal` (the cotangent has the output's shape). `vjpFn` may be called
 * any number of times.
 */
export function vjp(
  f: TensorFunction,
  ...primals: TensorLike[]
): [Tensor, (cotangent: TensorLike) => Tensor[]] {
  checkFunction(f, "vjp");
  const { args, views, recording } = prepare(
    primals,
    primals.map((_, i) => i),
    "vjp",
  );
  const out = callFunction(f, args, "vjp");
  const createGraph = recording && reachesOuterGraph(out, views);
  const vjpFn = (cotangent: TensorLike): Tensor[] => {
    let seed =
      cotangent instanceof Tensor ? cotangent : tensor(cotangent as NestedArray, { dtype: out.dtype });
    if (!shapesEqual(seed.shape, out.shape)) {
      throw new ShapeError(
        `vjp: the cotangent has shape ${shapeToString(seed.shape)} but the output has shape ${shapeToString(out.shape)}`,
      );
    }
    if (seed.dtype !== out.dtype) {
      throw new DTypeError(`vjp: the cotangent is ${seed.dtype} but the output is ${out.dtype}`);
    }
    if (!createGraph && seed.requiresGrad) seed = seed.detach();
    const grads = enableGrad(() =>
      gradients([out], views, { seeds: [seed], retainGraph: true, createGraph }),
    );
    return createGraph ? grads : distinct(grads);
  };
  return [createGraph ? out : noRecordView(out), vjpFn];
}

// ---------------------------------------------------------------------------------------------------------
// Forward mode

/**
 * Forward mode: evaluates `f` at `primals` and pushes `tangents` (one per primal, each of its primal's
 * shape) through it. Returns `[output, tangentOut]` where `tangentOut = ∂output/∂primals · tangents`, the
 * directional derivative. A Hessian–vector product is `jvp(grad(f), [x], [v])[1]`.
 */
export function jvp(
  f: TensorFunction,
  primals: readonly TensorLike[],
  tangents: readonly TensorLike[],
): [Tensor, Tensor] {
  checkFunction(f, "jvp");
  if (!Array.isArray(primals) || !Array.isArray(tangents)) {
    throw new ValueError("jvp: primals and tangents must be arrays (one entry per argument of f)");
  }
  if (primals.length !== tangents.length) {
    throw new ValueError(`jvp: ${primals.length} primals but ${tangents.length} tangents`);
  }
  const args = primals.map((p, i) => toTensor(p, "jvp", i));
  const tangentTensors = args.map((p, i) => {
    if (!isFloatDType(p.dtype)) {
      throw new DTypeError(`jvp: primal ${i} is ${p.dtype}; only float primals have tangents`);
    }
    const raw = tangents[i]!;
    const t = raw instanceof Tensor ? raw : tensor(raw as NestedArray, { dtype: p.dtype, shape: p.shape });
    if (!shapesEqual(t.shape, p.shape)) {
      throw new ShapeError(
        `jvp: tangent ${i} has shape ${shapeToString(t.shape)} but its primal has shape ${shapeToString(p.shape)}`,
      );
    }
    if (t.dtype !== p.dtype)
      throw new DTypeError(`jvp: tangent ${i} is ${t.dtype} but its primal is ${p.dtype}`);
    return t;
  });
  return forwardPass(f, args, tangentTensors, "jvp");
}

/** Runs `f` under a new forward-mode level with `tangents` (null: none) on fresh views of `args`. */
function forwardPass(
  f: TensorFunction,
  args: readonly Tensor[],
  tangents: readonly (Tensor | null)[],
  op: string,
): [Tensor, Tensor] {
  const recording = isGradEnabled();
  // The views are made before the level opens, so they carry only the enclosing levels' tangents.
  const views = args.map((x, i) =>
    tangents[i] === null
      ? x
      : recording && x.requiresGrad
        ? apply("reshape", [x], { shape: x.shape.slice() })
        : noRecordView(x),
  );
  const level = openLevel();
  try {
    views.forEach((v, i) => {
      const t = tangents[i];
      if (t) setTangent(v, level, t);
    });
    const out = callFunction(f, views, op);
    const tangentOut = tangentOf(out, level) ?? zerosLike(out);
    dropTangent(out, level);
    return [out, tangentOut];
  } finally {
    closeLevel(level);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Jacobians and Hessians

function unitVector(index: number, like: Tensor): Tensor {
  const e = zerosLike(like);
  e._data[index] = 1;
  return e;
}

/** Stacks per-element results (each of shape `itemShape`) into `leadShape + itemShape`, or zeros if none. */
function assemble(
  items: Tensor[],
  leadShape: readonly number[],
  itemShape: readonly number[],
  like: Tensor,
  axis: 0 | -1,
): Tensor {
  const shape = axis === 0 ? [...leadShape, ...itemShape] : [...itemShape, ...leadShape];
  if (items.length === 0) return tensor(new Array<number>(0), { dtype: like.dtype, shape });
  return reshape(stack(items, axis), shape);
}

function jacobianReverse(
  f: TensorFunction,
  rawArgs: readonly TensorLike[],
  argnums: readonly number[],
): Tensor[] {
  const { args, views, recording } = prepare(rawArgs, argnums, "jacobian");
  const out = callFunction(f, args, "jacobian");
  const createGraph = recording && reachesOuterGraph(out, views);
  // Row k of the Jacobian is the vjp with the k-th unit cotangent.
  const rows: Tensor[][] = views.map(() => []);
  enableGrad(() => {
    for (let k = 0; k < out.size; k++) {
      const grads = gradients([out], views, { seeds: [unitVector(k, out)], retainGraph: true, createGraph });
      grads.forEach((g, a) => rows[a]!.push(g));
    }
  });
  // [...outShape, ...inShape]: the rows stacked along a new leading axis, which is then unflattened.
  return views.map((v, a) =>
    assemble(rows[a]!, [out.size], v.shape, v, 0).reshape([...out.shape, ...v.shape]),
  );
}

function jacobianForward(
  f: TensorFunction,
  rawArgs: readonly TensorLike[],
  argnums: readonly number[],
): Tensor[] {
  const args = rawArgs.map((a, i) => toTensor(a, "jacobian", i));
  return argnums.map((a) => {
    const x = args[a]!;
    if (!isFloatDType(x.dtype)) {
      throw new DTypeError(
        `jacobian: argument ${a} is ${x.dtype}; only float arguments can be differentiated`,
      );
    }
    // Column j of the Jacobian is the jvp with the j-th unit tangent.
    const columns: Tensor[] = [];
    let outShape: readonly number[] | null = null;
    for (let j = 0; j < x.size; j++) {
      const tangents = args.map((_, i) => (i === a ? unitVector(j, x) : null));
      const [out, column] = forwardPass(f, args, tangents, "jacobian");
      outShape = out.shape;
      columns.push(column);
    }
    if (outShape === null) {
      // An empty input: f still runs once, to learn the output's shape.
      outShape = callFunction(f, args, "jacobian").shape;
    }
    return assemble(columns, [x.size], outShape, x, -1).reshape([...outShape, ...x.shape]);
  });
}

/**
 * The full Jacobian of `f` with respect to argument `argnums` (default 0), shaped
 * `[...outputShape, ...inputShape]`: entry (i, j) is ∂f_i/∂x_j. `mode` chooses reverse ("rev", default) or
 * forward ("fwd") mode; both agree. With a list of argnums, returns one Jacobian per argument.
 */
export function jacobian(
  f: TensorFunction,
  options?: JacobianOptions<number>,
): (...args: TensorLike[]) => Tensor;
export function jacobian(
  f: TensorFunction,
  options: JacobianOptions<readonly number[]>,
): (...args: TensorLike[]) => Tensor[];
export function jacobian(
  f: TensorFunction,
  options?: JacobianOptions,
): (...args: TensorLike[]) => Tensor | Tensor[];
export function jacobian(
  f: TensorFunction,
  options: JacobianOptions = {},
): (...args: TensorLike[]) => Tensor | Tensor[] {
  checkFunction(f, "jacobian");
  const mode = options.mode ?? "rev";
  if (mode !== "rev" && mode !== "fwd") {
    throw new ValueError(`jacobian: mode must be "rev" or "fwd", got ${JSON.stringify(mode)}`);
  }
  return (...args: TensorLike[]) => {
    const { list, single } = resolveArgnums(options.argnums, args.length, "jacobian");
    const result = mode === "rev" ? jacobianReverse(f, args, list) : jacobianForward(f, args, list);
    return single ? result[0]! : result;
  };
}

/**
 * The Hessian of a scalar-valued `f` of one tensor, shaped `[...inputShape, ...inputShape]`: entry (i, j)
 * is ∂²f/∂x_i∂x_j. Computed as the forward-mode Jacobian of the gradient (forward over reverse).
 */
export function hessian(f: (x: Tensor) => Tensor): (x: TensorLike) => Tensor {
  checkFunction(f, "hessian");
  if (f.length > 1) {
    throw new ValueError(
      `hessian: f declares ${f.length} parameters; the Hessian is defined here for a scalar function of ` +
        "one tensor (use jacobian(grad(f, { argnums }), { argnums }) for mixed second derivatives)",
    );
  }
  const gradient = grad(f, { argnums: 0 });
  const secondDerivative = jacobian(gradient, { mode: "fwd" });
  return (...args: TensorLike[]) => {
    if (args.length !== 1) {
      throw new ValueError(
        `hessian: called with ${args.length} arguments; it takes exactly one tensor (a function of several ` +
          "tensors needs jacobian(grad(f, { argnums }), { argnums }))",
      );
    }
    return secondDerivative(args[0]!);
  };
}
