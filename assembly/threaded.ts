// The kernels a pool of threads shares: the same matrix multiply as index.ts, compiled a second time against an
// imported *shared* memory (scripts/build-wasm.ts, the "shared" variants), so that the main thread and its
// workers each instantiate this module over one memory and split a product's output rows between them.
// Everything else runs in the ordinary module: copies into shared memory cost more than into an ordinary one.

export {
  matmulPackedBytes,
  matmulPackF32,
  matmulPackF64,
  matmulPackColumnsF32,
  matmulPackColumnsF64,
  matmulRowsF32,
  matmulRowsF64,
  matmulScratchBytes,
} from "./matmul";

/** The first address the host may use. */
export function heapBase(): usize {
  return __heap_base;
}
