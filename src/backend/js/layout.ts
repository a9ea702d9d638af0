import type { TypedArray } from "../../tensor/dtype.js";
import type { AxisView } from "../backend.js";
import { stridesOf } from "../../tensor/shape.js";

export function transpose(
  x: TypedArray,
  shape: readonly number[],
  perm: readonly number[],
  out: TypedArray,
): void {
  const ndim = shape.length;
  const n = x.length;
  if (n === 0) return;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]!);
  // Stride in x for each output dimension.
  const strides = perm.map((p) => inStrides[p]!);
  if (ndim === 2 && perm[0] === 1) {
    const rows = shape[0]!;
    const cols = shape[1]!;
    // Blocked 2-D transpose keeps both sides in cache.
    const block = 32;
    for (let r0 = 0; r0 < rows; r0 += block) {
      const r1 = Math.min(rows, r0 + block);
      for (let c0 = 0; c0 < cols; c0 += block) {
        const c1 = Math.min(cols, c0 + block);
        for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = x[r * cols + c]!;
      }
    }
    return;
  }
  const index = new Array<number>(ndim).fill(0);
  const inner = outShape[ndim - 1]!;
  const innerStride = strides[ndim - 1]!;
  let ix = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0; j < inner; j++) out[o + j] = x[ix + j * innerStride]!;
    for (let d = ndim - 2; d >= 0; d--) {
      index[d]!++;
      ix += strides[d]!;
      if (index[d]! < outShape[d]!) break;
      ix -= strides[d]! * outShape[d]!;
      index[d] = 0;
    }
  }
}

/** Walks the block [begin, begin + size) of an array of shape `shape`, calling `row` for each innermost run. */
function forEachRow(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  row: (blockOffset: number, arrayOffset: number, length: number) => void,
): void {
  const ndim = shape.length;
  let total = 1;
  for (const s of size) total *= s;
  if (total === 0) return;
  if (ndim === 0) {
    row(0, 0, 1);
    return;
  }
  const strides = stridesOf(shape);
  const inner = size[ndim - 1]!;
  const index = new Array<number>(ndim).fill(0);
  let offset = 0;
  for (let d = 0; d < ndim; d++) offset += begin[d]! * strides[d]!;
  for (let o = 0; o < total; o += inner) {
    row(o, offset, inner);
    for (let d = ndim - 2; d >= 0; d--) {
      index[d]!++;
      offset += strides[d]!;
      if (index[d]! < size[d]!) break;
      offset -= strides[d]! * size[d]!;
      index[d] = 0;
    }
  }
}

export function slice(
  x: TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: TypedArray,
): void {
  forEachRow(shape, begin, size, (o, ix, length) => out.set(x.subarray(ix, ix + length), o));
}

export function sliceAdd(
  x: TypedArray,
  size: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
  begin: readonly number[],
): void {
  forEachRow(outShape, begin, size, (o, io, length) => {
    for (let j = 0; j < length; j++) out[io + j] += x[o + j]!;
  });
}

export function concat(
  parts: readonly TypedArray[],
  outer: number,
  blockSizes: readonly number[],
  out: TypedArray,
): void {
  let rowSize = 0;
  for (const b of blockSizes) rowSize += b;
  for (let p = 0, column = 0; p < parts.length; p++) {
    const part = parts[p]!;
    const block = blockSizes[p]!;
    for (let o = 0; o < outer; o++) out.set(part.subarray(o * block, (o + 1) * block), o * rowSize + column);
    column += block;
  }
}

export function gather(x: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void {
  if (x instanceof Float32Array && out instanceof Float32Array) gatherF32(x, view, indices, out);
  else gatherAny(x, view, indices, out);
}

/*
 * float32 loops of their own: a loop the engine compiles for one typed-array class runs several times
 * faster than one that has seen several (an embedding lookup copies thousands of short rows per batch, where a
 * `set` of a `subarray` per row costs more in allocation than the copy itself).
 */

function gatherF32(x: Float32Array, view: AxisView, indices: Int32Array, out: Float32Array): void {
  const { outer, axis, inner } = view;
  const count = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const from = (o * axis + indices[j]!) * inner;
      const to = (o * count + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] = x[from + i]!;
    }
  }
}

function gatherAny(x: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void {
  const { outer, axis, inner } = view;
  const count = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const from = (o * axis + indices[j]!) * inner;
      const to = (o * count + j) * inner;
      if (inner === 1) out[to] = x[from]!;
      else out.set(x.subarray(from, from + inner), to);
    }
  }
}

export function scatterAdd(values: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void {
  if (values instanceof Float32Array && out instanceof Float32Array)
    scatterAddF32(values, view, indices, out);
  else scatterAddAny(values, view, indices, out);
}

function scatterAddF32(values: Float32Array, view: AxisView, indices: Int32Array, out: Float32Array): void {
  const { outer, axis, inner } = view;
  const count = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const to = (o * axis + indices[j]!) * inner;
      const from = (o * count + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] += values[from + i]!;
    }
  }
}

function scatterAddAny(values: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void {
  const { outer, axis, inner } = view;
  const count = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const to = (o * axis + indices[j]!) * inner;
      const from = (o * count + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] += values[from + i]!;
    }
  }
}
