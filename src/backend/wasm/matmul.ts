import type { TypedArray } from "../../tensor/dtype.js";
import type { MatmulDesc } from "../backend.js";
import { matmul as jsMatmul } from "../js/matmul.js";
import { splitsAcrossThreads, threadedMatmul } from "./matmul-threads.js";
import { getThreads } from "./threads.js";
import { residentPool } from "./resident.js";
import { align16, requireKernels } from "./runtime.js";
import { wasmThresholds } from "./thresholds.js";

/**
 * out[batch] = op(a) · op(b) with the SIMD kernels (float32 and float64 arrays): split across the thread pool's
 * threads in its shared memory when the product is large enough and threads can run, else in the ordinary
 * module on the calling thread; other dtypes, mixed dtypes and tiny products run the JavaScript kernel.
 */
export function matmul(a: TypedArray, b: TypedArray, out: TypedArray, desc: MatmulDesc): void {
  const { m, n, k, batch } = desc;
  const f32 = a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array;
  const f64 = a instanceof Float64Array && b instanceof Float64Array && out instanceof Float64Array;
  if ((!f32 && !f64) || batch === 0 || m * n === 0 || m * n * k < wasmThresholds.matmulFlops) {
    jsMatmul(a, b, out, desc);
    return;
  }
  // A product that stays on one thread runs in the ordinary module: copying into the shared memory and out of it
  // costs more than copying in and out of the ordinary one (5–8 % of a product of the NER network's size). Not
  // when an operand already lives in the shared memory (an eager optimiser's resident weights): it is read there.
  const threaded = getThreads() >= 2;
  const pooled =
    threaded && (splitsAcrossThreads(m, n, k) || residentPool(a) !== null || residentPool(b) !== null);
  if (pooled && threadedMatmul(a, b, out, desc)) return;
  ordinaryMatmul(a as Float32Array | Float64Array, b, out, desc);
}

/**
 * The product in the ordinary (non-shared) module, on the calling thread: where no thread pool can run (a page
 * that is not cross-origin isolated), and in tests. a, b and out are all float32 or all float64.
 */
export function ordinaryMatmul(
  a: Float32Array | Float64Array,
  b: TypedArray,
  out: TypedArray,
  desc: MatmulDesc,
): void {
  const { m, n, k, batch } = desc;
  const f32 = a instanceof Float32Array;
  const kernels = requireKernels();
  const { exports } = kernels;
  const size = f32 ? 4 : 8;
  // Layout: A, B and out as given, op(B) packed, and scratch space for the packed blocks of op(A).
  const aAt = kernels.base;
  const bAt = aAt + align16(a.length * size);
  const outAt = bAt + align16(b.length * size);
  const packedAt = outAt + align16(out.length * size);
  const scratchAt = packedAt + align16(exports.matmulPackedBytes(n, k, size));
  if (!kernels.reserve(scratchAt + exports.matmulScratchBytes(size))) {
    jsMatmul(a, b, out, desc);
    return;
  }
  const view = f32 ? kernels.f32 : kernels.f64;
  view.set(a, aAt / size);
  view.set(b, bAt / size);
  const pack = f32 ? exports.matmulPackF32 : exports.matmulPackF64;
  const rows = f32 ? exports.matmulRowsF32 : exports.matmulRowsF64;
  const transA = desc.transA ? 1 : 0;
  const transB = desc.transB ? 1 : 0;
  let packedFor = -1;
  for (let t = 0; t < batch; t++) {
    const aMatrix = aAt + desc.aOffsets[t]! * size;
    const bOffset = desc.bOffsets[t]!;
    const outOffset = desc.outOffsets[t]!;
    const outMatrix = outAt + outOffset * size;
    // Consecutive products with the same B (a B broadcast over the batch) pack it once.
    if (bOffset !== packedFor) pack(bAt + bOffset * size, n, k, transB, packedAt);
    packedFor = bOffset;
    rows(aMatrix, packedAt, outMatrix, m, n, k, transA, 0, m, scratchAt);
    const from = outMatrix / size;
    out.set(view.subarray(from, from + m * n), outOffset);
  }
}
