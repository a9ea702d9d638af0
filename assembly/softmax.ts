// The exponentials of a softmax over rows of float32 values, in float64 lanes: the part of a softmax (or of a
// cross-entropy's log-softmax) that costs. The host finishes each row from them (src/backend/wasm/softmax.ts)
// with the JavaScript kernel's formulas (src/backend/js/reduce.ts): x − max − log Σ and exp(x − max) / Σ.

import { Lanes } from "./elementwise";

/**
 * Below this, exp(y) is 0 in float64 (JavaScript's Math.exp gives 0); Lanes.exp clamps y to −708 instead, so
 * such lanes are set to 0 here. Between the two the clamped value is off, but it is below 1e-307 and only ever
 * added to a row's Σ, which is at least 1 (the row's largest value gives exp(0)).
 */
const EXP_UNDERFLOW: f64 = -745.2;

/** exp(y) of two float64 lanes, 0 where y is below EXP_UNDERFLOW (−∞ included). Binaryen inlines it. */
function shiftedExp(y: v128): v128 {
  return v128.bitselect(f64x2.splat(0), Lanes.exp(y), f64x2.lt(y, f64x2.splat(EXP_UNDERFLOW)));
}

/**
 * For each of `rows` rows of `columns` float32 values at x: the row's largest value m (compared as JavaScript
 * compares, so a NaN is never the largest; 0 when it is −∞), exps[j] = exp(x[j] − m) in float64 for every value
 * (two at a time; to about 1e-14 relative, see Lanes.exp), and Σ exps summed in the row's order. m and Σ go to
 * stats[2i] and stats[2i + 1] (float64).
 */
export function softmaxExpsF32(x: usize, rows: i32, columns: i32, exps: usize, stats: usize): void {
  for (let i = 0; i < rows; i++) {
    const row = x + <usize>i * columns * 4;
    const e = exps + <usize>i * columns * 8;
    let max: f64 = -Infinity;
    for (let j = 0; j < columns; j++) {
      const v = <f64>load<f32>(row + <usize>j * 4);
      if (v > max) max = v;
    }
    if (max == -Infinity) max = 0;
    const shift = f64x2.splat(max);
    let j = 0;
    for (; j + 2 <= columns; j += 2) {
      const y = f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(row + <usize>j * 4)), shift);
      v128.store(e + <usize>j * 8, shiftedExp(y));
    }
    if (j < columns) {
      const y = f64x2.sub(f64x2.splat(<f64>load<f32>(row + <usize>j * 4)), shift);
      store<f64>(e + <usize>j * 8, f64x2.extract_lane(shiftedExp(y), 0));
    }
    let total: f64 = 0;
    for (let k = 0; k < columns; k++) total += load<f64>(e + <usize>k * 8);
    store<f64>(stats + <usize>i * 16, max);
    store<f64>(stats + <usize>i * 16 + 8, total);
  }
}
