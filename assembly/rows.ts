// Row kernels with WebAssembly SIMD for the arrays a compiled step keeps in WebAssembly memory: an embedding's
// lookup (gather rows of a table), its gradient's summing (scatter-add rows) and an affine layer's bias (add a
// row to every row). Each value is one copy or one addition in the array's own precision, in the JavaScript
// kernels' order (src/backend/js/layout.ts, src/compile/fuse.ts), so the results are theirs bit for bit.
//
// Addresses are byte addresses in this module's memory; `indices` holds int32 row numbers. The host checks the
// indices before a call (a row outside the table would read other memory, not trap); the kernels still refuse
// one outside [0, limit) and return its position, having written nothing, so the host can fall back.

/** The position of the first index outside [0, limit) in `indices` (count int32 values), or −1. */
function firstOutOfRange(indices: usize, count: i32, limit: i32): i32 {
  for (let k = 0; k < count; k++) {
    const row = load<i32>(indices + ((<usize>k) << 2));
    if (<u32>row >= <u32>limit) return k;
  }
  return -1;
}

/**
 * Rows of up to this many bytes are touched (see `touchRows`) before a kernel copies or updates them; longer rows
 * span enough consecutive lines for the processor's own prefetching.
 */
const TOUCHED_ROW_BYTES: usize = 1024;

/**
 * Rows are touched and then copied or updated in blocks of this many: far more rows than a cache holds would be
 * pushed out again before their turn.
 */
export const TOUCH_BLOCK_ROWS: i32 = 128;

/**
 * Reads one value in each 64-byte line of the rows indices[k] (k < count) of a table at `table` (rows of
 * `rowBytes` bytes), ahead of a loop that copies or updates them. Scattered rows of a large table are mostly out
 * of cache; these reads do not depend on each other, so the processor has many lines in flight at once, and the
 * loop after them finds the rows in cache instead of waiting for each in turn (src/backend/js/layout.ts does the
 * same for the JavaScript kernels). Reads only; the indices must be inside the table. Returns the values read,
 * OR-ed together as integers, which callers ignore: the reads stay in the compiled code because a load may trap.
 */
export function touchRows(table: usize, indices: usize, count: i32, rowBytes: usize): i32 {
  if (rowBytes > TOUCHED_ROW_BYTES || rowBytes < 4) return 0;
  let seen: i32 = 0;
  for (let k = 0; k < count; k++) {
    const at = table + <usize>load<i32>(indices + ((<usize>k) << 2)) * rowBytes;
    for (let i: usize = 0; i < rowBytes; i += 64) seen |= load<i32>(at + i);
    seen |= load<i32>(at + rowBytes - 4);
  }
  return seen;
}

/** The per-row loops, inlined into each exported kernel with T (the storage type) fixed. */
class Row {
  /** Copies `size` values of T from `from` to `to` (rows do not overlap). */
  @inline static copy<T>(from: usize, to: usize, size: i32): void {
    const bytes = <usize>size * sizeof<T>();
    let at: usize = 0;
    for (; at + 16 <= bytes; at += 16) v128.store(to + at, v128.load(from + at));
    for (; at < bytes; at += sizeof<T>()) store<T>(to + at, load<T>(from + at));
  }

  /** to[i] += from[i] for `size` values of T, each addition rounded once to T. */
  @inline static add<T>(from: usize, to: usize, size: i32): void {
    const bytes = <usize>size * sizeof<T>();
    let at: usize = 0;
    for (; at + 16 <= bytes; at += 16)
      v128.store(to + at, v128.add<T>(v128.load(to + at), v128.load(from + at)));
    for (; at < bytes; at += sizeof<T>()) store<T>(to + at, load<T>(to + at) + load<T>(from + at));
  }
}

function gatherRows<T>(table: usize, limit: i32, indices: usize, count: i32, rowSize: i32, out: usize): i32 {
  const bad = firstOutOfRange(indices, count, limit);
  if (bad >= 0) return bad;
  const rowBytes = <usize>rowSize * sizeof<T>();
  for (let first = 0; first < count; first += TOUCH_BLOCK_ROWS) {
    const end = min(count, first + TOUCH_BLOCK_ROWS);
    touchRows(table, indices + ((<usize>first) << 2), end - first, rowBytes);
    for (let k = first; k < end; k++) {
      const row = <usize>load<i32>(indices + ((<usize>k) << 2));
      Row.copy<T>(table + row * rowBytes, out + <usize>k * rowBytes, rowSize);
    }
  }
  return -1;
}

function scatterAddRows<T>(
  values: usize,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
  limit: i32,
): i32 {
  const bad = firstOutOfRange(indices, count, limit);
  if (bad >= 0) return bad;
  const rowBytes = <usize>rowSize * sizeof<T>();
  for (let first = 0; first < count; first += TOUCH_BLOCK_ROWS) {
    const end = min(count, first + TOUCH_BLOCK_ROWS);
    touchRows(out, indices + ((<usize>first) << 2), end - first, rowBytes);
    for (let k = first; k < end; k++) {
      const row = <usize>load<i32>(indices + ((<usize>k) << 2));
      Row.add<T>(values + <usize>k * rowBytes, out + row * rowBytes, rowSize);
    }
  }
  return -1;
}

/**
 * Rows [from, to) of out set to the sums of the rows of `values` listed there: zeroed, then out[indices[k]] +=
 * values[k] for each k < count (in order) whose index lies in [from, to); other indices are skipped. A call per
 * range of rows writes only its own rows, so ranges can be summed side by side, each with the one call's bits.
 */
function sumRowsInRange<T>(
  values: usize,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
  from: i32,
  to: i32,
): void {
  const rowBytes = <usize>rowSize * sizeof<T>();
  const zero = v128.splat<T>(<T>0);
  const start = out + <usize>from * rowBytes;
  const bytes = <usize>(to - from) * rowBytes;
  let at: usize = 0;
  for (; at + 16 <= bytes; at += 16) v128.store(start + at, zero);
  for (; at < bytes; at += sizeof<T>()) store<T>(start + at, <T>0);
  for (let k = 0; k < count; k++) {
    const row = load<i32>(indices + ((<usize>k) << 2));
    if (row >= from && row < to)
      Row.add<T>(values + <usize>k * rowBytes, out + <usize>row * rowBytes, rowSize);
  }
}

function addRowToRows<T>(y: usize, row: usize, rows: i32, columns: i32): void {
  const rowBytes = <usize>columns * sizeof<T>();
  for (let i = 0; i < rows; i++) Row.add<T>(row, y + <usize>i * rowBytes, columns);
}

/**
 * out[k] = table[indices[k]] for k < count, rows of rowSize float32 values; the table has `limit` rows. Returns
 * −1, or the position of an index outside [0, limit) (then nothing is written).
 */
export function gatherRowsF32(
  table: usize,
  limit: i32,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
): i32 {
  return gatherRows<f32>(table, limit, indices, count, rowSize, out);
}

/** gatherRowsF32 for float64 rows. */
export function gatherRowsF64(
  table: usize,
  limit: i32,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
): i32 {
  return gatherRows<f64>(table, limit, indices, count, rowSize, out);
}

/**
 * out[indices[k]] += values[k] for k = 0, 1, …, count − 1 in that order (rows of rowSize float32 values; `out`
 * has `limit` rows). Returns −1, or the position of an index outside [0, limit) (then nothing is written).
 */
export function scatterAddRowsF32(
  values: usize,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
  limit: i32,
): i32 {
  return scatterAddRows<f32>(values, indices, count, rowSize, out, limit);
}

/** scatterAddRowsF32 for float64 rows. */
export function scatterAddRowsF64(
  values: usize,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
  limit: i32,
): i32 {
  return scatterAddRows<f64>(values, indices, count, rowSize, out, limit);
}

/**
 * Rows [from, to) of out (float32 rows of rowSize) as the sums, in position order, of the rows of `values` whose
 * index is among them (see sumRowsInRange): a coalesced gradient's sums, or a range of them.
 */
export function sumRowsF32(
  values: usize,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
  from: i32,
  to: i32,
): void {
  sumRowsInRange<f32>(values, indices, count, rowSize, out, from, to);
}

/** sumRowsF32 for float64 rows. */
export function sumRowsF64(
  values: usize,
  indices: usize,
  count: i32,
  rowSize: i32,
  out: usize,
  from: i32,
  to: i32,
): void {
  sumRowsInRange<f64>(values, indices, count, rowSize, out, from, to);
}

/** y[i][j] += row[j] for a rows × columns float32 block y, in place (an affine layer's bias). */
export function addRowF32(y: usize, row: usize, rows: i32, columns: i32): void {
  addRowToRows<f32>(y, row, rows, columns);
}

/** addRowF32 for float64. */
export function addRowF64(y: usize, row: usize, rows: i32, columns: i32): void {
  addRowToRows<f64>(y, row, rows, columns);
}

/**
 * Copies `rows` runs of `rowBytes` bytes (a multiple of 4) from `from` to `to`, run i from from + i·fromStride to
 * to + i·toStride (byte strides; the runs do not overlap): the blocks of a concatenation along an inner axis, and
 * the slices that hand its gradient back to each input.
 */
export function copyBlock(
  from: usize,
  fromStride: i32,
  to: usize,
  toStride: i32,
  rows: i32,
  rowBytes: i32,
): void {
  for (let i = 0; i < rows; i++) {
    Row.copy<u32>(from + <usize>i * <usize>fromStride, to + <usize>i * <usize>toStride, rowBytes >> 2);
  }
}
