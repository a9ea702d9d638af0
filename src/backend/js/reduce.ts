import type { TypedArray } from "../../tensor/dtype.js";
import type { AxisView, ReduceKernel } from "../backend.js";
import { blockView } from "../../tensor/shape.js";

/**
 * Reduction over a set of axes. When the reduced axes form one contiguous block the array is viewed as
 * [outer, reduced, inner]; otherwise the reduced axes are moved last by an index walk.
 */
export function reduce(
  op: ReduceKernel,
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  out: TypedArray,
): void {
  if (axes.length === 0) {
    out.set(x);
    return;
  }
  const view = blockView(shape, axes);
  if (view !== null) {
    reduceAxis(op, x, view, out);
    return;
  }
  reduceGeneral(op, x, shape, axes, out);
}

function initial(op: ReduceKernel): number {
  return op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
}

export function reduceAxis(op: ReduceKernel, x: TypedArray, view: AxisView, out: TypedArray): void {
  const { outer, axis, inner } = view;
  const start = initial(op);
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * axis;
      let acc = start;
      if (op === "sum") for (let j = 0; j < axis; j++) acc += x[base + j]!;
      else if (op === "max") {
        for (let j = 0; j < axis; j++) {
          const v = x[base + j]!;
          if (v > acc || Number.isNaN(v)) acc = v;
          if (Number.isNaN(acc)) break;
        }
      } else {
        for (let j = 0; j < axis; j++) {
          const v = x[base + j]!;
          if (v < acc || Number.isNaN(v)) acc = v;
          if (Number.isNaN(acc)) break;
        }
      }
      out[o] = axis === 0 && op !== "sum" ? NaN : acc;
    }
    return;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(start);
    for (let j = 0; j < axis; j++) {
      const base = (o * axis + j) * inner;
      if (op === "sum") for (let i = 0; i < inner; i++) acc[i] += x[base + i]!;
      else if (op === "max") {
        for (let i = 0; i < inner; i++) {
          const v = x[base + i]!;
          if (v > acc[i]! || Number.isNaN(v)) acc[i] = v;
        }
      } else {
        for (let i = 0; i < inner; i++) {
          const v = x[base + i]!;
          if (v < acc[i]! || Number.isNaN(v)) acc[i] = v;
        }
      }
    }
    const ob = o * inner;
    for (let i = 0; i < inner; i++) out[ob + i] = axis === 0 && op !== "sum" ? NaN : acc[i]!;
  }
}

function reduceGeneral(
  op: ReduceKernel,
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  out: TypedArray,
): void {
  const ndim = shape.length;
  // Strides of the output for each input dimension (0 on reduced axes).
  const outStrides = new Array<number>(ndim).fill(0);
  let stride = 1;
  for (let d = ndim - 1; d >= 0; d--) {
    if (!axes.includes(d)) {
      outStrides[d] = stride;
      stride *= shape[d]!;
    }
  }
  const acc = new Float64Array(out.length).fill(initial(op));
  const index = new Array<number>(ndim).fill(0);
  let io = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (op === "sum") acc[io] += v;
    else if (op === "max") {
      if (v > acc[io]! || Number.isNaN(v)) acc[io] = v;
    } else if (v < acc[io]! || Number.isNaN(v)) acc[io] = v;
    for (let d = ndim - 1; d >= 0; d--) {
      index[d]!++;
      io += outStrides[d]!;
      if (index[d]! < shape[d]!) break;
      io -= outStrides[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  let empty = false;
  for (const a of axes) if (shape[a] === 0) empty = true;
  for (let i = 0; i < out.length; i++) out[i] = empty && op !== "sum" ? NaN : acc[i]!;
}

export function softmax(x: TypedArray, view: AxisView, out: TypedArray, log: boolean): void {
  const { outer, axis, inner } = view;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * axis * inner + i;
      let max = -Infinity;
      for (let j = 0; j < axis; j++) {
        const v = x[base + j * inner]!;
        if (v > max) max = v;
      }
      if (max === -Infinity) max = 0;
      let total = 0;
      for (let j = 0; j < axis; j++) total += Math.exp(x[base + j * inner]! - max);
      if (log) {
        // (x − max) − log Σ exp(x − max): the shifted value is exact for the largest entries, whereas
        // x − (max + log Σ) would lose log Σ when max is large (1e30 + log 3 rounds to 1e30).
        const logTotal = Math.log(total);
        for (let j = 0; j < axis; j++) out[base + j * inner] = x[base + j * inner]! - max - logTotal;
      } else {
        for (let j = 0; j < axis; j++) out[base + j * inner] = Math.exp(x[base + j * inner]! - max) / total;
      }
    }
  }
}

export function logSumExp(x: TypedArray, view: AxisView, out: TypedArray): void {
  const { outer, axis, inner } = view;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * axis * inner + i;
      let max = -Infinity;
      for (let j = 0; j < axis; j++) {
        const v = x[base + j * inner]!;
        if (v > max || Number.isNaN(v)) max = v;
      }
      if (max === -Infinity || max === Infinity || Number.isNaN(max)) {
        out[o * inner + i] = max;
        continue;
      }
      let total = 0;
      for (let j = 0; j < axis; j++) total += Math.exp(x[base + j * inner]! - max);
      out[o * inner + i] = Math.log(total) + max;
    }
  }
}
