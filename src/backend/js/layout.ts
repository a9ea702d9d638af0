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

/**
 * The block [begin, begin + size) of an array of shape `shape` as `rows` runs of `run` values each, `stride`
 * apart, the first at `offset`, when it is one: after the last axis taken in part, every axis is whole; before
 * it, whole axes, then at most one more taken in part, and before that only axes taken one index at a time (a
 * slice of a concatenation's output along its axis, a row range). Null otherwise.
 */
export function blockRuns(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { rows: number; run: number; stride: number; offset: number } | null {
  if (size.includes(0)) return { rows: 0, run: 0, stride: 0, offset: 0 };
  let d = shape.length - 1;
  let inner = 1;
  while (d >= 0 && begin[d] === 0 && size[d] === shape[d]) inner *= shape[d--]!;
  if (d < 0) return { rows: 1, run: inner, stride: inner, offset: 0 };
  const run = size[d]! * inner;
  const stride = shape[d]! * inner;
  let offset = begin[d]! * inner;
  let rows = 1;
  let step = stride; // how far apart consecutive indices of axis e are
  let e = d - 1;
  for (; e >= 0 && begin[e] === 0 && size[e] === shape[e]; e--) {
    rows *= shape[e]!;
    step *= shape[e]!;
  }
  if (e >= 0) {
    rows *= size[e]!;
    offset += begin[e]! * step;
    step *= shape[e]!;
  }
  for (e--; e >= 0; e--) {
    if (size[e] !== 1) return null;
    offset += begin[e]! * step;
    step *= shape[e]!;
  }
  return { rows, run, stride, offset };
}

/** Runs shorter than this are copied value by value (a `set` of a `subarray` costs more than the copy). */
const SHORT_RUN = 64;

export function slice(
  x: TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: TypedArray,
): void {
  if (x instanceof Float32Array && out instanceof Float32Array) {
    const runs = blockRuns(shape, begin, size);
    if (runs !== null && runs.run < SHORT_RUN) {
      copyRunsF32(x, runs.offset, runs.stride, out, 0, runs.run, runs.rows, runs.run);
      return;
    }
  }
  forEachRow(shape, begin, size, (o, ix, length) => out.set(x.subarray(ix, ix + length), o));
}

/** `rows` runs of `run` float32 values, from x (at `from`, `fromStride` apart) to out (at `to`, `toStride` apart). */
function copyRunsF32(
  x: Float32Array,
  from: number,
  fromStride: number,
  out: Float32Array,
  to: number,
  toStride: number,
  rows: number,
  run: number,
): void {
  for (let r = 0; r < rows; r++) {
    const f = from + r * fromStride;
    const t = to + r * toStride;
    for (let i = 0; i < run; i++) out[t + i] = x[f + i]!;
  }
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
    if (block < SHORT_RUN && part instanceof Float32Array && out instanceof Float32Array) {
      copyRunsF32(part, 0, block, out, column, rowSize, outer, block);
    } else {
      for (let o = 0; o < outer; o++)
        out.set(part.subarray(o * block, (o + 1) * block), o * rowSize + column);
    }
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

/**
 * Rows from this many values on are copied with `set` (a block copy) rather than value by value. Copying 1,280
 * random rows of a 4 MB table out of cache, after {@link touchRows}: the loop took 25 / 35 / 65 / 104 / 184 µs
 * for rows of 5 / 10 / 20 / 32 / 64 values and `set` 110 / 116 / 127 / 138 / 156 µs; in cache, the loop took
 * 25 / 56 / 99 / 136 µs for rows of 5 / 16 / 32 / 50 values and `set` 84 / 94 / 98 / 94 µs.
 */
const BLOCK_COPY_VALUES = 48;

/**
 * Rows of up to this many values are touched (see {@link touchRows}) before they are copied or updated; longer
 * rows span enough consecutive lines for the processor's own prefetching (1,280 rows of 300 values out of cache:
 * 459 µs copied as they are, 500 µs touched first).
 */
export const TOUCHED_ROW_VALUES = 256;

/**
 * Rows are touched and then copied (or updated) in blocks of this many: far more rows than a cache holds would
 * be pushed out again before their turn (10,240 random rows of 50 float32 from a 4 MB table: 1,137 µs as they
 * are, 1,139 µs all touched first, 795 µs in blocks of 128).
 */
export const TOUCH_BLOCK_ROWS = 128;

/** Where {@link touchRows} leaves its sum, so that the engine keeps its reads. */
let touchedSum = 0;

/**
 * Reads one value in every 64-byte line of each row `indices[j]`, `from ≤ j < to`, of x (row r: the `inner`
 * values from `(offset + r) · inner`), ahead of a pass that copies or updates those rows. Scattered rows of a
 * large table are mostly out of cache, and a copy waits for each row in turn; these reads do not depend on each
 * other, so the processor has many lines in flight at once and the pass after them finds the rows in cache.
 * Copying 1,280 random rows of 50 float32 from a 4 MB table out of cache: 362 µs without, 173 µs touching
 * blocks of {@link TOUCH_BLOCK_ROWS} rows first (in cache: 119 against 93 µs). Only reads: no value changes.
 * Indices outside the table are skipped (the pass after it reports them).
 */
export function touchRows(
  x: Float32Array | Float64Array,
  indices: Int32Array,
  offset: number,
  inner: number,
  from = 0,
  to = indices.length,
): void {
  const line = 64 / x.BYTES_PER_ELEMENT;
  const length = x.length;
  let sum = 0;
  for (let j = from; j < to; j++) {
    const at = (offset + indices[j]!) * inner;
    if (!(at >= 0 && at + inner <= length)) continue;
    for (let i = 0; i < inner; i += line) sum += x[at + i]!;
    sum += x[at + inner - 1]!;
  }
  touchedSum = sum;
}

/** The sum the last {@link touchRows} read (reading it keeps the reads observable). */
export function lastTouchedSum(): number {
  return touchedSum;
}

function gatherF32(x: Float32Array, view: AxisView, indices: Int32Array, out: Float32Array): void {
  const { outer, axis, inner } = view;
  const count = indices.length;
  const touch = inner > 1 && inner <= TOUCHED_ROW_VALUES;
  for (let o = 0; o < outer; o++) {
    for (let first = 0; first < count; first += TOUCH_BLOCK_ROWS) {
      const end = Math.min(count, first + TOUCH_BLOCK_ROWS);
      if (touch) touchRows(x, indices, o * axis, inner, first, end);
      for (let j = first; j < end; j++) {
        const from = (o * axis + indices[j]!) * inner;
        const to = (o * count + j) * inner;
        if (inner >= BLOCK_COPY_VALUES) out.set(x.subarray(from, from + inner), to);
        else for (let i = 0; i < inner; i++) out[to + i] = x[from + i]!;
      }
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

/** out = 0, then out[indices[k]] += values[k] for rows of rowSize values, in order (see Backend.sumRows). */
export function sumRows(
  values: TypedArray,
  rowSize: number,
  indices: Int32Array,
  rows: number,
  out: TypedArray,
): void {
  out.fill(0, 0, rows * rowSize);
  scatterAdd(values, { outer: 1, axis: rows, inner: rowSize }, indices, out);
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
