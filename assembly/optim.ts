// Optimiser updates with WebAssembly SIMD: SGD (momentum, dampening, Nesterov, weight decay), Adam / AdamW and
// AdaGrad, each over a dense span and over the rows of a row-sparse gradient.
//
// Parameters and state buffers are float32 (…F32) or float64 (…F64) arrays; the arithmetic is float64 in every
// case, two lanes at a time, in exactly the order of src/nn/optim.ts's JavaScript loops, and each value is rounded
// once to the storage type when stored. A state value the JavaScript loop stores and reads back (the momentum
// buffer, Adam's moments, AdaGrad's sum) is read back here after the same rounding. So the results are the
// JavaScript optimisers' results bit for bit (test/nn/optim-wasm.test.ts checks it).
//
// Addresses are byte addresses in this module's memory; `rows` holds int32 row indices. The dense kernels update
// values [0, n); the row kernels update, for k < rowCount, row rows[k] of the parameter and its state (rowSize
// values each) from row k of `grad`. Nothing is read or written outside those spans.

import { TOUCH_BLOCK_ROWS, touchRows } from "./rows";

/**
 * Reads the rows rows[first], … (the next TOUCH_BLOCK_ROWS of them, of rowCount) of the tables at `a`, `b` and
 * `c` (0: none) once, ahead of their update (see `touchRows`), where they lie far enough apart: on average 4
 * rows or more from one to the next (ascending, a coalesced gradient's; see `touchAhead` in src/nn/optim.ts).
 */
function touchAhead(
  rows: usize,
  first: i32,
  rowCount: i32,
  rowBytes: usize,
  a: usize,
  b: usize,
  c: usize,
): void {
  const count = min(rowCount - first, TOUCH_BLOCK_ROWS);
  const block = rows + ((<usize>first) << 2);
  const low = load<i32>(block);
  const high = load<i32>(block + ((<usize>(count - 1)) << 2));
  if (high - low < 4 * count) return;
  touchRows(a, block, count, rowBytes);
  if (b != 0) touchRows(b, block, count, rowBytes);
  if (c != 0) touchRows(c, block, count, rowBytes);
}

/** Bit of `flags` in the SGD kernels: Nesterov momentum. */
const NESTEROV = 1;
/** Bit of `flags` in the SGD kernels: the parameter's first step (the momentum buffer starts as the gradient). */
const FIRST = 2;

/** The update rules on float64 lanes, inlined into each exported kernel with T (the storage type) fixed. */
class Update {
  /** Loads `count` (1 or 2) values of type T at `at` as float64 lanes. */
  @inline static load2<T>(at: usize, count: i32): v128 {
    if (sizeof<T>() == 4) {
      return count == 2 ? f64x2.promote_low_f32x4(v128.load64_zero(at)) : f64x2.splat(<f64>load<f32>(at));
    }
    return count == 2 ? v128.load(at) : f64x2.splat(load<f64>(at));
  }

  /** Stores the first `count` (1 or 2) float64 lanes of `v` at `at`, rounded to T. */
  @inline static store2<T>(at: usize, v: v128, count: i32): void {
    if (sizeof<T>() == 4) {
      const narrow = f32x4.demote_f64x2_zero(v);
      if (count == 2) v128.store64_lane(at, narrow, 0);
      else store<f32>(at, f32x4.extract_lane(narrow, 0));
    } else if (count == 2) v128.store(at, v);
    else store<f64>(at, f64x2.extract_lane(v, 0));
  }

  /** `v` as it reads back after being stored as T (rounded to float32 and widened again for T = f32). */
  @inline static rounded<T>(v: v128): v128 {
    if (sizeof<T>() == 4) return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(v));
    return v;
  }

  @inline static sgdLanes<T>(
    p: usize,
    g: usize,
    b: usize,
    count: i32,
    lr: v128,
    weightDecay: v128,
    momentum: v128,
    keep: v128,
    flags: i32,
    useMomentum: bool,
  ): void {
    const theta = Update.load2<T>(p, count);
    const grad = f64x2.add(Update.load2<T>(g, count), f64x2.mul(weightDecay, theta));
    if (!useMomentum) {
      Update.store2<T>(p, f64x2.sub(theta, f64x2.mul(lr, grad)), count);
      return;
    }
    const next =
      flags & FIRST ? grad : f64x2.add(f64x2.mul(momentum, Update.load2<T>(b, count)), f64x2.mul(keep, grad));
    Update.store2<T>(b, next, count);
    const stored = Update.rounded<T>(next);
    const direction = flags & NESTEROV ? f64x2.add(grad, f64x2.mul(momentum, stored)) : stored;
    Update.store2<T>(p, f64x2.sub(theta, f64x2.mul(lr, direction)), count);
  }

  @inline static sgdSpan<T>(
    p: usize,
    g: usize,
    b: usize,
    n: i32,
    lr: f64,
    weightDecay: f64,
    momentum: f64,
    keep: f64,
    flags: i32,
  ): void {
    const size = <usize>sizeof<T>();
    const vlr = f64x2.splat(lr);
    const vdecay = f64x2.splat(weightDecay);
    const vmomentum = f64x2.splat(momentum);
    const vkeep = f64x2.splat(keep);
    const whole = n & ~1;
    if (momentum == 0) {
      for (let i = 0; i < whole; i += 2) {
        const at = <usize>i * size;
        Update.sgdLanes<T>(p + at, g + at, 0, 2, vlr, vdecay, vmomentum, vkeep, flags, false);
      }
      if (whole < n) {
        const at = <usize>whole * size;
        Update.sgdLanes<T>(p + at, g + at, 0, 1, vlr, vdecay, vmomentum, vkeep, flags, false);
      }
      return;
    }
    for (let i = 0; i < whole; i += 2) {
      const at = <usize>i * size;
      Update.sgdLanes<T>(p + at, g + at, b + at, 2, vlr, vdecay, vmomentum, vkeep, flags, true);
    }
    if (whole < n) {
      const at = <usize>whole * size;
      Update.sgdLanes<T>(p + at, g + at, b + at, 1, vlr, vdecay, vmomentum, vkeep, flags, true);
    }
  }

  @inline static sgdRows<T>(
    p: usize,
    g: usize,
    b: usize,
    rows: usize,
    rowCount: i32,
    rowSize: i32,
    lr: f64,
    weightDecay: f64,
    momentum: f64,
    keep: f64,
    flags: i32,
  ): void {
    const rowBytes = <usize>rowSize * sizeof<T>();
    for (let k = 0; k < rowCount; k++) {
      if (k % TOUCH_BLOCK_ROWS == 0) touchAhead(rows, k, rowCount, rowBytes, p, momentum != 0 ? b : 0, 0);
      const at = <usize>load<i32>(rows + ((<usize>k) << 2)) * rowBytes;
      Update.sgdSpan<T>(
        p + at,
        g + <usize>k * rowBytes,
        b + at,
        rowSize,
        lr,
        weightDecay,
        momentum,
        keep,
        flags,
      );
    }
  }

  @inline static adamLanes<T>(
    p: usize,
    g: usize,
    m: usize,
    v: usize,
    count: i32,
    beta1: v128,
    rest1: v128,
    beta2: v128,
    rest2: v128,
    stepSize: v128,
    correction2: v128,
    eps: v128,
    l2: v128,
    shrink: v128,
  ): void {
    const theta = f64x2.mul(Update.load2<T>(p, count), shrink);
    const grad = f64x2.add(Update.load2<T>(g, count), f64x2.mul(l2, theta));
    const first = f64x2.add(f64x2.mul(beta1, Update.load2<T>(m, count)), f64x2.mul(rest1, grad));
    const second = f64x2.add(
      f64x2.mul(beta2, Update.load2<T>(v, count)),
      f64x2.mul(f64x2.mul(rest2, grad), grad),
    );
    Update.store2<T>(m, first, count);
    Update.store2<T>(v, second, count);
    const denominator = f64x2.add(f64x2.div(f64x2.sqrt(Update.rounded<T>(second)), correction2), eps);
    Update.store2<T>(
      p,
      f64x2.sub(theta, f64x2.div(f64x2.mul(stepSize, Update.rounded<T>(first)), denominator)),
      count,
    );
  }

  @inline static adamSpan<T>(
    p: usize,
    g: usize,
    m: usize,
    v: usize,
    n: i32,
    beta1: f64,
    beta2: f64,
    stepSize: f64,
    correction2: f64,
    eps: f64,
    l2: f64,
    shrink: f64,
  ): void {
    const size = <usize>sizeof<T>();
    const vbeta1 = f64x2.splat(beta1);
    const vrest1 = f64x2.splat(1 - beta1);
    const vbeta2 = f64x2.splat(beta2);
    const vrest2 = f64x2.splat(1 - beta2);
    const vstep = f64x2.splat(stepSize);
    const vcorrection = f64x2.splat(correction2);
    const veps = f64x2.splat(eps);
    const vl2 = f64x2.splat(l2);
    const vshrink = f64x2.splat(shrink);
    const whole = n & ~1;
    for (let i = 0; i < whole; i += 2) {
      const at = <usize>i * size;
      Update.adamLanes<T>(
        p + at,
        g + at,
        m + at,
        v + at,
        2,
        vbeta1,
        vrest1,
        vbeta2,
        vrest2,
        vstep,
        vcorrection,
        veps,
        vl2,
        vshrink,
      );
    }
    if (whole < n) {
      const at = <usize>whole * size;
      Update.adamLanes<T>(
        p + at,
        g + at,
        m + at,
        v + at,
        1,
        vbeta1,
        vrest1,
        vbeta2,
        vrest2,
        vstep,
        vcorrection,
        veps,
        vl2,
        vshrink,
      );
    }
  }

  @inline static adamRows<T>(
    p: usize,
    g: usize,
    m: usize,
    v: usize,
    rows: usize,
    rowCount: i32,
    rowSize: i32,
    beta1: f64,
    beta2: f64,
    stepSize: f64,
    correction2: f64,
    eps: f64,
    l2: f64,
    shrink: f64,
  ): void {
    const rowBytes = <usize>rowSize * sizeof<T>();
    for (let k = 0; k < rowCount; k++) {
      if (k % TOUCH_BLOCK_ROWS == 0) touchAhead(rows, k, rowCount, rowBytes, p, m, v);
      const at = <usize>load<i32>(rows + ((<usize>k) << 2)) * rowBytes;
      Update.adamSpan<T>(
        p + at,
        g + <usize>k * rowBytes,
        m + at,
        v + at,
        rowSize,
        beta1,
        beta2,
        stepSize,
        correction2,
        eps,
        l2,
        shrink,
      );
    }
  }

  @inline static adagradLanes<T>(
    p: usize,
    g: usize,
    s: usize,
    count: i32,
    rate: v128,
    weightDecay: v128,
    eps: v128,
  ): void {
    const theta = Update.load2<T>(p, count);
    const grad = f64x2.add(Update.load2<T>(g, count), f64x2.mul(weightDecay, theta));
    const sum = f64x2.add(Update.load2<T>(s, count), f64x2.mul(grad, grad));
    Update.store2<T>(s, sum, count);
    const denominator = f64x2.add(f64x2.sqrt(Update.rounded<T>(sum)), eps);
    Update.store2<T>(p, f64x2.sub(theta, f64x2.div(f64x2.mul(rate, grad), denominator)), count);
  }

  @inline static adagradSpan<T>(
    p: usize,
    g: usize,
    s: usize,
    n: i32,
    rate: f64,
    weightDecay: f64,
    eps: f64,
  ): void {
    const size = <usize>sizeof<T>();
    const vrate = f64x2.splat(rate);
    const vdecay = f64x2.splat(weightDecay);
    const veps = f64x2.splat(eps);
    const whole = n & ~1;
    for (let i = 0; i < whole; i += 2) {
      const at = <usize>i * size;
      Update.adagradLanes<T>(p + at, g + at, s + at, 2, vrate, vdecay, veps);
    }
    if (whole < n) {
      const at = <usize>whole * size;
      Update.adagradLanes<T>(p + at, g + at, s + at, 1, vrate, vdecay, veps);
    }
  }

  @inline static adagradRows<T>(
    p: usize,
    g: usize,
    s: usize,
    rows: usize,
    rowCount: i32,
    rowSize: i32,
    rate: f64,
    weightDecay: f64,
    eps: f64,
  ): void {
    const rowBytes = <usize>rowSize * sizeof<T>();
    for (let k = 0; k < rowCount; k++) {
      if (k % TOUCH_BLOCK_ROWS == 0) touchAhead(rows, k, rowCount, rowBytes, p, s, 0);
      const at = <usize>load<i32>(rows + ((<usize>k) << 2)) * rowBytes;
      Update.adagradSpan<T>(p + at, g + <usize>k * rowBytes, s + at, rowSize, rate, weightDecay, eps);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// SGD: g = grad + λθ; without momentum θ ← θ − αg; with momentum μ: b ← first ? g : μb + (1 − dampening)g,
// θ ← θ − α(nesterov ? g + μb : b).

/**
 * SGD on n float32 values. `buffer` (the momentum buffer) is read only when momentum ≠ 0; keep = 1 − dampening;
 * flags: 1 Nesterov, 2 first step.
 */
export function sgdF32(
  param: usize,
  grad: usize,
  buffer: usize,
  n: i32,
  lr: f64,
  weightDecay: f64,
  momentum: f64,
  keep: f64,
  flags: i32,
): void {
  Update.sgdSpan<f32>(param, grad, buffer, n, lr, weightDecay, momentum, keep, flags);
}

/** SGD on n float64 values (see sgdF32). */
export function sgdF64(
  param: usize,
  grad: usize,
  buffer: usize,
  n: i32,
  lr: f64,
  weightDecay: f64,
  momentum: f64,
  keep: f64,
  flags: i32,
): void {
  Update.sgdSpan<f64>(param, grad, buffer, n, lr, weightDecay, momentum, keep, flags);
}

/** SGD on the rows of a row-sparse float32 gradient (see sgdF32). */
export function sgdRowsF32(
  param: usize,
  grad: usize,
  buffer: usize,
  rows: usize,
  rowCount: i32,
  rowSize: i32,
  lr: f64,
  weightDecay: f64,
  momentum: f64,
  keep: f64,
  flags: i32,
): void {
  Update.sgdRows<f32>(param, grad, buffer, rows, rowCount, rowSize, lr, weightDecay, momentum, keep, flags);
}

/** SGD on the rows of a row-sparse float64 gradient (see sgdF32). */
export function sgdRowsF64(
  param: usize,
  grad: usize,
  buffer: usize,
  rows: usize,
  rowCount: i32,
  rowSize: i32,
  lr: f64,
  weightDecay: f64,
  momentum: f64,
  keep: f64,
  flags: i32,
): void {
  Update.sgdRows<f64>(param, grad, buffer, rows, rowCount, rowSize, lr, weightDecay, momentum, keep, flags);
}

// ---------------------------------------------------------------------------------------------------------
// Adam: θ' = θ·shrink, g = grad + l2·θ', m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g·g,
// θ ← θ' − stepSize·m / (√v / correction2 + ε). Adam passes shrink = 1; AdamW passes l2 = 0.

/**
 * Adam / AdamW on n float32 values with moments `expAvg` and `expAvgSq`. At step t: stepSize = α / (1 − β₁ᵗ),
 * correction2 = √(1 − β₂ᵗ); Adam: l2 = λ, shrink = 1; AdamW: l2 = 0, shrink = 1 − αλ.
 */
export function adamF32(
  param: usize,
  grad: usize,
  expAvg: usize,
  expAvgSq: usize,
  n: i32,
  beta1: f64,
  beta2: f64,
  stepSize: f64,
  correction2: f64,
  eps: f64,
  l2: f64,
  shrink: f64,
): void {
  Update.adamSpan<f32>(
    param,
    grad,
    expAvg,
    expAvgSq,
    n,
    beta1,
    beta2,
    stepSize,
    correction2,
    eps,
    l2,
    shrink,
  );
}

/** Adam / AdamW on n float64 values (see adamF32). */
export function adamF64(
  param: usize,
  grad: usize,
  expAvg: usize,
  expAvgSq: usize,
  n: i32,
  beta1: f64,
  beta2: f64,
  stepSize: f64,
  correction2: f64,
  eps: f64,
  l2: f64,
  shrink: f64,
): void {
  Update.adamSpan<f64>(
    param,
    grad,
    expAvg,
    expAvgSq,
    n,
    beta1,
    beta2,
    stepSize,
    correction2,
    eps,
    l2,
    shrink,
  );
}

/** Adam / AdamW on the rows of a row-sparse float32 gradient (lazy Adam; see adamF32). */
export function adamRowsF32(
  param: usize,
  grad: usize,
  expAvg: usize,
  expAvgSq: usize,
  rows: usize,
  rowCount: i32,
  rowSize: i32,
  beta1: f64,
  beta2: f64,
  stepSize: f64,
  correction2: f64,
  eps: f64,
  l2: f64,
  shrink: f64,
): void {
  Update.adamRows<f32>(
    param,
    grad,
    expAvg,
    expAvgSq,
    rows,
    rowCount,
    rowSize,
    beta1,
    beta2,
    stepSize,
    correction2,
    eps,
    l2,
    shrink,
  );
}

/** Adam / AdamW on the rows of a row-sparse float64 gradient (see adamF32). */
export function adamRowsF64(
  param: usize,
  grad: usize,
  expAvg: usize,
  expAvgSq: usize,
  rows: usize,
  rowCount: i32,
  rowSize: i32,
  beta1: f64,
  beta2: f64,
  stepSize: f64,
  correction2: f64,
  eps: f64,
  l2: f64,
  shrink: f64,
): void {
  Update.adamRows<f64>(
    param,
    grad,
    expAvg,
    expAvgSq,
    rows,
    rowCount,
    rowSize,
    beta1,
    beta2,
    stepSize,
    correction2,
    eps,
    l2,
    shrink,
  );
}

// ---------------------------------------------------------------------------------------------------------
// AdaGrad: g = grad + λθ, G ← G + g·g, θ ← θ − rate·g / (√G + ε), rate = α / (1 + (t − 1)·lrDecay).

/** AdaGrad on n float32 values with accumulator `sum`; rate = α / (1 + (t − 1)·lrDecay) at step t. */
export function adagradF32(
  param: usize,
  grad: usize,
  sum: usize,
  n: i32,
  rate: f64,
  weightDecay: f64,
  eps: f64,
): void {
  Update.adagradSpan<f32>(param, grad, sum, n, rate, weightDecay, eps);
}

/** AdaGrad on n float64 values (see adagradF32). */
export function adagradF64(
  param: usize,
  grad: usize,
  sum: usize,
  n: i32,
  rate: f64,
  weightDecay: f64,
  eps: f64,
): void {
  Update.adagradSpan<f64>(param, grad, sum, n, rate, weightDecay, eps);
}

/** AdaGrad on the rows of a row-sparse float32 gradient (see adagradF32). */
export function adagradRowsF32(
  param: usize,
  grad: usize,
  sum: usize,
  rows: usize,
  rowCount: i32,
  rowSize: i32,
  rate: f64,
  weightDecay: f64,
  eps: f64,
): void {
  Update.adagradRows<f32>(param, grad, sum, rows, rowCount, rowSize, rate, weightDecay, eps);
}

/** AdaGrad on the rows of a row-sparse float64 gradient (see adagradF32). */
export function adagradRowsF64(
  param: usize,
  grad: usize,
  sum: usize,
  rows: usize,
  rowCount: i32,
  rowSize: i32,
  rate: f64,
  weightDecay: f64,
  eps: f64,
): void {
  Update.adagradRows<f64>(param, grad, sum, rows, rowCount, rowSize, rate, weightDecay, eps);
}
