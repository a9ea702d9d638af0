import type { TypedArray } from "../../tensor/dtype.js";
import type { MatmulDesc } from "../backend.js";

/**
 * Matrix multiply in plain TypeScript. Large products copy blocks of both operands into float64 panels
 * ("packing", as BLAS libraries do) so that a 4×4 register-blocked micro-kernel streams through contiguous
 * memory; transposed operands cost nothing extra because packing reads them with the right strides.
 */

const KC = 256; // depth of a packed block
const NC = 512; // columns of B packed at once
const MC = 64; // rows of A packed at once
const MR = 4;
const NR = 4;

let packedA = new Float64Array(MC * KC);
let packedB = new Float64Array(KC * NC);

export function matmul(a: TypedArray, b: TypedArray, out: TypedArray, desc: MatmulDesc): void {
  const { m, n, k, transA, transB, batch } = desc;
  for (let t = 0; t < batch; t++) {
    const ao = desc.aOffsets[t]!;
    const bo = desc.bOffsets[t]!;
    const oo = desc.outOffsets[t]!;
    if (m * n * k <= 4096 || m === 1 || n === 1) small(a, ao, b, bo, out, oo, m, n, k, transA, transB);
    else packed(a, ao, b, bo, out, oo, m, n, k, transA, transB);
  }
}

function small(
  a: TypedArray,
  ao: number,
  b: TypedArray,
  bo: number,
  out: TypedArray,
  oo: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
): void {
  // Strides of op(A) (m×k) and op(B) (k×n) as stored.
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  const bRow = transB ? 1 : n;
  const bCol = transB ? k : 1;
  if (!transB) {
    // out[i, :] = Σ_p A[i, p] B[p, :], streaming rows of B.
    const row = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = a[ao + i * aRow + p * aCol]!;
        if (aip === 0) continue;
        const bBase = bo + p * bRow;
        for (let j = 0; j < n; j++) row[j] += aip * b[bBase + j]!;
      }
      const base = oo + i * n;
      for (let j = 0; j < n; j++) out[base + j] = row[j]!;
    }
    return;
  }
  // B stored transposed: each output is a dot product of two contiguous-ish rows.
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      const aBase = ao + i * aRow;
      const bBase = bo + j * bCol;
      for (let p = 0; p < k; p++) acc += a[aBase + p * aCol]! * b[bBase + p * bRow]!;
      out[oo + i * n + j] = acc;
    }
  }
}

function packed(
  a: TypedArray,
  ao: number,
  b: TypedArray,
  bo: number,
  out: TypedArray,
  oo: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
): void {
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  const bRow = transB ? 1 : n;
  const bCol = transB ? k : 1;
  for (let i = 0; i < m * n; i++) out[oo + i] = 0;
  if (packedA.length < MC * KC) packedA = new Float64Array(MC * KC);
  if (packedB.length < KC * NC) packedB = new Float64Array(KC * NC);
  const Ap = packedA;
  const Bp = packedB;
  for (let pc = 0; pc < k; pc += KC) {
    const kc = Math.min(KC, k - pc);
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      const panelsB = Math.ceil(nc / NR);
      // Pack B[pc:pc+kc, jc:jc+nc] into column panels of width NR, zero-padded.
      for (let jp = 0; jp < panelsB; jp++) {
        for (let p = 0; p < kc; p++) {
          const dst = (jp * kc + p) * NR;
          const src = bo + (pc + p) * bRow;
          for (let c = 0; c < NR; c++) {
            const j = jp * NR + c;
            Bp[dst + c] = j < nc ? b[src + (jc + j) * bCol]! : 0;
          }
        }
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        const panelsA = Math.ceil(mc / MR);
        for (let ip = 0; ip < panelsA; ip++) {
          for (let p = 0; p < kc; p++) {
            const dst = (ip * kc + p) * MR;
            const src = ao + (pc + p) * aCol;
            for (let r = 0; r < MR; r++) {
              const i = ip * MR + r;
              Ap[dst + r] = i < mc ? a[src + (ic + i) * aRow]! : 0;
            }
          }
        }
        for (let jp = 0; jp < panelsB; jp++) {
          for (let ip = 0; ip < panelsA; ip++) {
            microKernel(Ap, ip * kc * MR, Bp, jp * kc * NR, kc, out, oo, n, ic + ip * MR, jc + jp * NR, m);
          }
        }
      }
    }
  }
}

/** Adds the 4×4 block A_panel · B_panel into out at (i0, j0), clipped to the matrix. */
function microKernel(
  Ap: Float64Array,
  aStart: number,
  Bp: Float64Array,
  bStart: number,
  kc: number,
  out: TypedArray,
  oo: number,
  n: number,
  i0: number,
  j0: number,
  m: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0; // prettier-ignore
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0; // prettier-ignore
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0; // prettier-ignore
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0; // prettier-ignore
  let ai = aStart;
  let bi = bStart;
  for (let p = 0; p < kc; p++) {
    const a0 = Ap[ai]!, a1 = Ap[ai + 1]!, a2 = Ap[ai + 2]!, a3 = Ap[ai + 3]!; // prettier-ignore
    const b0 = Bp[bi]!, b1 = Bp[bi + 1]!, b2 = Bp[bi + 2]!, b3 = Bp[bi + 3]!; // prettier-ignore
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3; // prettier-ignore
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3; // prettier-ignore
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3; // prettier-ignore
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3; // prettier-ignore
    ai += 4;
    bi += 4;
  }
  const rows = Math.min(MR, m - i0);
  const cols = Math.min(NR, n - j0);
  let o = oo + i0 * n + j0;
  if (rows === 4 && cols === 4) {
    out[o] += c00;
    out[o + 1] += c01;
    out[o + 2] += c02;
    out[o + 3] += c03;
    o += n; // prettier-ignore
    out[o] += c10;
    out[o + 1] += c11;
    out[o + 2] += c12;
    out[o + 3] += c13;
    o += n; // prettier-ignore
    out[o] += c20;
    out[o + 1] += c21;
    out[o + 2] += c22;
    out[o + 3] += c23;
    o += n; // prettier-ignore
    out[o] += c30;
    out[o + 1] += c31;
    out[o + 2] += c32;
    out[o + 3] += c33; // prettier-ignore
    return;
  }
  const block = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[o + r * n + c] += block[r * 4 + c]!;
}
