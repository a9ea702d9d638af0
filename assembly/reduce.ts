// Sums along one axis with WebAssembly SIMD, the array viewed as [outer, axis, inner].
//
// Every output is the same sequence of float64 additions as in the JavaScript kernel (float32 values are summed
// in float64 and rounded once at the end, as there), so the results are identical. The vector lanes run across
// outputs, never along the summed axis: across `inner` for a strided axis, across rows for a contiguous one.

/**
 * Row sums out[o] = Σ_j x[o, j] of T values, summed in float64: four rows at a time in two float64x2 vectors (one
 * lane per row, so each row's additions stay in order), then the remaining rows one by one.
 */
function sumRows<T>(x: usize, out: usize, rows: i32, columns: i32): void {
  const size = <usize>sizeof<T>();
  const stride = <usize>columns * size;
  let o = 0;
  for (; o + 4 <= rows; o += 4) {
    let row0 = x + <usize>o * stride;
    let first = f64x2.splat(0);
    let second = f64x2.splat(0);
    for (let j = 0; j < columns; j++) {
      const v0 = <f64>load<T>(row0);
      const v1 = <f64>load<T>(row0 + stride);
      const v2 = <f64>load<T>(row0 + 2 * stride);
      const v3 = <f64>load<T>(row0 + 3 * stride);
      first = f64x2.add(first, f64x2.replace_lane(f64x2.splat(v0), 1, v1));
      second = f64x2.add(second, f64x2.replace_lane(f64x2.splat(v2), 1, v3));
      row0 += size;
    }
    const at = out + <usize>o * size;
    store<T>(at, <T>f64x2.extract_lane(first, 0));
    store<T>(at + size, <T>f64x2.extract_lane(first, 1));
    store<T>(at + 2 * size, <T>f64x2.extract_lane(second, 0));
    store<T>(at + 3 * size, <T>f64x2.extract_lane(second, 1));
  }
  for (; o < rows; o++) {
    const row = x + <usize>o * stride;
    let total: f64 = 0;
    for (let j = 0; j < columns; j++) total += <f64>load<T>(row + <usize>j * size);
    store<T>(out + <usize>o * size, <T>total);
  }
}

/**
 * Columns [i0, i0 + 16) of one [axis, inner] float32 block summed down its rows in float64: eight float64x2
 * accumulators held in registers through all the rows (each column's additions in row order), then rounded once.
 */
function sumColumns16(block: usize, axis: i32, inner: i32, i0: i32, destination: usize): void {
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let a2 = f64x2.splat(0);
  let a3 = f64x2.splat(0);
  let a4 = f64x2.splat(0);
  let a5 = f64x2.splat(0);
  let a6 = f64x2.splat(0);
  let a7 = f64x2.splat(0);
  const stride = <usize>inner * 4;
  let row = block + <usize>i0 * 4;
  for (let j = 0; j < axis; j++) {
    const v0 = v128.load(row);
    const v1 = v128.load(row, 16);
    const v2 = v128.load(row, 32);
    const v3 = v128.load(row, 48);
    a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v0));
    a1 = f64x2.add(a1, promoteHigh(v0));
    a2 = f64x2.add(a2, f64x2.promote_low_f32x4(v1));
    a3 = f64x2.add(a3, promoteHigh(v1));
    a4 = f64x2.add(a4, f64x2.promote_low_f32x4(v2));
    a5 = f64x2.add(a5, promoteHigh(v2));
    a6 = f64x2.add(a6, f64x2.promote_low_f32x4(v3));
    a7 = f64x2.add(a7, promoteHigh(v3));
    row += stride;
  }
  const to = destination + <usize>i0 * 4;
  v128.store(to, narrow(a0, a1));
  v128.store(to, narrow(a2, a3), 16);
  v128.store(to, narrow(a4, a5), 32);
  v128.store(to, narrow(a6, a7), 48);
}

/** Columns [i0, i0 + 4) summed as in sumColumns16, with two accumulators. */
function sumColumns4(block: usize, axis: i32, inner: i32, i0: i32, destination: usize): void {
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  const stride = <usize>inner * 4;
  let row = block + <usize>i0 * 4;
  for (let j = 0; j < axis; j++) {
    const v = v128.load(row);
    a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
    a1 = f64x2.add(a1, promoteHigh(v));
    row += stride;
  }
  v128.store(destination + <usize>i0 * 4, narrow(a0, a1));
}

/** Column i summed as in sumColumns16, in one float64. */
function sumColumn(block: usize, axis: i32, inner: i32, i: i32, destination: usize): void {
  let total: f64 = 0;
  const stride = <usize>inner * 4;
  let row = block + <usize>i * 4;
  for (let j = 0; j < axis; j++) {
    total += <f64>load<f32>(row);
    row += stride;
  }
  store<f32>(destination + <usize>i * 4, <f32>total);
}

/** Float32 lanes 2 and 3 of `v` as two float64 lanes (lanes 0 and 1: `f64x2.promote_low_f32x4`). */
function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/** Four float32: the two lanes of `low`, then the two of `high`, each rounded from float64. */
function narrow(low: v128, high: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(low), f32x4.demote_f64x2_zero(high), 0, 1, 4, 5);
}

/**
 * out[o, i] = Σ_j x[o, j, i] for float32 x and out. The columns go in strips of 16, then 4, then 1, each strip's
 * accumulators held in registers down all the rows; every column is the same float64 additions in row order
 * either way. Nothing outside x and out is touched, so a compiled step runs it on its own arrays in place. (A
 * column sum of the NER step's 256 × 300 gradient took 37 µs with the accumulators in memory, as it was, the
 * array copied in first.)
 */
export function sumAxisF32(x: usize, out: usize, outer: i32, axis: i32, inner: i32): void {
  if (inner == 1) {
    sumRows<f32>(x, out, outer, axis);
    return;
  }
  const sixteens = inner & ~15;
  const fours = inner & ~3;
  for (let o = 0; o < outer; o++) {
    const block = x + <usize>o * <usize>axis * <usize>inner * 4;
    const destination = out + <usize>o * <usize>inner * 4;
    for (let i = 0; i < sixteens; i += 16) sumColumns16(block, axis, inner, i, destination);
    for (let i = sixteens; i < fours; i += 4) sumColumns4(block, axis, inner, i, destination);
    for (let i = fours; i < inner; i++) sumColumn(block, axis, inner, i, destination);
  }
}

/** out[o, i] = Σ_j x[o, j, i] for float64 x and out (no scratch needed: out accumulates). */
export function sumAxisF64(x: usize, out: usize, outer: i32, axis: i32, inner: i32): void {
  if (inner == 1) {
    sumRows<f64>(x, out, outer, axis);
    return;
  }
  const whole = inner & ~1;
  for (let o = 0; o < outer; o++) {
    const destination = out + <usize>o * <usize>inner * 8;
    memory.fill(destination, 0, <usize>inner * 8);
    const block = x + <usize>o * <usize>axis * <usize>inner * 8;
    for (let j = 0; j < axis; j++) {
      const row = block + <usize>j * <usize>inner * 8;
      for (let i = 0; i < whole; i += 2) {
        const at = destination + <usize>i * 8;
        v128.store(at, f64x2.add(v128.load(at), v128.load(row + <usize>i * 8)));
      }
      if (whole < inner) {
        const at = destination + <usize>whole * 8;
        store<f64>(at, load<f64>(at) + load<f64>(row + <usize>whole * 8));
      }
    }
  }
}
