import type { TypedArray } from "../../tensor/dtype.js";
import type { ActivationKernel, BinaryKernel, UnaryKernel } from "../backend.js";
import { collapseBroadcast } from "../broadcast.js";

export function unary(op: UnaryKernel, x: TypedArray, out: TypedArray): void {
  const n = x.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) out[i] = -x[i]!;
      return;
    case "exp":
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!);
      return;
    case "log":
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!);
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!);
      return;
    case "abs":
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!);
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        // Two branches keep exp's argument non-positive, so neither overflows.
        if (v >= 0) out[i] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          out[i] = e / (1 + e);
        }
      }
      return;
    case "tanh":
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!);
      return;
    case "relu":
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v > 0 ? v : 0;
      }
      return;
    case "sin":
      for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]!);
      return;
    case "cos":
      for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]!);
      return;
    case "square":
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v * v;
      }
      return;
    case "sign":
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v > 0 ? 1 : v < 0 ? -1 : v;
      }
      return;
    case "reciprocal":
      for (let i = 0; i < n; i++) out[i] = 1 / x[i]!;
      return;
    case "copy":
      out.set(x);
      return;
  }
}

type Scalar2 = (a: number, b: number) => number;

const BINARY_FUNCTIONS: Record<BinaryKernel, Scalar2> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
  maximum: (a, b) => (a >= b || Number.isNaN(a) ? a : b),
  minimum: (a, b) => (a <= b || Number.isNaN(a) ? a : b),
  greater: (a, b) => (a > b ? 1 : 0),
  greaterEqual: (a, b) => (a >= b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  lessEqual: (a, b) => (a <= b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
};

/** Same-shape loops for the common ops, written out so V8 inlines the arithmetic. */
function sameShape(op: BinaryKernel, a: TypedArray, b: TypedArray, out: TypedArray): void {
  const n = out.length;
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
      return;
    case "sub":
      for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!;
      return;
    case "mul":
      for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
      return;
    case "div":
      for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!;
      return;
    default: {
      const f = BINARY_FUNCTIONS[op];
      for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
    }
  }
}

/** `a` op scalar `s` (or scalar op `a` when `swap`). */
function withScalar(op: BinaryKernel, a: TypedArray, s: number, out: TypedArray, swap: boolean): void {
  const n = out.length;
  if (!swap) {
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = a[i]! + s;
        return;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = a[i]! - s;
        return;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = a[i]! * s;
        return;
      case "div":
        for (let i = 0; i < n; i++) out[i] = a[i]! / s;
        return;
      default: {
        const f = BINARY_FUNCTIONS[op];
        for (let i = 0; i < n; i++) out[i] = f(a[i]!, s);
        return;
      }
    }
  }
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) out[i] = s + a[i]!;
      return;
    case "sub":
      for (let i = 0; i < n; i++) out[i] = s - a[i]!;
      return;
    case "mul":
      for (let i = 0; i < n; i++) out[i] = s * a[i]!;
      return;
    default: {
      const f = BINARY_FUNCTIONS[op];
      for (let i = 0; i < n; i++) out[i] = f(s, a[i]!);
    }
  }
}

export function binary(
  op: BinaryKernel,
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  const n = out.length;
  if (n === 0) return;
  if (a.length === n && b.length === n) return sameShape(op, a, b, out);
  if (b.length === 1 && a.length === n) return withScalar(op, a, b[0]!, out, false);
  if (a.length === 1 && b.length === n) return withScalar(op, b, a[0]!, out, true);
  const { shape, aStrides: as, bStrides: bs } = collapseBroadcast(aShape, bShape, outShape);
  const f = BINARY_FUNCTIONS[op];
  const ndim = shape.length;
  if (ndim === 0) {
    out[0] = f(a[0]!, b[0]!);
    return;
  }
  const inner = shape[ndim - 1]!;
  const sa = as[ndim - 1]!;
  const sb = bs[ndim - 1]!;
  const index = new Array<number>(ndim).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < n; o += inner) {
    if (op === "add") for (let j = 0; j < inner; j++) out[o + j] = a[ia + j * sa]! + b[ib + j * sb]!;
    else if (op === "mul") for (let j = 0; j < inner; j++) out[o + j] = a[ia + j * sa]! * b[ib + j * sb]!;
    else if (op === "sub") for (let j = 0; j < inner; j++) out[o + j] = a[ia + j * sa]! - b[ib + j * sb]!;
    else for (let j = 0; j < inner; j++) out[o + j] = f(a[ia + j * sa]!, b[ib + j * sb]!);
    // Advance the multi-index over the outer dimensions.
    for (let d = ndim - 2; d >= 0; d--) {
      index[d]!++;
      ia += as[d]!;
      ib += bs[d]!;
      if (index[d]! < shape[d]!) break;
      ia -= as[d]! * shape[d]!;
      ib -= bs[d]! * shape[d]!;
      index[d] = 0;
    }
  }
}

/** Expands `x` to `outShape` by repeating broadcast dimensions. */
export function broadcastTo(
  x: TypedArray,
  shape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  const n = out.length;
  if (n === 0) return;
  if (x.length === n) {
    out.set(x);
    return;
  }
  if (x.length === 1) {
    out.fill(x[0]!);
    return;
  }
  const { shape: cshape, aStrides: as } = collapseBroadcast(shape, shape, outShape);
  const ndim = cshape.length;
  const inner = cshape[ndim - 1]!;
  const si = as[ndim - 1]!;
  const index = new Array<number>(ndim).fill(0);
  let ix = 0;
  for (let o = 0; o < n; o += inner) {
    if (si === 1) out.set(x.subarray(ix, ix + inner), o);
    else for (let j = 0; j < inner; j++) out[o + j] = x[ix + j * si]!;
    for (let d = ndim - 2; d >= 0; d--) {
      index[d]!++;
      ix += as[d]!;
      if (index[d]! < cshape[d]!) break;
      ix -= as[d]! * cshape[d]!;
      index[d] = 0;
    }
  }
}

export function cast(x: TypedArray, out: TypedArray): void {
  if (out instanceof Int32Array && !(x instanceof Int32Array)) {
    for (let i = 0; i < x.length; i++) out[i] = Math.trunc(x[i]!);
  } else out.set(x);
}

/**
 * The gradient of tanh or σ from its output (Backend.activationBackward): out = g · (1 − y²) or g · y(1 − y),
 * each intermediate rounded to the arrays' type as the rule's ops store it, so with their bits.
 */
export function activationBackward(
  kernel: ActivationKernel,
  y: TypedArray,
  g: TypedArray,
  out: TypedArray,
): void {
  if (y instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array) {
    if (kernel === "tanh") tanhBackwardF32(y, g, out);
    else sigmoidBackwardF32(y, g, out);
    return;
  }
  // float64: nothing rounds between the ops.
  if (kernel === "tanh") for (let i = 0; i < out.length; i++) out[i] = g[i]! * (1 - y[i]! * y[i]!);
  else for (let i = 0; i < out.length; i++) out[i] = g[i]! * (y[i]! * (1 - y[i]!));
}

// One array type per loop, and Math.fround called directly (through a variable the loop ran about 5× slower).
function tanhBackwardF32(y: Float32Array, g: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    const t = y[i]!;
    out[i] = g[i]! * Math.fround(1 - Math.fround(t * t));
  }
}

function sigmoidBackwardF32(y: Float32Array, g: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    const s = y[i]!;
    out[i] = g[i]! * Math.fround(s * Math.fround(1 - s));
  }
}
