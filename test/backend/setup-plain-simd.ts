// Setup file of the "plain-simd" test project (vitest.config.ts, which sets CHAINRULE_RELAXED_SIMD=0): the matrix
// product tests once more on the plain SIMD build, whose float32 tile (5 rows, a multiply and an add) differs
// from the relaxed build's (6 rows, a fused multiply-add) that the default project runs.
import { wasmKernelBuild } from "../../src/index.js";
import { threadPool, threadsAvailable } from "../../src/backend/wasm/threads.js";

if (wasmKernelBuild() !== "simd")
  throw new Error(`the plain SIMD build was not chosen (${wasmKernelBuild()})`);
if (threadsAvailable() && threadPool()!.exports.matmulTileRows(4) !== 5) {
  throw new Error("the thread pool does not run the plain SIMD build");
}
