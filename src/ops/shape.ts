import { DTypeError, ShapeError, ValueError } from "../errors.js";
import {
  checkShape,
  normalizeAxes,
  normalizeAxis,
  shapeToString,
  shapesEqual,
  sizeOf,
  blockView,
  type BlockView,
} from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { RowSparse } from "../tensor/sparse.js";
import { applyRule } from "../graph/apply.js";
import { fixedPerInput } from "./describe.js";
import { backend, checkIndexRange, checkTensor, empty, toIndices, unfilled } from "./helpers.js";
import type { OpRule } from "../graph/rule.js";

/** [outer, axis, inner] sizes of `shape` around `axis`. */
function axisView(shape: readonly number[], axis: number): BlockView {
  return blockView(shape, [axis])!;
}

function inversePermutation(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  for (let i = 0; i < perm.length; i++) inverse[perm[i]] = i;
  return inverse;
}

/** The attributes each op of this file records (what its forward and backward read). */
interface Attrs {
  /** The same values in another shape (shared storage); backward reshapes the gradient back. */
  reshape: {
    /** The output's shape. */
    shape: number[];
  };
  /** Axes permuted; backward applies the inverse permutation. */
  transpose: {
    /** Output axis i is input axis `perm[i]`. */
    perm: number[];
  };
  /** A block cut out of the input; backward pads the gradient back with zeros (`pad`). */
  slice: {
    /** The block's first index on each axis. */
    begin: number[];
    /** The block's extent on each axis. */
    size: number[];
  };
  /** The input placed in a zero tensor; backward slices the gradient out (`slice`). */
  pad: {
    /** Where the input's first element goes, per axis. */
    begin: number[];
    /** The output's shape. */
    shape: number[];
  };
  /** Inputs joined along an axis; backward slices each input's part of the gradient out. */
  concat: {
    /** The axis joined along. */
    axis: number;
  };
  /** Entries picked by index (an embedding lookup); backward scatter-adds the gradient into their rows. */
  gather: {
    /** The axis indexed. */
    axis: number;
    /** The picked indices, flattened. */
    indices: Int32Array;
    /** Whether backward returns a row-sparse gradient. */
    sparse: boolean;
  };
  /** The input's rows added into a zero tensor at `indices`; backward gathers the gradient's rows. */
  scatterAdd: {
    /** The axis scattered along. */
    axis: number;
    /** The destination index of each slice of the input along `axis`. */
    indices: Int32Array;
    /** The output's shape. */
    shape: number[];
  };
}

export const shapeRules: { [P in keyof Attrs]: OpRule<Attrs[P]> } = {
  reshape: {
    // A reshape shares the input's storage: row-major order does not change.
    forward: ([x], { shape }) => new Tensor(x._data, shape, x.dtype),
    // d reshape(x) = reshape⁻¹(dx)
    backward: (upstream, { inputs: [x] }) => [reshape(upstream, x.shape)],
    // forward: d reshape(x) = reshape(dx)
    jvp: ([dx], { attrs: { shape } }) => reshape(dx!, shape),
    describe: { jacobian: fixedPerInput("I (the values in a new shape)") },
  },
  transpose: {
    forward: ([x], { perm }) => {
      const out = empty(
        perm.map((p) => x.shape[p]),
        x.dtype,
      );
      backend().transpose(x._data, x.shape, perm, out._data);
      return out;
    },
    // d transpose(x, perm) = transpose(dx, perm⁻¹)
    backward: (upstream, { attrs: { perm } }) => [transpose(upstream, inversePermutation(perm))],
    // forward: d transpose(x, perm) = transpose(dx, perm)
    jvp: ([dx], { attrs: { perm } }) => transpose(dx!, perm),
    describe: {
      label: ({ grouped: [x] }) => `${x}ᵀ`,
      jacobian: fixedPerInput("a permutation: the gradient is transposed back"),
    },
  },
  slice: {
    forward: ([x], { begin, size }) => {
      const out = unfilled(size, x.dtype);
      backend().slice(x._data, x.shape, begin, size, out._data);
      return out;
    },
    // The gradient of a slice is zero outside the slice
    backward: (upstream, { inputs: [x], attrs: { begin } }) => [pad(upstream, begin, x.shape)],
    // forward: d slice(x) = slice(dx)
    jvp: ([dx], { attrs: { begin, size } }) => slice(dx!, begin, size),
    describe: { jacobian: fixedPerInput("a selection: zero outside the slice") },
  },
  pad: {
    forward: ([x], { begin, shape }) => {
      const out = empty(shape, x.dtype);
      backend().sliceAdd(x._data, x.shape, out._data, shape, begin);
      return out;
    },
    // pad is the adjoint of slice
    backward: (upstream, { inputs: [x], attrs: { begin } }) => [slice(upstream, begin, x.shape)],
    // forward: d pad(x) = pad(dx)
    jvp: ([dx], { attrs: { begin, shape } }) => pad(dx!, begin, shape),
    describe: { jacobian: fixedPerInput("an embedding into zeros: the gradient is sliced back") },
  },
  concat: {
    forward: (inputs, { axis }) => {
      const first = inputs[0];
      const shape = first.shape.slice();
      shape[axis] = inputs.reduce((total, t) => total + t.shape[axis], 0);
      const out = unfilled(shape, first.dtype);
      const { outer } = axisView(shape, axis);
      backend().concat(
        inputs.map((t) => t._data),
        outer,
        inputs.map((t) => (outer === 0 ? 0 : t.size / outer)),
        out._data,
      );
      return out;
    },
    // Each input receives its own block of the upstream gradient
    backward: (upstream, { inputs, attrs: { axis }, needsGrad }) => {
      let offset = 0;
      return inputs.map((t, i) => {
        const begin = upstream.shape.map((_, d) => (d === axis ? offset : 0));
        offset += t.shape[axis];
        return needsGrad[i] ? slice(upstream, begin, t.shape) : null;
      });
    },
    // forward: d concat(x₁, …, xₙ) = concat(dx₁, …, dxₙ), a missing tangent being a block of zeros
    jvp: (tangents, { inputs, attrs: { axis } }) =>
      apply(
        "concat",
        inputs.map((t, i) => tangents[i] ?? empty(t.shape, t.dtype)),
        { axis },
      ),
    describe: { jacobian: (symbols) => symbols.map(() => "a selection of this input's block") },
  },
  gather: {
    forward: ([x], { axis, indices }) => {
      const view = axisView(x.shape, axis);
      const shape = x.shape.slice();
      shape[axis] = indices.length;
      const out = unfilled(shape, x.dtype);
      backend().gather(x._data, view, indices, out._data);
      return out;
    },
    // Rows picked several times accumulate gradient; an embedding lookup returns it row-sparse
    backward: (upstream, { inputs: [x], attrs: { axis, indices, sparse }, createGraph }) => {
      if (sparse && axis === 0 && !createGraph) return [new RowSparse(x.shape, indices, upstream)];
      return [scatterAdd(upstream, indices, axis, x.shape)];
    },
    // forward: d gather(x) = gather(dx)
    jvp: ([dx], { attrs: { axis, indices } }) => gatherRows(dx!, indices, axis, false),
    describe: {
      jacobian: fixedPerInput("a selection of the gathered entries (repeated indices accumulate)"),
    },
  },
  scatterAdd: {
    forward: ([values], { axis, indices, shape }) => {
      const out = empty(shape, values.dtype);
      backend().scatterAdd(values._data, axisView(shape, axis), indices, out._data);
      return out;
    },
    // scatterAdd is the adjoint of gather
    backward: (upstream, { attrs: { axis, indices } }) => [gatherRows(upstream, indices, axis, false)],
    // forward: d scatterAdd(v) = scatterAdd(dv)
    jvp: ([dv], { attrs: { axis, indices, shape } }) => apply("scatterAdd", [dv!], { axis, indices, shape }),
    describe: {
      jacobian: fixedPerInput("the transpose of a selection: the gradient is gathered back"),
    },
  },
};

/** Runs one of this file's primitives on `inputs`, recording it for backward (graph/apply.ts). */
function apply<P extends keyof Attrs>(op: P, inputs: Tensor[], attrs: Attrs[P]): Tensor {
  return applyRule(op, shapeRules[op] as OpRule<Attrs[P]>, inputs, attrs);
}

// ---------------------------------------------------------------------------------------------------------
// Public functions

/** The same values in a new shape (row-major order kept); one dimension may be −1. Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "reshape");
  if (!Array.isArray(shape)) throw new ShapeError("reshape: the shape must be an array");
  let unknown = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === -1) {
      if (unknown >= 0)
        throw new ShapeError(`reshape: only one dimension may be -1, got ${shapeToString(shape)}`);
      unknown = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`reshape: invalid dimension ${d} in ${shapeToString(shape)}`);
    } else known *= d;
  }
  const target = shape.slice();
  if (unknown >= 0) {
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(
        `reshape: cannot reshape ${shapeToString(x.shape)} (${x.size} values) into ${shapeToString(shape)}`,
      );
    }
    target[unknown] = x.size / known;
  } else if (known !== x.size) {
    throw new ShapeError(
      `reshape: cannot reshape ${shapeToString(x.shape)} (${x.size} values) into ${shapeToString(shape)} (${known} values)`,
    );
  }
  if (shapesEqual(target, x.shape)) return x;
  return apply("reshape", [x], { shape: target });
}

/** Removes size-1 dimensions (all of them, or those in `axis`). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  checkTensor(x, "squeeze");
  const axes =
    axis === undefined
      ? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
      : normalizeAxes(axis, x.ndim, "squeeze");
  for (const a of axes) {
    if (x.shape[a] !== 1)
      throw new ShapeError(
        `squeeze: dimension ${a} of ${shapeToString(x.shape)} has size ${x.shape[a]}, not 1`,
      );
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Inserts a size-1 dimension at `axis` (which may be negative, counting from the new rank). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor(x, "unsqueeze");
  const a = normalizeAxis(axis, x.ndim + 1, "unsqueeze");
  const shape = x.shape.slice();
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Permutes the axes (default: reverses them, so a matrix becomes its transpose). */
export function transpose(x: Tensor, axes?: readonly number[]): Tensor {
  checkTensor(x, "transpose");
  const ndim = x.ndim;
  let perm: number[];
  if (axes === undefined || axes === null) perm = Array.from({ length: ndim }, (_, i) => ndim - 1 - i);
  else {
    if (!Array.isArray(axes) || axes.length !== ndim) {
      throw new ValueError(
        `transpose: axes ${JSON.stringify(axes)} must list each of the ${ndim} axes of ${shapeToString(x.shape)} once`,
      );
    }
    perm = axes.map((a) => normalizeAxis(a, ndim, "transpose"));
    if (new Set(perm).size !== ndim)
      throw new ValueError(`transpose: axes ${JSON.stringify(axes)} repeat an axis`);
  }
  if (perm.every((p, i) => p === i)) return x;
  return apply("transpose", [x], { perm });
}

/**
 * The block of `x` that starts at `begin` with extent `size` (−1 or omitted: to the end). Negative `begin`
 * entries count from the end.
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  checkTensor(x, "slice");
  const ndim = x.ndim;
  if (!Array.isArray(begin) || begin.length > ndim) {
    throw new ValueError(
      `slice: begin ${JSON.stringify(begin)} must have at most ${ndim} entries for ${shapeToString(x.shape)}`,
    );
  }
  if (size !== undefined && (!Array.isArray(size) || size.length > ndim)) {
    throw new ValueError(
      `slice: size ${JSON.stringify(size)} must have at most ${ndim} entries for ${shapeToString(x.shape)}`,
    );
  }
  const b: number[] = [];
  const s: number[] = [];
  for (let d = 0; d < ndim; d++) {
    const dim = x.shape[d];
    let start = begin[d] ?? 0;
    if (!Number.isInteger(start)) throw new ValueError(`slice: begin[${d}] = ${start} is not an integer`);
    if (start < 0) start += dim;
    let extent = size?.[d] ?? -1;
    if (!Number.isInteger(extent) || extent < -1)
      throw new ValueError(`slice: size[${d}] = ${extent} is not a valid size`);
    if (extent === -1) extent = dim - start;
    if (start < 0 || start > dim || start + extent > dim) {
      throw new ValueError(
        `slice: begin ${JSON.stringify(begin)} with size ${JSON.stringify(size ?? [])} is out of range for shape ${shapeToString(x.shape)}`,
      );
    }
    b.push(start);
    s.push(extent);
  }
  if (shapesEqual(s, x.shape)) return x;
  return apply("slice", [x], { begin: b, size: s });
}

/** Places `x` into a zero tensor of `shape` at offset `begin` (the adjoint of `slice`). */
export function pad(x: Tensor, begin: readonly number[], shape: readonly number[]): Tensor {
  checkTensor(x, "pad");
  const target = checkShape(shape, "pad");
  if (
    begin.length !== x.ndim ||
    target.length !== x.ndim ||
    x.shape.some((d, i) => begin[i] < 0 || begin[i] + d > target[i])
  ) {
    throw new ValueError(
      `pad: ${shapeToString(x.shape)} at ${JSON.stringify(begin)} does not fit in ${shapeToString(target)}`,
    );
  }
  if (shapesEqual(target, x.shape)) return x;
  return apply("pad", [x], { begin: begin.slice(), shape: target });
}

function isList(value: readonly Tensor[]): boolean {
  return Array.isArray(value);
}

/** Joins tensors along an existing axis; all other dimensions must agree. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!isList(tensors) || tensors.length === 0)
    throw new ValueError("concat: needs a non-empty list of tensors");
  tensors.forEach((t, i) => checkTensor(t, "concat", `tensor at position ${i}`));
  const first = tensors[0];
  if (first.ndim === 0) throw new ShapeError("concat: cannot concatenate 0-d tensors (use stack)");
  const ax = normalizeAxis(axis, first.ndim, "concat");
  for (const t of tensors) {
    if (t.dtype !== first.dtype) throw new DTypeError(`concat: cannot mix ${first.dtype} and ${t.dtype}`);
    const fits = t.ndim === first.ndim && t.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!fits) {
      throw new ShapeError(
        `concat: shapes ${tensors.map((u) => shapeToString(u.shape)).join(", ")} differ outside axis ${ax}`,
      );
    }
  }
  if (tensors.length === 1) return first;
  return apply("concat", tensors.slice(), { axis: ax });
}

/** Joins tensors of one shape along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!isList(tensors) || tensors.length === 0)
    throw new ValueError("stack: needs a non-empty list of tensors");
  tensors.forEach((t, i) => checkTensor(t, "stack", `tensor at position ${i}`));
  const first = tensors[0];
  for (const t of tensors) {
    if (!shapesEqual(t.shape, first.shape)) {
      throw new ShapeError(
        `stack: all tensors need the same shape, got ${tensors.map((u) => shapeToString(u.shape)).join(", ")}`,
      );
    }
  }
  const ax = normalizeAxis(axis, first.ndim + 1, "stack");
  const expanded = tensors.map((t) => unsqueeze(t, ax));
  return expanded.length === 1 ? expanded[0] : apply("concat", expanded, { axis: ax });
}

/** Options of {@link gather}. */
export interface GatherOptions {
  /** Return the gradient as a row-sparse tensor (axis 0 only): what an embedding lookup wants. */
  sparseGrad?: boolean;
}

function gatherRows(x: Tensor, indices: Int32Array, axis: number, sparse: boolean): Tensor {
  return apply("gather", [x], { axis, indices, sparse });
}

/**
 * Picks entries of `x` along `axis` by index: the result's shape is x.shape with the axis replaced by the
 * indices' shape. Indices are an int32 tensor or an array of integers; repeated indices accumulate gradient.
 */
export function gather(
  x: Tensor,
  indices: Tensor | readonly number[] | Int32Array,
  axis = 0,
  options: GatherOptions = {},
): Tensor {
  checkTensor(x, "gather");
  if (x.ndim === 0) throw new ShapeError("gather: cannot index a 0-d tensor");
  const ax = normalizeAxis(axis, x.ndim, "gather");
  const { data, shape } = toIndices(indices, "gather");
  checkIndexRange(data, x.shape[ax], "gather", () => `axis ${ax} of ${shapeToString(x.shape)}`);
  const flat = gatherRows(x, data, ax, options.sparseGrad === true && ax === 0);
  if (shape.length === 1) return flat;
  return reshape(flat, [...x.shape.slice(0, ax), ...shape, ...x.shape.slice(ax + 1)]);
}

/**
 * Adds the slices of `values` into a zero tensor of `shape` at `indices` along `axis` (repeated indices
 * accumulate): the adjoint of `gather`. `values` has `shape` with the axis replaced by the indices' length.
 */
export function scatterAdd(
  values: Tensor,
  indices: Tensor | readonly number[] | Int32Array,
  axis: number,
  shape: readonly number[],
): Tensor {
  checkTensor(values, "scatterAdd");
  const target = checkShape(shape, "scatterAdd");
  const ax = normalizeAxis(axis, target.length, "scatterAdd");
  const { data } = toIndices(indices, "scatterAdd");
  checkIndexRange(data, target[ax], "scatterAdd", () => `axis ${ax} of ${shapeToString(target)}`);
  const expected = target.slice();
  expected[ax] = data.length;
  const source = values.size === sizeOf(expected) ? reshape(values, expected) : values;
  if (!shapesEqual(source.shape, expected)) {
    throw new ShapeError(
      `scatterAdd: values of shape ${shapeToString(values.shape)} do not fit ${data.length} indices into ${shapeToString(target)}`,
    );
  }
  return apply("scatterAdd", [source], { axis: ax, indices: data, shape: target });
}
