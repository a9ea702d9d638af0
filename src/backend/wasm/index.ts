import type { Backend } from "../backend.js";
import { jsBackend } from "../js/index.js";
import { activationBackward, binary, unary } from "./elementwise.js";
import { concat, gather, scatterAdd, slice, sumRows } from "./layout.js";
import { matmul } from "./matmul.js";
import { reduce } from "./reduce.js";
import { softmax } from "./softmax.js";

export { loadKernels, loadKernelsSync, wasmSupported } from "./runtime.js";

/**
 * The WebAssembly SIMD backend. Its kernels copy their inputs into the module's memory, run there and copy the
 * result out; float32 and float64 arrays above a size threshold take that path. The layout kernels (transpose,
 * slice, concat, gather, scatter-add), int32 arrays, float64 transcendentals and the small linear-algebra
 * routines are the JavaScript kernels: they are memory-bound copies or rare, and a copy into WebAssembly memory
 * would cost as much as the work itself (see docs/backends.md). Gather and scatter-add of rows, concatenation
 * and slices whose arrays already live in WebAssembly memory (a compiled step's embeddings and their window)
 * run there in place (layout.ts).
 */
export const wasmBackend: Backend = {
  name: "wasm",
  unary,
  binary,
  reduce,
  broadcastTo: jsBackend.broadcastTo,
  matmul,
  transpose: jsBackend.transpose,
  slice,
  sliceAdd: jsBackend.sliceAdd,
  concat,
  gather,
  scatterAdd,
  sumRows,
  softmax,
  logSumExp: jsBackend.logSumExp,
  cast: jsBackend.cast,
  inverse: jsBackend.inverse,
  determinant: jsBackend.determinant,
  activationBackward,
};
