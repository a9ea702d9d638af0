import type { TypedArray } from "../../tensor/dtype.js";
import type { MatmulDesc } from "../backend.js";
import { align16 } from "./runtime.js";
import { getThreads, threadPool } from "./threads.js";
import { wasmThresholds } from "./thresholds.js";

/** Rows of the packed A blocks in assembly/matmul.ts: chunks are multiples of it. */
const MR = 4;

/**
 * out[batch] = op(a) · op(b) split across the thread pool, when the product is large enough and a pool can run
 * here; returns false (and does nothing) otherwise, and the caller runs it on one thread. Each chunk of output
 * rows is computed by one thread exactly as the single-thread kernel computes it, so the results are identical.
 */
export function threadedMatmul(a: TypedArray, b: TypedArray, out: TypedArray, desc: MatmulDesc): boolean {
  const { m, n, k, batch } = desc;
  const threads = getThreads();
  if (threads < 2 || m * n * k < wasmThresholds.threadFlops || m < 2 * MR) return false;
  const f32 = a instanceof Float32Array;
  const pool = threadPool();
  if (pool === null || pool.failed) return false;
  const { exports } = pool;
  const size = f32 ? 4 : 8;
  // Layout: A, B and out as given, op(B) packed, then one scratch area per thread.
  const aAt = pool.base;
  const bAt = aAt + align16(a.length * size);
  const outAt = bAt + align16(b.length * size);
  const packedAt = outAt + align16(out.length * size);
  const scratchAt = packedAt + align16(exports.matmulPackedBytes(n, k, size));
  const scratchStride = align16(exports.matmulScratchBytes(size));
  if (!pool.reserve(scratchAt + threads * scratchStride, wasmThresholds.maxBytes)) return false;
  const view = f32 ? pool.f32 : pool.f64;
  view.set(a, aAt / size);
  view.set(b, bAt / size);
  const pack = f32 ? exports.matmulPackF32 : exports.matmulPackF64;
  const transA = desc.transA ? 1 : 0;
  const transB = desc.transB ? 1 : 0;
  // About four chunks per thread, so that a thread the machine delays leaves its share to the others.
  const rowsPerChunk = Math.max(MR, Math.ceil(m / (4 * threads) / MR) * MR);
  let packedFor = -1;
  for (let t = 0; t < batch; t++) {
    const bOffset = desc.bOffsets[t]!;
    const outOffset = desc.outOffsets[t]!;
    const outMatrix = outAt + outOffset * size;
    if (bOffset !== packedFor) pack(bAt + bOffset * size, n, k, transB, packedAt);
    packedFor = bOffset;
    pool.rows(
      f32,
      aAt + desc.aOffsets[t]! * size,
      packedAt,
      outMatrix,
      m,
      n,
      k,
      transA,
      rowsPerChunk,
      scratchAt,
      scratchStride,
    );
    const from = outMatrix / size;
    const result = f32 ? pool.f32 : pool.f64;
    out.set(result.subarray(from, from + m * n), outOffset);
  }
  return true;
}
