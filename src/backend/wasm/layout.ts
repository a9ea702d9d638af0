import type { AxisView } from "../backend.js";
import { jsBackend } from "../js/index.js";
import { blockRuns } from "../js/layout.js";
import type { TypedArray } from "../../tensor/dtype.js";
import { align16, commonKernels, kernelsOf, type GatherRowsArguments, type Kernels } from "./runtime.js";
import { getThreads, poolOf, runningPool } from "./threads.js";
import { wasmThresholds } from "./thresholds.js";

/**
 * Concatenation, slices, gather and scatter-add along the first axis on the WebAssembly row kernels (assembly/rows.ts), in place, when
 * the arrays already live in one kernel instance's memory (a compiled step's embedding lookup and its gradient,
 * see src/compile/): copying them in and out would cost as much as the work, so arrays elsewhere take the
 * JavaScript loops, as do other axes and index types. The results are the JavaScript kernels' bit for bit (each
 * value one copy, or one addition in the same order).
 */

/** The instance holding every array, when they share one and are float32 or float64 of one type; else null. */
function residentHome(rows: TypedArray, indices: Int32Array, out: TypedArray): Kernels | null {
  const home = commonKernels([rows, indices, out]);
  if (home === null) return null;
  const f32 = rows instanceof Float32Array && out instanceof Float32Array;
  const f64 = rows instanceof Float64Array && out instanceof Float64Array;
  return f32 || f64 ? home : null;
}

/**
 * out[j] = x[indices[j]] along view's axis (see Backend.gather). In the thread pool's shared memory, a lookup of
 * at least `wasmThresholds.threadRowValues` values is split across the threads by rows once its indices are
 * known to be within the table (else the JavaScript loop reports the first one outside).
 */
export function gather(x: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void {
  const home = view.outer === 1 ? residentHome(x, indices, out) : null;
  const count = indices.length;
  if (home !== null && x.length >= view.axis * view.inner && out.length >= count * view.inner) {
    const split =
      (poolOf(home)?.splits(count * view.inner, wasmThresholds.threadRowValues) ?? false) &&
      withinTable(indices, view.axis);
    const rows = [x.byteOffset, view.axis, indices.byteOffset, count, view.inner, out.byteOffset] as const;
    if (gatherRowsAt(home, x instanceof Float32Array, rows, split)) return;
  } else if (view.outer === 1 && gatherFromResident(x, view, indices, out)) return;
  jsBackend.gather(x, view, indices, out);
}

/**
 * A lookup in a table that lives in the thread pool's shared memory (an eager optimiser's resident embedding, see
 * resident.ts) into an ordinary output: the indices are copied into the pool's per-call area, the rows gathered
 * there by the row kernel (split across the threads when large and worth waking them for, see
 * `ThreadPool.worthSplitting`) and copied out in one piece. False (nothing done) when the table is elsewhere, the
 * lookup is small, an index is outside the table or memory cannot grow.
 */
function gatherFromResident(x: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): boolean {
  const f32 = x instanceof Float32Array;
  if (!(f32 || x instanceof Float64Array) || out.constructor !== x.constructor) return false;
  const values = indices.length * view.inner;
  if (values < wasmThresholds.elementwise || x.length < view.axis * view.inner || out.length < values) {
    return false;
  }
  const home = kernelsOf(x);
  const pool = home === null ? null : poolOf(home);
  if (pool === null || !withinTable(indices, view.axis)) return false;
  const size = f32 ? 4 : 8;
  const indicesAt = pool.base;
  const outAt = indicesAt + align16(indices.length * 4);
  if (!pool.reserve(outAt + values * size, wasmThresholds.maxBytes)) return false;
  home!.i32.set(indices, indicesAt / 4);
  const split = pool.splitsNow(values, wasmThresholds.threadRowValues);
  const rows = [x.byteOffset, view.axis, indicesAt, indices.length, view.inner, outAt] as const;
  if (!gatherRowsAt(home!, f32, rows, split)) return false;
  const result = f32 ? home!.f32 : home!.f64;
  out.set(result.subarray(outAt / size, outAt / size + values));
  return true;
}

/**
 * The row kernel's gather on byte addresses in `home`'s memory: split across the pool's threads by rows when
 * `split` (every index already known to be in the table), else one call. False when an index lies outside the
 * table (then nothing is written).
 */
function gatherRowsAt(
  home: Kernels,
  f32: boolean,
  rows: Readonly<GatherRowsArguments>,
  split: boolean,
): boolean {
  const pool = split ? poolOf(home) : null;
  if (pool !== null) {
    pool.gatherRows(f32, ...rows);
    return true;
  }
  // −1 when every index was inside the table, else the position of one outside.
  return (f32 ? home.exports.gatherRowsF32 : home.exports.gatherRowsF64)(...rows) < 0;
}

/** Whether every index is in [0, limit). */
function withinTable(indices: Int32Array, limit: number): boolean {
  let bad = 0;
  for (let i = 0; i < indices.length; i++) bad |= (indices[i]! < 0 ? 1 : 0) | (indices[i]! >= limit ? 1 : 0);
  return bad === 0;
}

/** out[indices[j]] += values[j] along view's axis (see Backend.scatterAdd). */
export function scatterAdd(values: TypedArray, view: AxisView, indices: Int32Array, out: TypedArray): void {
  const home = view.outer === 1 ? residentHome(values, indices, out) : null;
  const count = indices.length;
  if (home !== null && values.length >= count * view.inner && out.length >= view.axis * view.inner) {
    const kernel =
      values instanceof Float32Array ? home.exports.scatterAddRowsF32 : home.exports.scatterAddRowsF64;
    if (kernel(values.byteOffset, indices.byteOffset, count, view.inner, out.byteOffset, view.axis) < 0)
      return;
  }
  jsBackend.scatterAdd(values, view, indices, out);
}

/**
 * The sums of rows by index (see Backend.sumRows): in place on the row kernel where the arrays live in one kernel
 * instance's memory (a compiled step's coalesced gradient), split across the pool's threads by ranges of rows
 * from `wasmThresholds.threadRowValues` values (each range zeroes and sums its own rows, so the bits are one
 * call's); elsewhere the JavaScript loops.
 */
export function sumRows(
  values: TypedArray,
  rowSize: number,
  indices: Int32Array,
  rows: number,
  out: TypedArray,
): void {
  const count = indices.length;
  const home = residentHome(values, indices, out);
  if (home === null || values.length < count * rowSize || out.length < rows * rowSize) {
    if (home !== null || !sumRowsThroughPool(values, rowSize, indices, rows, out)) {
      jsBackend.sumRows(values, rowSize, indices, rows, out);
    }
    return;
  }
  const split = poolOf(home)?.splits(count * rowSize, wasmThresholds.threadRowValues) ?? false;
  sumRowsAt(
    home,
    values instanceof Float32Array,
    values.byteOffset,
    indices.byteOffset,
    count,
    rowSize,
    out.byteOffset,
    rows,
    split,
  );
}

/**
 * The row kernel's sums on byte addresses in `home`'s memory (rows [0, rows) of out): split across the pool's
 * threads by ranges of rows when `split`, else one call; the same bits either way.
 */
function sumRowsAt(
  home: Kernels,
  f32: boolean,
  values: number,
  indices: number,
  count: number,
  rowSize: number,
  out: number,
  rows: number,
  split: boolean,
): void {
  const pool = split ? poolOf(home) : null;
  if (pool !== null) pool.sumRows(f32, values, indices, count, rowSize, out, rows);
  else
    (f32 ? home.exports.sumRowsF32 : home.exports.sumRowsF64)(values, indices, count, rowSize, out, 0, rows);
}

/**
 * `sumRows` of ordinary arrays (an eager optimiser coalescing a row-sparse gradient) on the thread pool: values
 * and indices copied into its per-call area, summed there by ranges of output rows across the threads (on the
 * main thread when the workers are asleep and the sum is small, see `ThreadPool.worthSplitting`), and the sums
 * copied out in one piece, or written in place when `out` itself lives in the pool's memory — the same additions
 * in the same order, so the same bits. False (nothing done) with fewer than two threads, a small sum, an index
 * outside [0, rows) or memory that cannot grow.
 */
function sumRowsThroughPool(
  values: TypedArray,
  rowSize: number,
  indices: Int32Array,
  rows: number,
  out: TypedArray,
): boolean {
  const f32 = values instanceof Float32Array;
  if (!(f32 || values instanceof Float64Array) || out.constructor !== values.constructor) return false;
  const count = indices.length;
  const n = count * rowSize;
  if (n < wasmThresholds.threadRowValues || getThreads() < 2) return false;
  if (values.length < n || out.length < rows * rowSize || !withinTable(indices, rows)) return false;
  const pool = runningPool();
  if (pool === null || pool.failed) return false;
  const size = f32 ? 4 : 8;
  const home = pool.kernels;
  // An `out` in a region of the pool's memory (an eager optimiser's coalescing buffer beside its resident
  // parameter) is summed into where it is; the per-call area lies above every region, so the two never overlap.
  const inPlace = kernelsOf(out) === home;
  const valuesAt = pool.base;
  const indicesAt = valuesAt + align16(n * size);
  const outAt = inPlace ? out.byteOffset : indicesAt + align16(count * 4);
  const end = inPlace ? indicesAt + count * 4 : outAt + rows * rowSize * size;
  if (!pool.reserve(end, wasmThresholds.maxBytes)) return false;
  const view = f32 ? home.f32 : home.f64;
  view.set(values.length === n ? values : values.subarray(0, n), valuesAt / size);
  home.i32.set(indices, indicesAt / 4);
  const split = pool.splitsNow(n, wasmThresholds.threadRowValues);
  sumRowsAt(home, f32, valuesAt, indicesAt, count, rowSize, outAt, rows, split);
  if (!inPlace) out.set(view.subarray(outAt / size, outAt / size + rows * rowSize));
  return true;
}

/** The instance holding every array, when they share one and have one element size; else null. */
function blockHome(arrays: readonly TypedArray[]): Kernels | null {
  const bytes = arrays[0]!.BYTES_PER_ELEMENT;
  if (bytes % 4 !== 0 || arrays.some((a) => a.BYTES_PER_ELEMENT !== bytes)) return null;
  return commonKernels(arrays);
}

/** The inputs' blocks side by side along an axis (see Backend.concat): one block copy per input. */
export function concat(
  parts: readonly TypedArray[],
  outer: number,
  blockSizes: readonly number[],
  out: TypedArray,
): void {
  let rowSize = 0;
  for (const b of blockSizes) rowSize += b;
  const home = out.length >= outer * rowSize ? blockHome([out, ...parts]) : null;
  if (home === null || parts.some((part, p) => part.length < outer * blockSizes[p]!)) {
    jsBackend.concat(parts, outer, blockSizes, out);
    return;
  }
  const bytes = out.BYTES_PER_ELEMENT;
  for (let p = 0, column = 0; p < parts.length; p++) {
    const block = blockSizes[p]!;
    const part = parts[p]!;
    home.exports.copyBlock(
      part.byteOffset,
      block * bytes,
      out.byteOffset + column * bytes,
      rowSize * bytes,
      outer,
      block * bytes,
    );
    column += block;
  }
}

/** The block [begin, begin + size) of x (see Backend.slice): one block copy where it is rows of one stride. */
export function slice(
  x: TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: TypedArray,
): void {
  const runs = blockRuns(shape, begin, size);
  const home = runs === null ? null : blockHome([x, out]);
  if (
    runs === null ||
    home === null ||
    out.length < runs.rows * runs.run ||
    x.length < runs.rows * runs.stride
  ) {
    jsBackend.slice(x, shape, begin, size, out);
    return;
  }
  const bytes = x.BYTES_PER_ELEMENT;
  const { rows, run, stride, offset } = runs;
  home.exports.copyBlock(
    x.byteOffset + offset * bytes,
    stride * bytes,
    out.byteOffset,
    run * bytes,
    rows,
    run * bytes,
  );
}
