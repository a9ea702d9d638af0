// The kernels of the thread pool's shared memory: every kernel of index.ts, compiled a second time against an
// imported *shared* memory (scripts/build-wasm.ts, the "shared" variants). The main thread and the pool's workers
// each instantiate this module over one memory: the workers split a product's output rows between them, and the
// main thread also runs the other kernels there, in place, for a compiled step whose buffers live in that memory
// (src/compile/arena.ts).

export * from "./index";
// Packing B by column panels, and blocks of output rows and columns, so that the threads can share that work too.
export { matmulPackColumnsF32, matmulPackColumnsF64, matmulBlockF32, matmulBlockF64 } from "./matmul";
