import type { TypedArray } from "../../tensor/dtype.js";
import type { MatmulDesc } from "../backend.js";
import { MATMUL_NO_ACTIVATION, align16, kernelsOf } from "./runtime.js";
import { getThreads, threadPool, type ThreadPool } from "./threads.js";
import { wasmThresholds } from "./thresholds.js";

/** Fewer output rows than twice this are cut by columns only (`splitsAcrossThreads`). */
const MR = 5;
/** Columns of a packed float32 panel of B (float64: 4). */
const PANEL_F32 = 8;
/** Rows of A the kernel packs at once (MC in assembly/matmul.ts): no chunk of rows is larger. */
const MC = 120;

/**
 * Whether a product of m × k by k × n is split across the pool's threads (when the pool has ≥ 2 of them): the
 * one rule for eager products (copied into the shared memory: from `wasmThresholds.threadFlops` multiply-adds)
 * and for a compiled plan's (`inPlace`, operands already in the shared memory: from `threadFlopsInPlace`), with
 * at least 10 rows, or, with fewer, enough columns to cut into two blocks per thread (`chunking`: a network's
 * output-layer weight gradient, 9 rows of 300 columns).
 */
export function splitsAcrossThreads(m: number, n: number, k: number, inPlace = false): boolean {
  const threshold = inPlace ? wasmThresholds.threadFlopsInPlace : wasmThresholds.threadFlops;
  if (m * n * k < threshold) return false;
  return m >= 2 * MR || Math.ceil(n / PANEL_F32) >= 2 * Math.max(2, getThreads());
}

/**
 * The chunks a product is split into among `threads` threads: chunks of output rows, at most one of the kernel's
 * blocks of rows (MC) and at most a thread's share, shrinking toward the last (`matmulRowChunkStart` in
 * assembly/matmul.ts) so that the threads finish together; and B packed in chunks of whole panels (8 float32 or 4 float64 columns),
 * about two per thread. Each chunk of rows reads all of packed B again, so more chunks cost more: with equal
 * chunks, four a thread ran the compiled NER step at batch 256 on two threads at 156,500–158,200 examples/s,
 * three at 163,600–164,200, two at 165,900–166,500 (`bench/ner-step.ts --seconds 2 --warmup 1`, alternating,
 * a quiet machine). Two equal chunks a thread still left the main thread waiting for the worker's last one
 * (35–75 µs at each large product); the shrinking chunks (120, 70, 35, 20 and 11 rows at batch 256) took
 * 1,866 against 2,068 µs a step at batch 256 and 13,215 against 13,713 at batch 2048 (median blocks of 40
 * steps, the two ways alternating in one process, on a busy machine).
 *
 * A product with too few rows for that (fewer than four tiles per thread: the NER network's batch of 32 has
 * 6.4 tiles of 5 rows, 5.3 of 6) would split unevenly — 4 chunks against 3, with the thread that took 3
 * waiting — so its row chunks are also cut by columns (`blockColumns`, whole panels, about two blocks per thread), each block a
 * chunk.
 */
function chunking(m: number, n: number, threads: number, size: number, tile: number) {
  const rowsPerChunk = Math.min(MC, Math.max(4 * tile, Math.ceil(m / threads / tile) * tile));
  const panel = 32 / size;
  const panels = Math.ceil(n / panel);
  const columnsPerChunk = Math.ceil(panels / (2 * threads)) * panel;
  const fewRows = m < 4 * threads * tile && m <= MC;
  const blockColumns = fewRows && panels >= 2 * threads ? columnsPerChunk : Math.max(n, 1);
  return { rowsPerChunk: fewRows ? m : rowsPerChunk, columnsPerChunk, blockColumns };
}

/**
 * out = op(A) · op(B) on byte addresses in the pool's shared memory, in place, split across the pool's threads:
 * op(B) packed at `packedAt` (`matmulPackedBytes(n, k)` bytes), then the output rows in chunks among all
 * threads, each with its scratch space in the per-call area (`pool.base`). A compiled plan whose buffers live
 * in the shared memory (src/compile/arena.ts) runs its large products here, with nothing copied in or out. Each
 * chunk of rows is computed exactly as the single-thread kernel computes it, so the result is that kernel's to
 * the bit. Returns false (nothing done) when the scratch space cannot be had; the caller then runs the
 * single-thread kernel on the same memory.
 *
 * Who packs op(B): a product cut by columns only (few rows: the NER step's batch of 32) lets each chunk pack
 * its own columns before it computes them, so the threads share the packing without meeting twice. Packing
 * ner train's 300 × 400 weight took about 34 µs of a 720 µs step, twice a step (forward and the input's
 * gradient). Otherwise the task's first chunks pack op(B) in blocks of panels, and its chunks of rows wait
 * for them (`ThreadPool.rows` with `packColumns`): the threads share the packing in the same task. A task of
 * its own for the packing would cost a second rendezvous of the threads, which on a busy machine (a worker
 * waiting for a core) cost more than it saved (measured: the median product 5–20 % slower); the calling
 * thread packing it all while the workers wait took 18–27 µs of each of the NER step's three large products
 * at batch 256.
 *
 * A float32 product may finish as an affine layer: `bias` (an address, or 0) and `activation` (see
 * ThreadPool.rows) are applied by each chunk to its block.
 *
 * After `ThreadPool.deferNextProduct` the product returns once it is published, its chunks left to the workers
 * until `ThreadPool.join`.
 */
export function splitProductInPlace(
  pool: ThreadPool,
  f32: boolean,
  aAt: number,
  bAt: number,
  outAt: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  packedAt: number,
  bias = 0,
  activation = MATMUL_NO_ACTIVATION,
): boolean {
  if (!f32 && (bias !== 0 || activation !== MATMUL_NO_ACTIVATION))
    throw new RangeError("splitProductInPlace: a bias or activation needs a float32 product");
  const threads = Math.max(1, pool.workerCount + 1);
  const size = f32 ? 4 : 8;
  const scratchAt = pool.base;
  const scratchStride = align16(pool.exports.matmulScratchBytes(size));
  if (!pool.reserve(scratchAt + threads * scratchStride, wasmThresholds.maxBytes)) return false;
  const tile = pool.exports.matmulTileRows(size);
  const { rowsPerChunk, columnsPerChunk, blockColumns } = chunking(m, n, threads, size, tile);
  const packInChunks = rowsPerChunk >= m && blockColumns < n;
  pool.rows(
    f32,
    aAt,
    packedAt,
    outAt,
    m,
    n,
    k,
    transA ? 1 : 0,
    rowsPerChunk,
    scratchAt,
    scratchStride,
    blockColumns,
    bAt,
    transB ? 1 : 0,
    bias,
    activation,
    packInChunks ? 0 : columnsPerChunk,
    // Left running on the workers when the caller asked for it (ThreadPool.deferNextProduct).
    pool.takeDeferral(),
  );
  return true;
}

/**
 * out[batch] = op(a) · op(b) in the thread pool's shared memory, split across its threads when the product is
 * large enough (`wasmThresholds.threadFlops`), on the calling thread otherwise; returns false (and does nothing)
 * where no pool can run, and the caller runs the ordinary module's kernel. Each chunk of output rows is computed
 * by one thread exactly as the single-thread kernel computes it, so the results are identical.
 *
 * The backend calls it only for products that split (see `matmul` in matmul.ts): on one thread, the copies into
 * and out of the shared memory cost more than those of the ordinary module's memory (measured: copying 75,000
 * float32 out of the shared memory took 15–22 µs, out of the kernels' ordinary memory 9–10 µs; only a memory
 * made with `new WebAssembly.Memory({ maximum })`, not the kernels', takes a slow path, about 190 µs).
 */
export function threadedMatmul(a: TypedArray, b: TypedArray, out: TypedArray, desc: MatmulDesc): boolean {
  const { m, n, k, batch } = desc;
  const pool = threadPool();
  if (pool === null || pool.failed) return false;
  const split = getThreads() >= 2 && splitsAcrossThreads(m, n, k);
  const threads = split ? getThreads() : 1;
  const f32 = a instanceof Float32Array;
  const { exports } = pool;
  const size = f32 ? 4 : 8;
  // Layout: A, B and out as given, op(B) packed, then one scratch area per thread. An operand that already
  // lives in the shared memory (an eager optimiser's resident weights, see resident.ts) is read where it is.
  const aResident = kernelsOf(a) === pool.kernels;
  const bResident = kernelsOf(b) === pool.kernels;
  let top = pool.base;
  const aAt = aResident ? a.byteOffset : top;
  if (!aResident) top += align16(a.length * size);
  const bAt = bResident ? b.byteOffset : top;
  if (!bResident) top += align16(b.length * size);
  const outAt = top;
  const packedAt = outAt + align16(out.length * size);
  const scratchAt = packedAt + align16(exports.matmulPackedBytes(n, k, size));
  const scratchStride = align16(exports.matmulScratchBytes(size));
  if (!pool.reserve(scratchAt + threads * scratchStride, wasmThresholds.maxBytes)) return false;
  const view = f32 ? pool.f32 : pool.f64;
  if (!aResident) view.set(a, aAt / size);
  if (!bResident) view.set(b, bAt / size);
  const transA = desc.transA ? 1 : 0;
  const transB = desc.transB ? 1 : 0;
  const tile = exports.matmulTileRows(size);
  const { rowsPerChunk, columnsPerChunk, blockColumns } = chunking(m, n, threads, size, tile);
  const pack = f32 ? exports.matmulPackF32 : exports.matmulPackF64;
  const rows = f32 ? exports.matmulRowsF32 : exports.matmulRowsF64;
  let packedFor = -1;
  for (let t = 0; t < batch; t++) {
    const aMatrix = aAt + desc.aOffsets[t]! * size;
    const bMatrix = bAt + desc.bOffsets[t]! * size;
    const outOffset = desc.outOffsets[t]!;
    const outMatrix = outAt + outOffset * size;
    // Consecutive products with the same B (a B broadcast over the batch) pack it once. A split product packs
    // it in its own task: in each chunk of columns when it is cut by columns only, else in its first chunks
    // (see splitProductInPlace).
    const packs = bMatrix !== packedFor;
    const packInChunks = split && packs && rowsPerChunk >= m && blockColumns < n;
    if (packs && !split) pack(bMatrix, n, k, transB, packedAt);
    packedFor = bMatrix;
    if (split)
      pool.rows(
        f32,
        aMatrix,
        packedAt,
        outMatrix,
        m,
        n,
        k,
        transA,
        rowsPerChunk,
        scratchAt,
        scratchStride,
        blockColumns,
        packs ? bMatrix : 0,
        transB,
        0,
        MATMUL_NO_ACTIVATION,
        packs && !packInChunks ? columnsPerChunk : 0,
      );
    else rows(aMatrix, packedAt, outMatrix, m, n, k, transA, 0, m, scratchAt);
    const from = outMatrix / size;
    const result = f32 ? pool.f32 : pool.f64;
    out.set(result.subarray(from, from + m * n), outOffset);
  }
  return true;
}
