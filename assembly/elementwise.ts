// Elementwise kernels with WebAssembly SIMD.
//
// Arithmetic (neg, abs, relu, square, sqrt, reciprocal, sign; add, sub, mul, div, maximum, minimum) runs in the
// array's own precision and gives exactly the JavaScript kernels' results: a float32 operation rounded once is
// what JavaScript gets by computing in float64 and rounding to float32. exp, tanh and sigmoid of float32 arrays
// are computed in float64 lanes (exp and sigmoid through a degree-11 polynomial after range reduction, to about
// 1e-14 relative error; tanh through 2ⁿ and a degree-4 polynomial in u² with one division, to about 1e-15) and
// then rounded to float32, so they agree with JavaScript's Math functions except, very rarely, in the last bit.

// Unary operation codes (the host passes them: src/backend/wasm/elementwise.ts; test/backend/kernel-interface.test.ts
// checks that both sides agree).
const NEG = 0;
const ABS = 1;
export const RELU = 2;
const SQUARE = 3;
const SQRT = 4;
const RECIPROCAL = 5;
const SIGN = 6;
const EXP = 7;
export const TANH = 8;
export const SIGMOID = 9;

// Binary operation codes (the host passes them too; checked the same way).
const ADD = 0;
const SUB = 1;
const MUL = 2;
const DIV = 3;
const MAXIMUM = 4;
const MINIMUM = 5;

// float64 constants for exp: ln 2 split in a high part with trailing zero bits and a low correction.
const LOG2E = 1.4426950408889634;
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
/** ln 2 rounded to float64 (tanh reduces by n·(ln 2)/2 with |n| ≤ 29, where one constant is exact enough). */
const LN2 = 0.6931471805599453;
/** 1.5·2⁵²: adding it rounds a float64 of magnitude below 2⁵¹ to an integer held in the low mantissa bits. */
const ROUNDING_SHIFT = 6755399441055744.0;

/**
 * c + a·b in float64 lanes: a fused multiply-add in the relaxed-SIMD build where the engine has one (rounded
 * once), a multiply then an add otherwise. The functions below stay within their stated error either way.
 */
function madd64(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(c, f64x2.mul(a, b));
}

/** Vector kernels shared with the matmul epilogue (assembly/matmul.ts). */
export class Lanes {
  /** exp(y) in both float64 lanes; y is clamped to [−708, 709] (the caller rounds to float32 afterwards). */
  @inline static exp(y: v128): v128 {
    // pmin / pmax are single instructions and keep a NaN y (their comparison is false).
    y = f64x2.pmax(f64x2.pmin(y, f64x2.splat(709)), f64x2.splat(-708));
    // y = n ln 2 + r with |r| ≤ ln 2 / 2, so exp(y) = 2ⁿ exp(r). Adding 1.5·2⁵² rounds y·log₂e to the integer n
    // (to nearest, ties to even) and leaves n in the low bits of `shifted`.
    const shifted = f64x2.add(f64x2.mul(y, f64x2.splat(LOG2E)), f64x2.splat(ROUNDING_SHIFT));
    const n = f64x2.sub(shifted, f64x2.splat(ROUNDING_SHIFT));
    let r = f64x2.sub(y, f64x2.mul(n, f64x2.splat(LN2_HI)));
    r = f64x2.sub(r, f64x2.mul(n, f64x2.splat(LN2_LO)));
    // Taylor series of exp(r) to r¹¹ (remainder below 7e-15 for |r| ≤ 0.347), evaluated by Estrin's scheme:
    // pairs c + c'r combined with r², r⁴, r⁸, a much shorter dependency chain than Horner's rule.
    const r2 = f64x2.mul(r, r);
    const r4 = f64x2.mul(r2, r2);
    const r8 = f64x2.mul(r4, r4);
    const p01 = f64x2.add(f64x2.splat(1), r);
    const p23 = f64x2.add(f64x2.splat(1.0 / 2.0), f64x2.mul(r, f64x2.splat(1.0 / 6.0)));
    const p45 = f64x2.add(f64x2.splat(1.0 / 24.0), f64x2.mul(r, f64x2.splat(1.0 / 120.0)));
    const p67 = f64x2.add(f64x2.splat(1.0 / 720.0), f64x2.mul(r, f64x2.splat(1.0 / 5040.0)));
    const p89 = f64x2.add(f64x2.splat(1.0 / 40320.0), f64x2.mul(r, f64x2.splat(1.0 / 362880.0)));
    const p1011 = f64x2.add(f64x2.splat(1.0 / 3628800.0), f64x2.mul(r, f64x2.splat(1.0 / 39916800.0)));
    const p03 = f64x2.add(p01, f64x2.mul(r2, p23));
    const p47 = f64x2.add(p45, f64x2.mul(r2, p67));
    const p811 = f64x2.add(p89, f64x2.mul(r2, p1011));
    const p = f64x2.add(f64x2.add(p03, f64x2.mul(r4, p47)), f64x2.mul(r8, p811));
    // 2ⁿ from its exponent bits: the low bits of `shifted` are 2⁵¹ + n, and shifting (2⁵¹ + n + 1023) left by 52
    // keeps n + 1023 (n is in [−1022, 1023] after the clamp). A NaN lane stays NaN through p.
    const scale = i64x2.shl(i64x2.add(shifted, i64x2.splat(1023)), 52);
    return f64x2.mul(p, scale);
  }

  /**
   * tanh(x) in both float64 lanes, with one division and no branch. x, clamped to [−10, 10] (float32 tanh is ±1
   * from |x| ≈ 9.01 on), is split as x = n·(ln 2)/2 + u with |u| ≤ (ln 2)/4, so that e²ˣ = 2ⁿ·e²ᵘ = s·(h + u)/(h − u)
   * with s = 2ⁿ and h = u·coth u (since e²ᵘ = (cosh u + sinh u)/(cosh u − sinh u)). Then
   *
   *   tanh x = (e²ˣ − 1)/(e²ˣ + 1) = ((s + 1)·u − (1 − s)·h) / ((s + 1)·h − (1 − s)·u).
   *
   * s ± 1 are exact, and for n = 0 the numerator is exactly 2u − 0·h, so small |x| (down to subnormals) keep their
   * full relative precision without a separate series, and x = −0 gives −0. h is even in u: a degree-4 polynomial
   * in w = u², within 1.0e-15 of u·coth u for |u| ≤ (ln 2)/4, so tanh is good to about 1e-15 relative before its
   * rounding to float32. NaN stays NaN.
   */
  @inline static tanh(x: v128): v128 {
    // pmin / pmax keep a NaN x (their comparison is false), as in exp.
    x = f64x2.pmax(f64x2.pmin(x, f64x2.splat(10)), f64x2.splat(-10));
    // n = round(x·2/ln 2), in the low bits of `shifted` as in exp. |n| ≤ 29, so one float64 (ln 2)/2 is enough:
    // the error of n·(ln 2)/2 grows with |n|, but tanh's sensitivity to it, 2/sinh 2x, falls faster (below 1e-16).
    // With a fused multiply-add (madd64), `shifted` and u are each rounded once instead of twice; n is read back
    // from `shifted` itself, so u = x − n·(ln 2)/2 holds for the n used either way.
    const shifted = madd64(x, f64x2.splat(2 * LOG2E), f64x2.splat(ROUNDING_SHIFT));
    const n = f64x2.sub(shifted, f64x2.splat(ROUNDING_SHIFT));
    const u = madd64(n, f64x2.splat(-LN2 / 2), x);
    // h = u·coth u ≈ 1 + w/3 − w²/45 + 2w³/945 − w⁴/4725 (Chebyshev fit on [0, ((ln 2)/4)²], 50-digit mpmath
    // chebyfit; the Taylor coefficients would leave 5e-13), by Estrin's scheme.
    const w = f64x2.mul(u, u);
    const w2 = f64x2.mul(w, w);
    const h01 = madd64(w, f64x2.splat(0.33333333333164855), f64x2.splat(1.000000000000001));
    const h23 = madd64(w, f64x2.splat(0.002116360221169694), f64x2.splat(-0.02222222177322905));
    const h24 = madd64(w2, f64x2.splat(-0.00021004322792812048), h23);
    const h = madd64(w2, h24, h01);
    // s = 2ⁿ from its exponent bits, as in exp.
    const s = i64x2.shl(i64x2.add(shifted, i64x2.splat(1023)), 52);
    const plus = f64x2.add(s, f64x2.splat(1));
    const minus = f64x2.sub(f64x2.splat(1), s);
    // (s + 1)·u − (1 − s)·h and (s + 1)·h − (1 − s)·u: for n = 0 (1 − s = 0) the numerator is still exactly 2u.
    const numerator = madd64(f64x2.neg(minus), h, f64x2.mul(plus, u));
    const denominator = madd64(f64x2.neg(minus), u, f64x2.mul(plus, h));
    return f64x2.div(numerator, denominator);
  }

  /** σ(x) = 1 / (1 + exp(−x)) in both float64 lanes, computed as e / (1 + e) with e = exp(x) for x < 0. */
  @inline static sigmoid(x: v128): v128 {
    const e = Lanes.exp(f64x2.neg(f64x2.abs(x)));
    const positive = f64x2.div(f64x2.splat(1), f64x2.add(f64x2.splat(1), e));
    const negative = f64x2.mul(e, positive);
    return v128.bitselect(positive, negative, f64x2.ge(x, f64x2.splat(0)));
  }

  /** One float64-lane transcendental `op` applied to four float32 lanes. */
  @inline static widened(op: i32, v: v128): v128 {
    let low = f64x2.promote_low_f32x4(v);
    let high = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    if (op == EXP) {
      low = Lanes.exp(low);
      high = Lanes.exp(high);
    } else if (op == TANH) {
      low = Lanes.tanh(low);
      high = Lanes.tanh(high);
    } else {
      low = Lanes.sigmoid(low);
      high = Lanes.sigmoid(high);
    }
    return v128.shuffle<f32>(f32x4.demote_f64x2_zero(low), f32x4.demote_f64x2_zero(high), 0, 1, 4, 5);
  }

  /** Unary arithmetic `op` on a vector of T lanes (exact: one rounding, as JavaScript does). */
  @inline static arithmetic<T>(op: i32, v: v128): v128 {
    const zero = v128.splat<T>(<T>0);
    if (op == NEG) return v128.neg<T>(v);
    if (op == ABS) return v128.abs<T>(v);
    // relu: v > 0 ? v : 0 (NaN gives 0, as in JavaScript)
    if (op == RELU) return v128.and(v, v128.gt<T>(v, zero));
    if (op == SQUARE) return v128.mul<T>(v, v);
    if (op == SQRT) return v128.sqrt<T>(v);
    if (op == RECIPROCAL) return v128.div<T>(v128.splat<T>(<T>1), v);
    // sign: v > 0 ? 1 : v < 0 ? −1 : v (keeps ±0 and NaN)
    const one = v128.splat<T>(<T>1);
    return v128.bitselect(one, v128.bitselect(v128.neg<T>(one), v, v128.lt<T>(v, zero)), v128.gt<T>(v, zero));
  }

  /**
   * The whole unary loop for one constant `op` (inlined per op, so the branches on `op` fold away). The last
   * vector may reach past n: the host pads both regions to a multiple of 16 bytes.
   */
  @inline static unaryLoop<T>(op: i32, x: usize, out: usize, n: i32): void {
    const size = <usize>sizeof<T>();
    const lanes: i32 = 16 / <i32>sizeof<T>();
    let i = 0;
    if (op >= EXP) {
      // Two vectors a turn: each value's float64 chain ends in a division and waits on it, and the four chains
      // of two vectors overlap (tanh: 1.2× faster than one vector a turn; four a turn gained nothing more).
      for (; i + 2 * lanes <= n; i += 2 * lanes) {
        const at = <usize>i * size;
        const v = v128.load(x + at);
        const v2 = v128.load(x + at + 16);
        v128.store(out + at, Lanes.widened(op, v));
        v128.store(out + at + 16, Lanes.widened(op, v2));
      }
    }
    for (; i < n; i += lanes) {
      const at = <usize>i * size;
      const v = v128.load(x + at);
      v128.store(out + at, op >= EXP ? Lanes.widened(op, v) : Lanes.arithmetic<T>(op, v));
    }
  }

  /** Binary `op` on vectors of T lanes; maximum and minimum follow JavaScript's a ≥ b || a is NaN ? a : b. */
  @inline static binary<T>(op: i32, a: v128, b: v128): v128 {
    if (op == ADD) return v128.add<T>(a, b);
    if (op == SUB) return v128.sub<T>(a, b);
    if (op == MUL) return v128.mul<T>(a, b);
    if (op == DIV) return v128.div<T>(a, b);
    const keepA = op == MAXIMUM ? v128.ge<T>(a, b) : v128.le<T>(a, b);
    return v128.bitselect(a, b, v128.or(keepA, v128.ne<T>(a, a)));
  }

  /**
   * One row of a broadcast binary op: out[i] = a[i·aStep] op b[i·bStep] for i < n, where each step is 0 (the
   * operand's value repeats along the row) or 1. Inlined with constant steps, so each loop has no branches.
   */
  @inline static binaryRow<T>(op: i32, a: usize, aStep: i32, b: usize, bStep: i32, out: usize, n: i32): void {
    const size = <usize>sizeof<T>();
    const lanes: i32 = 16 / <i32>sizeof<T>();
    const whole = n & ~(lanes - 1);
    const aSplat = v128.splat<T>(load<T>(a));
    const bSplat = v128.splat<T>(load<T>(b));
    for (let i = 0; i < whole; i += lanes) {
      const at = <usize>i * size;
      const va = aStep ? v128.load(a + at) : aSplat;
      const vb = bStep ? v128.load(b + at) : bSplat;
      v128.store(out + at, Lanes.binary<T>(op, va, vb));
    }
    for (let i = whole; i < n; i++) {
      const va = v128.splat<T>(load<T>(a + <usize>(i * aStep) * size));
      const vb = v128.splat<T>(load<T>(b + <usize>(i * bStep) * size));
      store<T>(out + <usize>i * size, v128.extract_lane<T>(Lanes.binary<T>(op, va, vb), 0));
    }
  }

  /** A row of a broadcast binary op for one constant `op`, dispatched once on the operands' steps. */
  @inline static binaryRowSteps<T>(
    op: i32,
    a: usize,
    aStep: i32,
    b: usize,
    bStep: i32,
    out: usize,
    n: i32,
  ): void {
    if (aStep && bStep) Lanes.binaryRow<T>(op, a, 1, b, 1, out, n);
    else if (aStep) Lanes.binaryRow<T>(op, a, 1, b, 0, out, n);
    else if (bStep) Lanes.binaryRow<T>(op, a, 0, b, 1, out, n);
    else Lanes.binaryRow<T>(op, a, 0, b, 0, out, n);
  }

  @inline static binaryLoop<T>(
    op: i32,
    a: usize,
    aRowStride: i32,
    aStep: i32,
    b: usize,
    bRowStride: i32,
    bStep: i32,
    out: usize,
    rows: i32,
    columns: i32,
  ): void {
    const size = <usize>sizeof<T>();
    for (let r = 0; r < rows; r++) {
      Lanes.binaryRowSteps<T>(
        op,
        a + <usize>(r * aRowStride) * size,
        aStep,
        b + <usize>(r * bRowStride) * size,
        bStep,
        out + <usize>(r * columns) * size,
        columns,
      );
    }
  }
}

function unary<T>(op: i32, x: usize, out: usize, n: i32): void {
  switch (op) {
    case NEG:
      Lanes.unaryLoop<T>(NEG, x, out, n);
      break;
    case ABS:
      Lanes.unaryLoop<T>(ABS, x, out, n);
      break;
    case RELU:
      Lanes.unaryLoop<T>(RELU, x, out, n);
      break;
    case SQUARE:
      Lanes.unaryLoop<T>(SQUARE, x, out, n);
      break;
    case SQRT:
      Lanes.unaryLoop<T>(SQRT, x, out, n);
      break;
    case RECIPROCAL:
      Lanes.unaryLoop<T>(RECIPROCAL, x, out, n);
      break;
    case SIGN:
      Lanes.unaryLoop<T>(SIGN, x, out, n);
      break;
  }
}

/** out[i] = op(x[i]) for float32 arrays of n values (every unary code), regions padded to 16 bytes. */
export function unaryF32(op: i32, x: usize, out: usize, n: i32): void {
  if (op == EXP) Lanes.unaryLoop<f32>(EXP, x, out, n);
  else if (op == TANH) Lanes.unaryLoop<f32>(TANH, x, out, n);
  else if (op == SIGMOID) Lanes.unaryLoop<f32>(SIGMOID, x, out, n);
  else unary<f32>(op, x, out, n);
}

/** out[i] = op(x[i]) for float64 arrays of n values (arithmetic codes only: NEG … SIGN), regions padded to 16 bytes. */
export function unaryF64(op: i32, x: usize, out: usize, n: i32): void {
  unary<f64>(op, x, out, n);
}

function binary<T>(
  op: i32,
  a: usize,
  aRowStride: i32,
  aStep: i32,
  b: usize,
  bRowStride: i32,
  bStep: i32,
  out: usize,
  rows: i32,
  columns: i32,
): void {
  switch (op) {
    case ADD:
      Lanes.binaryLoop<T>(ADD, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
      break;
    case SUB:
      Lanes.binaryLoop<T>(SUB, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
      break;
    case MUL:
      Lanes.binaryLoop<T>(MUL, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
      break;
    case DIV:
      Lanes.binaryLoop<T>(DIV, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
      break;
    case MAXIMUM:
      Lanes.binaryLoop<T>(MAXIMUM, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
      break;
    case MINIMUM:
      Lanes.binaryLoop<T>(MINIMUM, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
      break;
  }
}

/**
 * out[r, c] = a[r·aRowStride + c·aStep] op b[r·bRowStride + c·bStep] over a rows × columns output, in float32.
 * Strides are in elements; a step of 0 repeats the operand's value along a row (a column vector or a scalar).
 */
export function binaryF32(
  op: i32,
  a: usize,
  aRowStride: i32,
  aStep: i32,
  b: usize,
  bRowStride: i32,
  bStep: i32,
  out: usize,
  rows: i32,
  columns: i32,
): void {
  binary<f32>(op, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
}

/** The float64 version of `binaryF32`. */
export function binaryF64(
  op: i32,
  a: usize,
  aRowStride: i32,
  aStep: i32,
  b: usize,
  bRowStride: i32,
  bStep: i32,
  out: usize,
  rows: i32,
  columns: i32,
): void {
  binary<f64>(op, a, aRowStride, aStep, b, bRowStride, bStep, out, rows, columns);
}
