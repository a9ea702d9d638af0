import type { TypedArray } from "../../tensor/dtype.js";

/**
 * LU factorisation with partial pivoting of one n×n matrix, in float64, in place in `lu`.
 * Returns the permutation sign (+1 / −1), or 0 if the matrix is singular.
 */
function luFactor(lu: Float64Array, n: number, pivots: Int32Array): number {
  let sign = 1;
  for (let i = 0; i < n; i++) pivots[i] = i;
  for (let col = 0; col < n; col++) {
    let best = col;
    let bestAbs = Math.abs(lu[col * n + col]!);
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(lu[r * n + col]!);
      if (v > bestAbs) {
        best = r;
        bestAbs = v;
      }
    }
    if (bestAbs === 0 || Number.isNaN(bestAbs)) return 0;
    if (best !== col) {
      for (let c = 0; c < n; c++) {
        const tmp = lu[col * n + c]!;
        lu[col * n + c] = lu[best * n + c]!;
        lu[best * n + c] = tmp;
      }
      const p = pivots[col]!;
      pivots[col] = pivots[best]!;
      pivots[best] = p;
      sign = -sign;
    }
    const pivot = lu[col * n + col]!;
    for (let r = col + 1; r < n; r++) {
      const factor = (lu[r * n + col]! /= pivot);
      if (factor === 0) continue;
      for (let c = col + 1; c < n; c++) lu[r * n + c] -= factor * lu[col * n + c]!;
    }
  }
  return sign;
}

export function inverse(x: TypedArray, n: number, batch: number, out: TypedArray): boolean {
  const lu = new Float64Array(n * n);
  const pivots = new Int32Array(n);
  const column = new Float64Array(n);
  for (let t = 0; t < batch; t++) {
    const base = t * n * n;
    for (let i = 0; i < n * n; i++) lu[i] = x[base + i]!;
    if (luFactor(lu, n, pivots) === 0) return false;
    // Solve LU · col = e_j for each unit vector (permuted).
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) column[i] = pivots[i] === j ? 1 : 0;
      for (let i = 0; i < n; i++) {
        let s = column[i]!;
        for (let c = 0; c < i; c++) s -= lu[i * n + c]! * column[c]!;
        column[i] = s;
      }
      for (let i = n - 1; i >= 0; i--) {
        let s = column[i]!;
        for (let c = i + 1; c < n; c++) s -= lu[i * n + c]! * column[c]!;
        column[i] = s / lu[i * n + i]!;
      }
      for (let i = 0; i < n; i++) out[base + i * n + j] = column[i]!;
    }
  }
  return true;
}

export function determinant(x: TypedArray, n: number, batch: number, out: TypedArray, logAbs: boolean): void {
  const lu = new Float64Array(n * n);
  const pivots = new Int32Array(n);
  for (let t = 0; t < batch; t++) {
    const base = t * n * n;
    for (let i = 0; i < n * n; i++) lu[i] = x[base + i]!;
    const sign = luFactor(lu, n, pivots);
    if (sign === 0) {
      out[t] = logAbs ? -Infinity : 0;
      continue;
    }
    if (logAbs) {
      let total = 0;
      for (let i = 0; i < n; i++) total += Math.log(Math.abs(lu[i * n + i]!));
      out[t] = total;
    } else {
      let det = sign;
      for (let i = 0; i < n; i++) det *= lu[i * n + i]!;
      out[t] = det;
    }
  }
}
