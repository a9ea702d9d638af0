import { ShapeError, ValueError, quoteInput } from "../errors.js";

/** The size of each dimension of a tensor, outermost first (`[]` for a scalar). */
export type Shape = readonly number[];

export function shapeToString(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function sizeOf(shape: Shape): number {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i]!;
  return size;
}

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i]!;
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks that every dimension is a non-negative integer and returns a fresh copy. */
export function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape))
    throw new ShapeError(`${where}: a shape must be an array of integers, got ${quoteInput(shape)}`);
  for (const dim of shape) {
    if (typeof dim !== "number" || !Number.isInteger(dim) || dim < 0) {
      throw new ShapeError(
        `${where}: invalid shape ${JSON.stringify(shape)}: dimensions must be non-negative integers`,
      );
    }
  }
  return shape.slice() as number[];
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const ndim = Math.max(a.length, b.length);
  const out = new Array<number>(ndim);
  for (let i = 0; i < ndim; i++) {
    const da = i < ndim - a.length ? 1 : a[i - (ndim - a.length)]!;
    const db = i < ndim - b.length ? 1 : b[i - (ndim - b.length)]!;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else {
      throw new ShapeError(
        `${op}: shapes ${shapeToString(a)} and ${shapeToString(b)} cannot be broadcast together`,
      );
    }
  }
  return out;
}

/**
 * Strides for reading an array of shape `shape` as if it had the (broadcast) shape `target`:
 * broadcast dimensions get stride 0.
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const strides = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  const offset = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[i + offset] = shape[i] === 1 ? 0 : strides[i]!;
  return out;
}

/** Resolves a possibly negative axis against `ndim`. */
export function normalizeAxis(axis: number, ndim: number, op: string): number {
  if (!Number.isInteger(axis)) throw new ValueError(`${op}: axis must be an integer, got ${axis}`);
  const resolved = axis < 0 ? axis + ndim : axis;
  if (resolved < 0 || resolved >= ndim) {
    throw new ValueError(
      `${op}: axis ${axis} is out of range for a tensor with ${ndim} dimension${ndim === 1 ? "" : "s"}`,
    );
  }
  return resolved;
}

/** Resolves `axis` (undefined = all axes, a number or a list) to sorted, unique, non-negative axes. */
export function normalizeAxes(
  axis: number | readonly number[] | undefined | null,
  ndim: number,
  op: string,
): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : axis;
  if (!Array.isArray(list)) throw new ValueError(`${op}: axis must be a number or a list of numbers`);
  const resolved = list.map((a) => normalizeAxis(a, ndim, op));
  const unique = [...new Set(resolved)].sort((x, y) => x - y);
  if (unique.length !== resolved.length)
    throw new ValueError(`${op}: repeated axis in ${JSON.stringify(axis)}`);
  return unique;
}

/** The shape after reducing `axes`; kept as size-1 dimensions when `keepDims`. */
export function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (axes.includes(i)) {
      if (keepDims) out.push(1);
    } else out.push(shape[i]!);
  }
  return out;
}

/** An array seen as [outer, axis, inner] around a block of axes (what the kernels call an `AxisView`). */
export interface BlockView {
  outer: number;
  axis: number;
  inner: number;
}

/**
 * `shape` viewed as [outer, axis, inner] around `axes` (sorted): the dimensions before the block, the block
 * itself and those after it, each multiplied out. Null when the axes are not one contiguous run; with no axes,
 * everything is `outer`.
 */
export function blockView(shape: Shape, axes: readonly number[]): BlockView | null {
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1]! + 1) return null;
  const first = axes.length === 0 ? shape.length : axes[0]!;
  const last = axes.length === 0 ? shape.length - 1 : axes[axes.length - 1]!;
  let outer = 1;
  let axis = 1;
  let inner = 1;
  for (let d = 0; d < shape.length; d++) {
    if (d < first) outer *= shape[d]!;
    else if (d <= last) axis *= shape[d]!;
    else inner *= shape[d]!;
  }
  return { outer, axis, inner };
}

/**
 * Throws unless every index lies in [0, limit) (the message names `op` and what is indexed: text, or a function
 * giving it, called only for the message).
 */
export function checkIndexRange(
  indices: Int32Array,
  limit: number,
  op: string,
  what: string | (() => string),
): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (v < 0 || v >= limit) {
      const described = typeof what === "string" ? what : what();
      throw new ValueError(
        `${op}: index ${v} at position ${i} is out of range for ${described} of size ${limit}`,
      );
    }
  }
}
