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

/** out[o, i] = Σ_j x[o, j, i] for float32 x and out; `scratch` holds `inner` float64 accumulators. */
export function sumAxisF32(x: usize, out: usize, outer: i32, axis: i32, inner: i32, scratch: usize): void {
  if (inner == 1) {
    sumRows<f32>(x, out, outer, axis);
    return;
  }
  const whole = inner & ~3;
  for (let o = 0; o < outer; o++) {
    memory.fill(scratch, 0, <usize>inner * 8);
    const block = x + <usize>o * <usize>axis * <usize>inner * 4;
    for (let j = 0; j < axis; j++) {
      const row = block + <usize>j * <usize>inner * 4;
      for (let i = 0; i < whole; i += 4) {
        const v = v128.load(row + <usize>i * 4);
        const at = scratch + <usize>i * 8;
        v128.store(at, f64x2.add(v128.load(at), f64x2.promote_low_f32x4(v)));
        v128.store(
          at,
          f64x2.add(v128.load(at, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))),
          16,
        );
      }
      for (let i = whole; i < inner; i++) {
        const at = scratch + <usize>i * 8;
        store<f64>(at, load<f64>(at) + <f64>load<f32>(row + <usize>i * 4));
      }
    }
    const destination = out + <usize>o * <usize>inner * 4;
    for (let i = 0; i < whole; i += 4) {
      const at = scratch + <usize>i * 8;
      const low = f32x4.demote_f64x2_zero(v128.load(at));
      const high = f32x4.demote_f64x2_zero(v128.load(at, 16));
      v128.store(destination + <usize>i * 4, v128.shuffle<f32>(low, high, 0, 1, 4, 5));
    }
    for (let i = whole; i < inner; i++)
      store<f32>(destination + <usize>i * 4, <f32>load<f64>(scratch + <usize>i * 8));
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
