// chainrule's WebAssembly kernels. The host (src/backend/wasm/) owns the memory layout: it copies inputs to
// addresses at or above `heapBase()`, grows memory as needed and passes byte addresses to these functions.

export {
  matmulPackedBytes,
  matmulPackF32,
  matmulPackF64,
  matmulRowsF32,
  matmulRowsF64,
  matmulBlockEpilogueF32,
  matmulScratchBytes,
  matmulTileRows,
  matmulRowChunkStart,
  matmulRowChunkCount,
} from "./matmul";
export { unaryF32, unaryF64, binaryF32, binaryF64 } from "./elementwise";
export { sumAxisF32, sumAxisF64 } from "./reduce";
export { softmaxExpsF32 } from "./softmax";
export { tanhBackwardF32, sigmoidBackwardF32 } from "./derivatives";
export {
  gatherRowsF32,
  gatherRowsF64,
  scatterAddRowsF32,
  scatterAddRowsF64,
  sumRowsF32,
  sumRowsF64,
  addRowF32,
  addRowF64,
  copyBlock,
} from "./rows";
export {
  sgdF32,
  sgdF64,
  sgdRowsF32,
  sgdRowsF64,
  adamF32,
  adamF64,
  adamRowsF32,
  adamRowsF64,
  adagradF32,
  adagradF64,
  adagradRowsF32,
  adagradRowsF64,
} from "./optim";

/** The first address the host may use. */
export function heapBase(): usize {
  return __heap_base;
}
