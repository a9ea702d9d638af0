// Matrix multiply with WebAssembly SIMD: out[m×n] = op(A)[m×k] · op(B)[k×n], row-major.
//
// The host copies A and B into linear memory and passes byte addresses. Both operands are packed into contiguous
// panels, as BLAS libraries do: all of op(B) once, into panels of NR = 8 float32 (4 float64) columns
// (`matmulPackF32`), then each block of MC rows of op(A) into panels of MR rows (inside `matmulRowsF32`), each
// laid out depth-first in blocks of KC, so that the register-blocked micro-kernel reads both with unit stride.
// Transposed operands cost nothing extra: packing reads them with the right strides. Out-of-range rows and columns of a panel are padded with zeros and
// the micro-kernel writes only the valid part of its tile.
//
// `matmulRows*` computes a range of output rows from the packed B and writes nothing else, so the rows of one
// product can be split between calls (each with its own scratch space).
//
// float32: a 5×8 tile in ten f32x4 accumulators (6×8 in twelve in the relaxed build, whose multiply-add needs no
// temporary); float64: a 4×4 tile in eight f64x2 accumulators. The accumulators plus the operands fit the sixteen
// vector registers of x86-64 (V8 keeps one as scratch); larger tiles spill and run slower. The tile's rows do not
// change any output's sum: each is summed over the depth in the same order whatever tile it is in.
// Each output is summed block by block in depth order, as the JavaScript kernel does.
//
// `matmulBlockEpilogueF32` also finishes an affine layer where its block is still in cache: once a block of rows
// has all its depth, it adds a bias row and applies an activation (relu, tanh or σ) in place, with the same
// vector operations as `addRowF32` and `unaryF32`, so the values are theirs to the bit.

import { Lanes, RELU, SIGMOID, TANH } from "./elementwise";

/** `activation` of matmulBlockEpilogueF32 for none (a bias only). */
const NO_ACTIVATION: i32 = -1;

/** Depth of a packed block. */
const KC: i32 = 256;
/** Rows of A packed at once (a multiple of both tiles' rows; 120 × 256 float32 is 120 KiB, within L2). */
const MC: i32 = 120;
/**
 * Rows of a float32 tile; its columns fill 32 bytes (8 float32). Five without relaxed SIMD, six with it: a fused
 * multiply-add needs no temporary register, so twelve accumulators, two vectors of B and a splat of A fit the
 * sixteen vector registers (V8 keeps one as scratch). Measured on one thread, the relaxed build's products of
 * the NER step (256 × 250 · 250 × 300 and its gradients' shapes) took 708–729 µs against 742–773 with five rows.
 */
const MR_F32: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 5;
/** Rows of a float64 tile (4 float64 columns). */
const MR_F64: i32 = 4;

/** Rows of the tile of a product of `elementBytes`-byte values: the host cuts products in chunks of whole tiles. */
export function matmulTileRows(elementBytes: i32): i32 {
  return elementBytes == 4 ? MR_F32 : MR_F64;
}

/** Rows of a tile for element type T. */
function tileRows<T>(): i32 {
  return matmulTileRows(<i32>sizeof<T>());
}

/**
 * Where chunk `chunk` of a split product's m output rows starts (m for a chunk past the last): the host's rows
 * task (src/backend/wasm/threads.ts) cuts a product so, on the main thread and in the workers alike. The chunks
 * shrink as the rows run out, so that the threads finish together. Each chunk takes the rows left divided by the
 * number of threads, rounded up to whole tiles (`tile` rows), at most `most` rows (a multiple of `tile`, at least
 * four tiles: the kernel's block of rows, MC) and at least two tiles, and a chunk that would leave fewer than two
 * tiles takes them too (the last chunk may so exceed `most` by less than two tiles). With `most` ≥ m, the rows are
 * one chunk.
 *
 * Chunks of equal size left a thread waiting for the other's last one: in the compiled NER step at batch 256,
 * four chunks of 65 rows per product had the main thread wait 35–75 µs for the worker at each of the three
 * large products; chunks of 120, 70, 35, 20 and 11 rows (tiles of 5), 8–18 µs. The leading chunks of `most`
 * rows (those that leave more than `threads` such chunks and two tiles) are counted, not walked, so that a
 * product of many thousand rows costs no more to cut. The divisions are JavaScript's (float64, then rounded).
 */
export function matmulRowChunkStart(chunk: i32, m: i32, most: i32, threads: i32, tile: i32): i32 {
  if (most >= m) return chunk > 0 ? m : 0;
  const full = max(0, min(chunk, fullRowChunks(m, most, threads, tile)));
  let start = full * most;
  for (let c = full; c < chunk && start < m; c++) {
    const rest = m - start;
    let size = min(most, max(2 * tile, <i32>Math.ceil(<f64>rest / <f64>threads / <f64>tile) * tile));
    if (rest - size < 2 * tile) size = rest;
    start += size;
  }
  return min(start, m);
}

/**
 * How many leading chunks of `matmulRowChunkStart` hold `most` rows for certain (possibly fewer than none): those
 * that leave more than `threads` such chunks and at least two tiles.
 */
function fullRowChunks(m: i32, most: i32, threads: i32, tile: i32): i32 {
  const counted = <i32>Math.ceil(<f64>(m - threads * (most - tile)) / <f64>most);
  return min(counted, <i32>Math.floor(<f64>(m - 2 * tile) / <f64>most));
}

/** The number of chunks `matmulRowChunkStart` cuts m rows into (none for m = 0). */
export function matmulRowChunkCount(m: i32, most: i32, threads: i32, tile: i32): i32 {
  if (m <= 0) return 0;
  if (most >= m) return 1;
  let chunks = max(1, fullRowChunks(m, most, threads, tile));
  while (matmulRowChunkStart(chunks, m, most, threads, tile) < m) chunks++;
  return chunks;
}

/** Bytes at the start of the scratch space that hold a spilled edge tile. */
const TILE_BYTES: usize = 256;

/** Bytes of scratch space `matmulRowsF32` / `matmulRowsF64` need. */
export function matmulScratchBytes(elementBytes: i32): i32 {
  return <i32>TILE_BYTES + MC * KC * elementBytes;
}

/** Bytes of the packed op(B) for a k × n product. */
export function matmulPackedBytes(n: i32, k: i32, elementBytes: i32): i32 {
  const columns: i32 = 32 / elementBytes;
  return k * ((n + columns - 1) / columns) * columns * elementBytes;
}

/** Packs rows [i0, i0 + mc) × depth [p0, p0 + kc) of op(A) into panels of MR rows, depth-major. */
function packA<T>(a: usize, lda: i32, transA: bool, i0: i32, p0: i32, mc: i32, kc: i32, dst: usize): void {
  const size = <usize>sizeof<T>();
  const mr = tileRows<T>();
  const panelStride = <usize>mr * size;
  for (let ip = 0; ip < mc; ip += mr) {
    const rows = min(mr, mc - ip);
    const panel = dst + <usize>(ip * kc) * size;
    if (!transA && size == 4 && rows == mr) {
      // op(A)(i, p) = a[i·lda + p], float32, a full panel of five (six) rows: four depth steps of the first four
      // rows at a time, transposed in registers; the last rows' values go after them.
      const row = <usize>lda * 4;
      const src = a + (<usize>(i0 + ip) * lda + p0) * 4;
      const step = <usize>mr * 4;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const s = src + <usize>p * 4;
        const d = panel + <usize>p * step;
        transpose4(s, row, d, step);
        const last = s + 4 * row;
        store<f32>(d, load<f32>(last), 16);
        store<f32>(d + step, load<f32>(last, 4), 16);
        store<f32>(d + 2 * step, load<f32>(last, 8), 16);
        store<f32>(d + 3 * step, load<f32>(last, 12), 16);
        if (mr == 6) {
          const sixth = last + row;
          store<f32>(d, load<f32>(sixth), 20);
          store<f32>(d + step, load<f32>(sixth, 4), 20);
          store<f32>(d + 2 * step, load<f32>(sixth, 8), 20);
          store<f32>(d + 3 * step, load<f32>(sixth, 12), 20);
        }
      }
      for (; p < kc; p++) {
        const s = src + <usize>p * 4;
        const d = panel + <usize>p * step;
        for (let r = 0; r < mr; r++) store<f32>(d + <usize>r * 4, load<f32>(s + <usize>r * row));
      }
    } else if (!transA) {
      // op(A)(i, p) = a[i·lda + p]: read each row contiguously, write with stride MR.
      for (let r = 0; r < mr; r++) {
        let d = panel + <usize>r * size;
        if (r < rows) {
          let src = a + (<usize>(i0 + ip + r) * lda + p0) * size;
          for (let p = 0; p < kc; p++) {
            store<T>(d, load<T>(src));
            src += size;
            d += panelStride;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            store<T>(d, <T>0);
            d += panelStride;
          }
        }
      }
    } else {
      // op(A)(i, p) = a[p·lda + i]: MR consecutive values per depth step.
      for (let p = 0; p < kc; p++) {
        const src = a + (<usize>(p0 + p) * lda + i0 + ip) * size;
        const d = panel + <usize>(p * mr) * size;
        if (rows == mr) {
          // 5 float32 = 16 + 4 bytes (6: 16 + 8); 4 float64 = 16 + 16 bytes.
          v128.store(d, v128.load(src));
          if (size == 8) v128.store(d, v128.load(src, 16), 16);
          else if (mr == 6) store<u64>(d, load<u64>(src, 16), 16);
          else store<T>(d, load<T>(src, 16), 16);
        } else {
          for (let r = 0; r < mr; r++)
            store<T>(d + <usize>r * size, r < rows ? load<T>(src + <usize>r * size) : <T>0);
        }
      }
    }
  }
}

/**
 * Packs depth [p0, p0 + kc) of op(B), columns [j0, j1) (j0 a multiple of NR), into panels of NR (= 32 bytes)
 * columns; `dst` is the packed block of all n columns.
 */
function packB<T>(b: usize, ldb: i32, transB: bool, p0: i32, kc: i32, j0: i32, j1: i32, dst: usize): void {
  const size = <usize>sizeof<T>();
  const nr: i32 = 32 / <i32>sizeof<T>();
  for (let jp = j0; jp < j1; jp += nr) {
    const cols = min(nr, j1 - jp);
    const panel = dst + <usize>(jp * kc) * size;
    if (!transB) {
      // op(B)(p, j) = b[p·ldb + j]: one 32-byte row of the panel per depth step.
      for (let p = 0; p < kc; p++) {
        const src = b + (<usize>(p0 + p) * ldb + jp) * size;
        const d = panel + <usize>p * 32;
        if (cols == nr) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
        } else {
          for (let c = 0; c < nr; c++)
            store<T>(d + <usize>c * size, c < cols ? load<T>(src + <usize>c * size) : <T>0);
        }
      }
    } else if (size == 4 && cols == nr) {
      // op(B)(p, j) = b[j·ldb + p], float32, a full panel: four depth steps of the eight stored rows at a time,
      // transposed in registers as two 4 × 4 blocks.
      const row = <usize>ldb * 4;
      const src = b + (<usize>jp * ldb + p0) * 4;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const s = src + <usize>p * 4;
        const d = panel + <usize>p * 32;
        transpose4(s, row, d, 32);
        transpose4(s + 4 * row, row, d + 16, 32);
      }
      for (; p < kc; p++) {
        const s = src + <usize>p * 4;
        const d = panel + <usize>p * 32;
        for (let c = 0; c < 8; c++) store<f32>(d + <usize>c * 4, load<f32>(s + <usize>c * row));
      }
    } else {
      // op(B)(p, j) = b[j·ldb + p]: read each stored row contiguously, write with a 32-byte stride.
      for (let c = 0; c < nr; c++) {
        let d = panel + <usize>c * size;
        if (c < cols) {
          let src = b + (<usize>(jp + c) * ldb + p0) * size;
          for (let p = 0; p < kc; p++) {
            store<T>(d, load<T>(src));
            src += size;
            d += 32;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            store<T>(d, <T>0);
            d += 32;
          }
        }
      }
    }
  }
}

/**
 * Four float32 of each of four rows (`row` bytes apart) from `s`, written transposed: value q of row r goes to
 * d + q·stride + r·4 (four depth steps of a packed panel, `stride` bytes per step).
 */
function transpose4(s: usize, row: usize, d: usize, stride: usize): void {
  const r0 = v128.load(s);
  const r1 = v128.load(s + row);
  const r2 = v128.load(s + 2 * row);
  const r3 = v128.load(s + 3 * row);
  const s0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const s1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const s2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const s3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, i32x4.shuffle(s0, s1, 0, 1, 4, 5));
  v128.store(d + stride, i32x4.shuffle(s0, s1, 2, 3, 6, 7));
  v128.store(d + 2 * stride, i32x4.shuffle(s2, s3, 0, 1, 4, 5));
  v128.store(d + 3 * stride, i32x4.shuffle(s2, s3, 2, 3, 6, 7));
}

/** Copies (or adds) the valid `rows` × `cols` part of the spilled tile (row width 32 bytes) into out. */
function writeTile<T>(tile: usize, c: usize, rowBytes: usize, rows: i32, cols: i32, accumulate: bool): void {
  const size = <usize>sizeof<T>();
  for (let r = 0; r < rows; r++) {
    const dst = c + <usize>r * rowBytes;
    const src = tile + <usize>r * 32;
    for (let j = 0; j < cols; j++) {
      const value = load<T>(src + <usize>j * size);
      const at = dst + <usize>j * size;
      store<T>(at, accumulate ? load<T>(at) + value : value);
    }
  }
}

/**
 * c + a·b in float32 lanes: a fused multiply-add in the relaxed-SIMD build where the engine has one (rounded once,
 * so the sums differ from the plain build's by float32 rounding), a multiply then an add otherwise.
 */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * out tile (5×8, or 6×8 in the relaxed build) = (accumulate ? out : 0) + A panel · B panel over kc depth steps:
 * ten (twelve) f32x4 accumulators, two vectors of B and one splat of A. Five rows is the most that fits the sixteen
 * vector registers without FMA (each multiply needs a temporary), six with it; it issues fewer instructions per
 * multiply-add than 4×8, and a loop unrolled over depth runs slower in V8 (measured), so it is not unrolled.
 */
function kernelF32(
  tile: usize,
  ap: usize,
  bp: usize,
  kc: i32,
  c: usize,
  rowBytes: usize,
  rows: i32,
  cols: i32,
  accumulate: bool,
): void {
  if (cols <= 4) {
    narrowKernelF32(tile, ap, bp, kc, c, rowBytes, rows, cols, accumulate);
    return;
  }
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0);
  let c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0);
  let c51 = f32x4.splat(0);
  const six = MR_F32 == 6;
  const end = bp + <usize>kc * 32;
  while (bp < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    a = v128.load32_splat(ap, 16);
    c40 = madd(a, b0, c40);
    c41 = madd(a, b1, c41);
    if (six) {
      a = v128.load32_splat(ap, 20);
      c50 = madd(a, b0, c50);
      c51 = madd(a, b1, c51);
    }
    ap += <usize>MR_F32 * 4;
    bp += 32;
  }
  if (rows == MR_F32 && cols == 8) {
    const c1 = c + rowBytes;
    const c2 = c1 + rowBytes;
    const c3 = c2 + rowBytes;
    const c4 = c3 + rowBytes;
    if (accumulate) {
      c00 = f32x4.add(c00, v128.load(c));
      c01 = f32x4.add(c01, v128.load(c, 16));
      c10 = f32x4.add(c10, v128.load(c1));
      c11 = f32x4.add(c11, v128.load(c1, 16));
      c20 = f32x4.add(c20, v128.load(c2));
      c21 = f32x4.add(c21, v128.load(c2, 16));
      c30 = f32x4.add(c30, v128.load(c3));
      c31 = f32x4.add(c31, v128.load(c3, 16));
      c40 = f32x4.add(c40, v128.load(c4));
      c41 = f32x4.add(c41, v128.load(c4, 16));
      if (six) {
        c50 = f32x4.add(c50, v128.load(c4 + rowBytes));
        c51 = f32x4.add(c51, v128.load(c4 + rowBytes, 16));
      }
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(c1, c10);
    v128.store(c1, c11, 16);
    v128.store(c2, c20);
    v128.store(c2, c21, 16);
    v128.store(c3, c30);
    v128.store(c3, c31, 16);
    v128.store(c4, c40);
    v128.store(c4, c41, 16);
    if (six) {
      v128.store(c4 + rowBytes, c50);
      v128.store(c4 + rowBytes, c51, 16);
    }
    return;
  }
  v128.store(tile, c00);
  v128.store(tile, c01, 16);
  v128.store(tile, c10, 32);
  v128.store(tile, c11, 48);
  v128.store(tile, c20, 64);
  v128.store(tile, c21, 80);
  v128.store(tile, c30, 96);
  v128.store(tile, c31, 112);
  v128.store(tile, c40, 128);
  v128.store(tile, c41, 144);
  if (six) {
    v128.store(tile, c50, 160);
    v128.store(tile, c51, 176);
  }
  writeTile<f32>(tile, c, rowBytes, rows, cols, accumulate);
}

/**
 * `kernelF32` for a panel with at most four valid columns (the last panel of a product whose n is not a multiple
 * of 8: of n = 9, 8 of its 16 columns; of n = 300, 4 of 304): only the first vector of B, half the multiply-adds.
 * Each value gets the same multiply-adds in the same order as in `kernelF32`, so the same bits.
 */
function narrowKernelF32(
  tile: usize,
  ap: usize,
  bp: usize,
  kc: i32,
  c: usize,
  rowBytes: usize,
  rows: i32,
  cols: i32,
  accumulate: bool,
): void {
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let c2 = f32x4.splat(0);
  let c3 = f32x4.splat(0);
  let c4 = f32x4.splat(0);
  let c5 = f32x4.splat(0);
  const six = MR_F32 == 6;
  const end = bp + <usize>kc * 32;
  while (bp < end) {
    const b0 = v128.load(bp);
    c0 = madd(v128.load32_splat(ap), b0, c0);
    c1 = madd(v128.load32_splat(ap, 4), b0, c1);
    c2 = madd(v128.load32_splat(ap, 8), b0, c2);
    c3 = madd(v128.load32_splat(ap, 12), b0, c3);
    c4 = madd(v128.load32_splat(ap, 16), b0, c4);
    if (six) c5 = madd(v128.load32_splat(ap, 20), b0, c5);
    ap += <usize>MR_F32 * 4;
    bp += 32;
  }
  if (rows == MR_F32 && cols == 4) {
    if (accumulate) {
      c0 = f32x4.add(c0, v128.load(c));
      c1 = f32x4.add(c1, v128.load(c + rowBytes));
      c2 = f32x4.add(c2, v128.load(c + 2 * rowBytes));
      c3 = f32x4.add(c3, v128.load(c + 3 * rowBytes));
      c4 = f32x4.add(c4, v128.load(c + 4 * rowBytes));
      if (six) c5 = f32x4.add(c5, v128.load(c + 5 * rowBytes));
    }
    v128.store(c, c0);
    v128.store(c + rowBytes, c1);
    v128.store(c + 2 * rowBytes, c2);
    v128.store(c + 3 * rowBytes, c3);
    v128.store(c + 4 * rowBytes, c4);
    if (six) v128.store(c + 5 * rowBytes, c5);
    return;
  }
  v128.store(tile, c0);
  v128.store(tile, c1, 32);
  v128.store(tile, c2, 64);
  v128.store(tile, c3, 96);
  v128.store(tile, c4, 128);
  if (six) v128.store(tile, c5, 160);
  writeTile<f32>(tile, c, rowBytes, rows, cols, accumulate);
}

/** out tile (4×4) = (accumulate ? out : 0) + A panel · B panel over kc depth steps, in float64. */
function kernelF64(
  tile: usize,
  ap: usize,
  bp: usize,
  kc: i32,
  c: usize,
  rowBytes: usize,
  rows: i32,
  cols: i32,
  accumulate: bool,
): void {
  let c00 = f64x2.splat(0);
  let c01 = f64x2.splat(0);
  let c10 = f64x2.splat(0);
  let c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0);
  let c21 = f64x2.splat(0);
  let c30 = f64x2.splat(0);
  let c31 = f64x2.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load64_splat(ap);
    c00 = f64x2.add(c00, f64x2.mul(a, b0));
    c01 = f64x2.add(c01, f64x2.mul(a, b1));
    a = v128.load64_splat(ap, 8);
    c10 = f64x2.add(c10, f64x2.mul(a, b0));
    c11 = f64x2.add(c11, f64x2.mul(a, b1));
    a = v128.load64_splat(ap, 16);
    c20 = f64x2.add(c20, f64x2.mul(a, b0));
    c21 = f64x2.add(c21, f64x2.mul(a, b1));
    a = v128.load64_splat(ap, 24);
    c30 = f64x2.add(c30, f64x2.mul(a, b0));
    c31 = f64x2.add(c31, f64x2.mul(a, b1));
    ap += 32;
    bp += 32;
  }
  if (rows == 4 && cols == 4) {
    const c1 = c + rowBytes;
    const c2 = c1 + rowBytes;
    const c3 = c2 + rowBytes;
    if (accumulate) {
      c00 = f64x2.add(c00, v128.load(c));
      c01 = f64x2.add(c01, v128.load(c, 16));
      c10 = f64x2.add(c10, v128.load(c1));
      c11 = f64x2.add(c11, v128.load(c1, 16));
      c20 = f64x2.add(c20, v128.load(c2));
      c21 = f64x2.add(c21, v128.load(c2, 16));
      c30 = f64x2.add(c30, v128.load(c3));
      c31 = f64x2.add(c31, v128.load(c3, 16));
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(c1, c10);
    v128.store(c1, c11, 16);
    v128.store(c2, c20);
    v128.store(c2, c21, 16);
    v128.store(c3, c30);
    v128.store(c3, c31, 16);
    return;
  }
  v128.store(tile, c00);
  v128.store(tile, c01, 16);
  v128.store(tile, c10, 32);
  v128.store(tile, c11, 48);
  v128.store(tile, c20, 64);
  v128.store(tile, c21, 80);
  v128.store(tile, c30, 96);
  v128.store(tile, c31, 112);
  writeTile<f64>(tile, c, rowBytes, rows, cols, accumulate);
}

/**
 * Packs columns [j0, j1) of op(B) (k × n; j0 a multiple of NR) for `rows`: depth blocks of KC one after the
 * other, each as panels of 32 bytes.
 */
function packColumns<T>(b: usize, n: i32, k: i32, transB: bool, packedB: usize, j0: i32, j1: i32): void {
  const size = <usize>sizeof<T>();
  const nr: i32 = 32 / <i32>sizeof<T>();
  const paddedN = ((n + nr - 1) / nr) * nr;
  const ldb = transB ? k : n;
  for (let pc = 0; pc < k; pc += KC) {
    packB<T>(b, ldb, transB, pc, min(KC, k - pc), j0, j1, packedB + <usize>(pc * paddedN) * size);
  }
}

/**
 * Output rows [rowStart, rowStart + rowCount) and columns [colStart, colEnd) of op(A) · op(B), from the packed
 * op(B); colStart is a multiple of the panel width. Every output value is computed the same way whatever the
 * block around it (same depth blocks, same order), so any partition of the output gives the same bits.
 */
function rows<T>(
  a: usize,
  packedB: usize,
  out: usize,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  rowStart: i32,
  rowCount: i32,
  scratch: usize,
  colStart: i32 = 0,
  colEnd: i32 = n,
  bias: usize = 0,
  activation: i32 = NO_ACTIVATION,
): void {
  const size = <usize>sizeof<T>();
  const nr: i32 = 32 / <i32>sizeof<T>();
  const mr = tileRows<T>();
  const rowBytes = <usize>n * size;
  const rowEnd = rowStart + rowCount;
  const finish = size == 4 && (bias != 0 || activation != NO_ACTIVATION);
  if (k == 0) {
    for (let i = rowStart; i < rowEnd; i++) {
      memory.fill(out + <usize>i * rowBytes + <usize>colStart * size, 0, <usize>(colEnd - colStart) * size);
    }
    if (finish) epilogueF32(out, n, rowStart, rowEnd, colStart, colEnd, bias, activation);
    return;
  }
  const lda = transA ? m : k;
  const paddedN = ((n + nr - 1) / nr) * nr;
  const tile = scratch;
  const packedA = scratch + TILE_BYTES;
  for (let ic = rowStart; ic < rowEnd; ic += MC) {
    const mc = min(MC, rowEnd - ic);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const accumulate = pc > 0;
      packA<T>(a, lda, transA, ic, pc, mc, kc, packedA);
      const block = packedB + <usize>(pc * paddedN) * size;
      for (let jr = colStart; jr < colEnd; jr += nr) {
        const bp = block + <usize>(jr * kc) * size;
        const cols = min(nr, colEnd - jr);
        for (let ir = 0; ir < mc; ir += mr) {
          const ap = packedA + <usize>(ir * kc) * size;
          const c = out + <usize>(ic + ir) * rowBytes + <usize>jr * size;
          const count = min(mr, mc - ir);
          if (size == 4) kernelF32(tile, ap, bp, kc, c, rowBytes, count, cols, accumulate);
          else kernelF64(tile, ap, bp, kc, c, rowBytes, count, cols, accumulate);
        }
      }
    }
    // The block's rows have all their depth: finish them while they are in cache.
    if (finish) epilogueF32(out, n, ic, ic + mc, colStart, colEnd, bias, activation);
  }
}

/**
 * Rows [r0, r1), columns [c0, c1) of a float32 matrix with n columns: v = act(v + bias[j]) in place (bias 0:
 * none; act one of RELU, TANH, SIGMOID or NO_ACTIVATION). A row's last vector may hold fewer than four of the
 * columns: it is computed whole (lanes are independent) and only those columns are stored, so that no value
 * outside the block is written (another thread may own it).
 */
function epilogueF32(
  out: usize,
  n: i32,
  r0: i32,
  r1: i32,
  c0: i32,
  c1: i32,
  bias: usize,
  activation: i32,
): void {
  if (activation == TANH) Epilogue.rows(TANH, out, n, r0, r1, c0, c1, bias);
  else if (activation == SIGMOID) Epilogue.rows(SIGMOID, out, n, r0, r1, c0, c1, bias);
  else if (activation == RELU) Epilogue.rows(RELU, out, n, r0, r1, c0, c1, bias);
  else Epilogue.rows(NO_ACTIVATION, out, n, r0, r1, c0, c1, bias);
}

/** The epilogue's loop, inlined per constant activation (so that its branches fold away). */
class Epilogue {
  @inline static rows(op: i32, out: usize, n: i32, r0: i32, r1: i32, c0: i32, c1: i32, bias: usize): void {
    const rowBytes = <usize>n * 4;
    for (let r = r0; r < r1; r++) {
      const row = out + <usize>r * rowBytes;
      let j = c0;
      if (op == TANH || op == SIGMOID) {
        // Two vectors a turn, as in Lanes.unaryLoop: their float64 chains overlap.
        for (; j + 8 <= c1; j += 8) {
          const at = row + <usize>j * 4;
          let v = v128.load(at);
          let v2 = v128.load(at, 16);
          if (bias != 0) {
            v = f32x4.add(v, v128.load(bias + <usize>j * 4));
            v2 = f32x4.add(v2, v128.load(bias + <usize>j * 4, 16));
          }
          v128.store(at, Lanes.widened(op, v));
          v128.store(at, Lanes.widened(op, v2), 16);
        }
      }
      for (; j < c1; j += 4) {
        const at = row + <usize>j * 4;
        let v = v128.load(at);
        if (bias != 0) v = f32x4.add(v, v128.load(bias + <usize>j * 4));
        if (op == TANH || op == SIGMOID) v = Lanes.widened(op, v);
        else if (op == RELU) v = Lanes.arithmetic<f32>(RELU, v);
        const valid = c1 - j;
        if (valid >= 4) v128.store(at, v);
        else {
          store<f32>(at, f32x4.extract_lane(v, 0));
          if (valid > 1) store<f32>(at, f32x4.extract_lane(v, 1), 4);
          if (valid > 2) store<f32>(at, f32x4.extract_lane(v, 2), 8);
        }
      }
    }
  }
}

/** Packs op(B) of a float32 product into `packedB` (`matmulPackedBytes` bytes). */
export function matmulPackF32(b: usize, n: i32, k: i32, transB: bool, packedB: usize): void {
  packColumns<f32>(b, n, k, transB, packedB, 0, n);
}

/** Packs op(B) of a float64 product into `packedB` (`matmulPackedBytes` bytes). */
export function matmulPackF64(b: usize, n: i32, k: i32, transB: bool, packedB: usize): void {
  packColumns<f64>(b, n, k, transB, packedB, 0, n);
}

/**
 * Columns [j0, j1) of `matmulPackF32`'s packing (j0 a multiple of 8), so that threads can pack one B together;
 * packing every range of a partition of [0, n) gives the same bytes as `matmulPackF32`.
 */
export function matmulPackColumnsF32(
  b: usize,
  n: i32,
  k: i32,
  transB: bool,
  packedB: usize,
  j0: i32,
  j1: i32,
): void {
  packColumns<f32>(b, n, k, transB, packedB, j0, j1);
}

/** The float64 version of `matmulPackColumnsF32` (j0 a multiple of 4). */
export function matmulPackColumnsF64(
  b: usize,
  n: i32,
  k: i32,
  transB: bool,
  packedB: usize,
  j0: i32,
  j1: i32,
): void {
  packColumns<f64>(b, n, k, transB, packedB, j0, j1);
}

/**
 * Rows [rowStart, rowStart + rowCount) of out[m×n] = op(A) · op(B) in float32, op(B) packed by `matmulPackF32`;
 * `scratch` holds `matmulScratchBytes` bytes.
 */
export function matmulRowsF32(
  a: usize,
  packedB: usize,
  out: usize,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  rowStart: i32,
  rowCount: i32,
  scratch: usize,
): void {
  rows<f32>(a, packedB, out, m, n, k, transA, rowStart, rowCount, scratch);
}

/**
 * Rows [rowStart, rowStart + rowCount) and columns [colStart, colEnd) of `matmulRowsF32`'s product (colStart a
 * multiple of 8), so that threads can share a product with few rows by columns too; the same bits.
 */
export function matmulBlockF32(
  a: usize,
  packedB: usize,
  out: usize,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  rowStart: i32,
  rowCount: i32,
  colStart: i32,
  colEnd: i32,
  scratch: usize,
): void {
  rows<f32>(a, packedB, out, m, n, k, transA, rowStart, rowCount, scratch, colStart, colEnd);
}

/**
 * `matmulBlockF32`'s block, finished as an affine layer: each value v of it becomes act(v + bias[column])
 * (`bias` the address of n float32, or 0 for none; `activation` RELU, TANH or SIGMOID of the unary codes, or −1
 * for none), computed as `addRowF32` then `unaryF32` compute it, so the same bits. The last vector of a row may
 * read (never write) up to three values past the block's columns, and past the bias's n values.
 */
export function matmulBlockEpilogueF32(
  a: usize,
  packedB: usize,
  out: usize,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  rowStart: i32,
  rowCount: i32,
  colStart: i32,
  colEnd: i32,
  scratch: usize,
  bias: usize,
  activation: i32,
): void {
  rows<f32>(
    a,
    packedB,
    out,
    m,
    n,
    k,
    transA,
    rowStart,
    rowCount,
    scratch,
    colStart,
    colEnd,
    bias,
    activation,
  );
}

/** The float64 version of `matmulBlockF32` (colStart a multiple of 4). */
export function matmulBlockF64(
  a: usize,
  packedB: usize,
  out: usize,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  rowStart: i32,
  rowCount: i32,
  colStart: i32,
  colEnd: i32,
  scratch: usize,
): void {
  rows<f64>(a, packedB, out, m, n, k, transA, rowStart, rowCount, scratch, colStart, colEnd);
}

/** The float64 version of `matmulRowsF32`. */
export function matmulRowsF64(
  a: usize,
  packedB: usize,
  out: usize,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  rowStart: i32,
  rowCount: i32,
  scratch: usize,
): void {
  rows<f64>(a, packedB, out, m, n, k, transA, rowStart, rowCount, scratch);
}
