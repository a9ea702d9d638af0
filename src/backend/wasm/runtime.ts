import { ValueError } from "../../errors.js";
import { KERNELS_WASM_BASE64 } from "./kernels.generated.js";
import { wasmThresholds } from "./thresholds.js";
import { choosePlainVariant, decodeBase64 } from "./variants.js";

/**
 * Loading the WebAssembly kernels and managing their memory. Every kernel call copies its inputs in at addresses
 * from `base` up, runs, and copies its result out, so nothing outside src/backend/wasm/ ever sees linear memory.
 * The layout is recomputed from the bottom at each call (calls never overlap: JavaScript is single-threaded), so
 * memory only grows to the largest call's need and nothing can leak.
 */

/** The functions assembly/index.ts exports (addresses and sizes in bytes; booleans as 0 / 1). */
export interface KernelExports {
  heapBase(): number;
  matmulScratchBytes(elementBytes: number): number;
  /** Rows of the product kernel's tile for values of `elementBytes` bytes (float32: 5, or 6 with relaxed SIMD). */
  matmulTileRows(elementBytes: number): number;
  /** Where chunk `chunk` of a split product's m rows starts (see assembly/matmul.ts). */
  matmulRowChunkStart(chunk: number, m: number, most: number, threads: number, tile: number): number;
  /** The number of chunks `matmulRowChunkStart` cuts m rows into. */
  matmulRowChunkCount(m: number, most: number, threads: number, tile: number): number;
  matmulPackedBytes(n: number, k: number, elementBytes: number): number;
  matmulPackF32(b: number, n: number, k: number, transB: number, packedB: number): void;
  matmulPackF64(b: number, n: number, k: number, transB: number, packedB: number): void;
  matmulRowsF32(
    a: number,
    packedB: number,
    out: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    rowStart: number,
    rowCount: number,
    scratch: number,
  ): void;
  matmulRowsF64(
    a: number,
    packedB: number,
    out: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    rowStart: number,
    rowCount: number,
    scratch: number,
  ): void;
  /**
   * Rows [rowStart, rowStart + rowCount) and columns [colStart, colEnd) of a float32 product (colStart a
   * multiple of 8), each value then v = act(v + bias[column]): bias an address or 0, activation a unary code
   * (relu, tanh, sigmoid) or −1 (see MATMUL_NO_ACTIVATION).
   */
  matmulBlockEpilogueF32(
    a: number,
    packedB: number,
    out: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    rowStart: number,
    rowCount: number,
    colStart: number,
    colEnd: number,
    scratch: number,
    bias: number,
    activation: number,
  ): void;
  sumAxisF32(x: number, out: number, outer: number, axis: number, inner: number): void;
  sumAxisF64(x: number, out: number, outer: number, axis: number, inner: number): void;
  /** A softmax's exponentials and each row's maximum and Σ (assembly/softmax.ts; src/backend/wasm/softmax.ts). */
  softmaxExpsF32(x: number, rows: number, columns: number, exps: number, stats: number): void;
  unaryF32(op: number, x: number, out: number, n: number): void;
  unaryF64(op: number, x: number, out: number, n: number): void;
  binaryF32(
    op: number,
    a: number,
    aRowStride: number,
    aStep: number,
    b: number,
    bRowStride: number,
    bStep: number,
    out: number,
    rows: number,
    columns: number,
  ): void;
  binaryF64(
    op: number,
    a: number,
    aRowStride: number,
    aStep: number,
    b: number,
    bRowStride: number,
    bStep: number,
    out: number,
    rows: number,
    columns: number,
  ): void;
  // The activations' derivatives of a compiled step (assembly/derivatives.ts): out = g ∘ f'(x) from y = f(x).
  tanhBackwardF32(y: number, g: number, out: number, n: number): void;
  sigmoidBackwardF32(y: number, g: number, out: number, n: number): void;
  // Row kernels (assembly/rows.ts): an embedding's lookup and gradient, an affine layer's bias. The gather and
  // scatter-add return −1, or the position of an index outside [0, limit) (then they wrote nothing).
  gatherRowsF32(...args: GatherRowsArguments): number;
  gatherRowsF64(...args: GatherRowsArguments): number;
  scatterAddRowsF32(...args: ScatterAddRowsArguments): number;
  scatterAddRowsF64(...args: ScatterAddRowsArguments): number;
  /** Rows [from, to) of out as the in-order sums of the listed rows of values (assembly/rows.ts). */
  sumRowsF32(...args: SumRowsArguments): void;
  sumRowsF64(...args: SumRowsArguments): void;
  addRowF32(y: number, row: number, rows: number, columns: number): void;
  addRowF64(y: number, row: number, rows: number, columns: number): void;
  copyBlock(
    from: number,
    fromStride: number,
    to: number,
    toStride: number,
    rows: number,
    rowBytes: number,
  ): void;
  // Optimiser updates (assembly/optim.ts; src/backend/wasm/optim.ts documents the arguments).
  sgdF32(...args: SgdArguments): void;
  sgdF64(...args: SgdArguments): void;
  sgdRowsF32(...args: SgdRowsArguments): void;
  sgdRowsF64(...args: SgdRowsArguments): void;
  adamF32(...args: AdamArguments): void;
  adamF64(...args: AdamArguments): void;
  adamRowsF32(...args: AdamRowsArguments): void;
  adamRowsF64(...args: AdamRowsArguments): void;
  adagradF32(...args: AdaGradArguments): void;
  adagradF64(...args: AdaGradArguments): void;
  adagradRowsF32(...args: AdaGradRowsArguments): void;
  adagradRowsF64(...args: AdaGradRowsArguments): void;
}

/** A gather of rows: out[k] = table[indices[k]] for k < count, rows of rowSize values; the table has `limit` rows. */
export type GatherRowsArguments = [
  table: number,
  limit: number,
  indices: number,
  count: number,
  rowSize: number,
  out: number,
];
/** Sums of rows by index: rows [from, to) of out zeroed, then out[indices[k]] += values[k] for those rows, in order. */
export type SumRowsArguments = [
  values: number,
  indices: number,
  count: number,
  rowSize: number,
  out: number,
  from: number,
  to: number,
];
/** A scatter-add of rows: out[indices[k]] += values[k] for k = 0, …, count − 1 in order; `out` has `limit` rows. */
export type ScatterAddRowsArguments = [
  values: number,
  indices: number,
  count: number,
  rowSize: number,
  out: number,
  limit: number,
];

/**
 * SGD on a dense span: (param, grad, buffer, n, lr, weightDecay, momentum, keep = 1 − dampening, flags: 1 Nesterov,
 * 2 first step). Addresses in bytes; `buffer` (the momentum buffer) is read only when momentum ≠ 0.
 */
export type SgdArguments = [
  param: number,
  grad: number,
  buffer: number,
  n: number,
  lr: number,
  weightDecay: number,
  momentum: number,
  keep: number,
  flags: number,
];
/** SGD on rows: as {@link SgdArguments}, with n replaced by (rows, rowCount, rowSize); rows holds int32 indices. */
export type SgdRowsArguments = [
  param: number,
  grad: number,
  buffer: number,
  rows: number,
  rowCount: number,
  rowSize: number,
  lr: number,
  weightDecay: number,
  momentum: number,
  keep: number,
  flags: number,
];
/**
 * Adam / AdamW on a dense span: (param, grad, expAvg, expAvgSq, n, β₁, β₂, stepSize = α / (1 − β₁ᵗ),
 * correction2 = √(1 − β₂ᵗ), ε, l2, shrink); Adam: l2 = λ, shrink = 1; AdamW: l2 = 0, shrink = 1 − αλ.
 */
export type AdamArguments = [
  param: number,
  grad: number,
  expAvg: number,
  expAvgSq: number,
  n: number,
  beta1: number,
  beta2: number,
  stepSize: number,
  correction2: number,
  eps: number,
  l2: number,
  shrink: number,
];
/** Adam on rows: as {@link AdamArguments}, with n replaced by (rows, rowCount, rowSize). */
export type AdamRowsArguments = [
  param: number,
  grad: number,
  expAvg: number,
  expAvgSq: number,
  rows: number,
  rowCount: number,
  rowSize: number,
  beta1: number,
  beta2: number,
  stepSize: number,
  correction2: number,
  eps: number,
  l2: number,
  shrink: number,
];
/** AdaGrad on a dense span: (param, grad, sum, n, rate = α / (1 + (t − 1)·lrDecay), weightDecay, ε). */
export type AdaGradArguments = [
  param: number,
  grad: number,
  sum: number,
  n: number,
  rate: number,
  weightDecay: number,
  eps: number,
];
/** AdaGrad on rows: as {@link AdaGradArguments}, with n replaced by (rows, rowCount, rowSize). */
export type AdaGradRowsArguments = [
  param: number,
  grad: number,
  sum: number,
  rows: number,
  rowCount: number,
  rowSize: number,
  rate: number,
  weightDecay: number,
  eps: number,
];

/**
 * The name of every function in {@link KernelExports}: the object below must name each exactly once (the
 * compiler checks it against the interface), and test/backend/kernel-interface.test.ts checks the list against
 * the functions the compiled module exports, so the interface and assembly/ cannot drift apart.
 */
export const KERNEL_FUNCTIONS = Object.keys({
  heapBase: true,
  matmulScratchBytes: true,
  matmulTileRows: true,
  matmulRowChunkStart: true,
  matmulRowChunkCount: true,
  matmulPackedBytes: true,
  matmulPackF32: true,
  matmulPackF64: true,
  matmulRowsF32: true,
  matmulRowsF64: true,
  matmulBlockEpilogueF32: true,
  sumAxisF32: true,
  sumAxisF64: true,
  softmaxExpsF32: true,
  unaryF32: true,
  unaryF64: true,
  binaryF32: true,
  binaryF64: true,
  tanhBackwardF32: true,
  sigmoidBackwardF32: true,
  gatherRowsF32: true,
  gatherRowsF64: true,
  scatterAddRowsF32: true,
  scatterAddRowsF64: true,
  sumRowsF32: true,
  sumRowsF64: true,
  addRowF32: true,
  addRowF64: true,
  copyBlock: true,
  sgdF32: true,
  sgdF64: true,
  sgdRowsF32: true,
  sgdRowsF64: true,
  adamF32: true,
  adamF64: true,
  adamRowsF32: true,
  adamRowsF64: true,
  adagradF32: true,
  adagradF64: true,
  adagradRowsF32: true,
  adagradRowsF64: true,
} satisfies Record<keyof KernelExports, true>) as (keyof KernelExports)[];

/** The `activation` of matmulBlockEpilogueF32 that applies none (the bias only). */
export const MATMUL_NO_ACTIVATION = -1;

const PAGE = 65536;

export function align16(bytes: number): number {
  return (bytes + 15) & ~15;
}

/** The instance whose memory is each buffer (the memory's current buffer: growing replaces it). */
const owners = new WeakMap<ArrayBufferLike, Kernels>();

/**
 * The kernel instance whose memory `array` is a view of (a resident buffer of a compiled step's plan), so that
 * a kernel can run on it in place; null for an ordinary array.
 */
export function kernelsOf(array: ArrayBufferView): Kernels | null {
  return owners.get(array.buffer) ?? null;
}

/**
 * The kernel instance whose memory holds every one of `arrays` (so that a kernel can run on all of them in
 * place), or null when one lives elsewhere or they live in different instances.
 */
export function commonKernels(arrays: readonly ArrayBufferView[]): Kernels | null {
  const home = arrays.length === 0 ? null : kernelsOf(arrays[0]!);
  if (home === null) return null;
  for (let i = 1; i < arrays.length; i++) if (kernelsOf(arrays[i]!) !== home) return null;
  return home;
}

/** The instantiated module, its memory, and typed views of that memory (renewed when memory grows). */
export class Kernels {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  /** First address a call may lay its arrays out from, 16-byte aligned. */
  readonly base: number;
  private buffer: ArrayBuffer;
  f32: Float32Array;
  f64: Float64Array;
  i32: Int32Array;

  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as KernelExports;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.base = align16(this.exports.heapBase());
    this.buffer = this.memory.buffer;
    this.f32 = new Float32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    owners.set(this.buffer, this);
  }

  /**
   * Makes sure addresses below `end` exist, growing memory if needed. Returns false (and leaves memory as it is)
   * when `end` is beyond `wasmThresholds.maxBytes` or the engine refuses to grow; the caller then runs the JS
   * kernel.
   */
  reserve(end: number): boolean {
    const memory = this.memory;
    if (end > wasmThresholds.maxBytes) return false;
    if (end > memory.buffer.byteLength) {
      try {
        memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
      } catch {
        return false;
      }
    }
    if (memory.buffer !== this.buffer) {
      this.buffer = memory.buffer;
      owners.set(this.buffer, this);
      this.f32 = new Float32Array(this.buffer);
      this.f64 = new Float64Array(this.buffer);
      this.i32 = new Int32Array(this.buffer);
    }
    return true;
  }

  /** Bytes of linear memory in use (its high-water mark). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
}

let bytes: Uint8Array<ArrayBuffer> | null = null;
let kernels: Kernels | null = null;
let pending: Promise<Kernels> | null = null;

function moduleBytes(): Uint8Array<ArrayBuffer> {
  // Relaxed SIMD (a fused multiply-add in the float32 matmul) where the engine validates it (see pickVariant).
  bytes ??= choosePlainVariant()?.bytes ?? decodeBase64(KERNELS_WASM_BASE64);
  return bytes;
}

/**
 * The build of the WebAssembly kernels this engine runs on the calling thread: `"relaxed-simd"` (the float32
 * matmul with a fused multiply-add), `"simd"`, or null where WebAssembly SIMD is not available. The thread pool
 * runs the same kind of build, so that results do not depend on the number of threads.
 */
export function wasmKernelBuild(): string | null {
  return choosePlainVariant()?.name ?? null;
}

/** Whether this engine has WebAssembly with SIMD (validates the kernels' module without compiling it). */
export function wasmSupported(): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(moduleBytes());
  } catch {
    return false;
  }
}

let compiledModule: WebAssembly.Module | null = null;

/**
 * A new instance of the kernels with a memory of its own, which no other code uses: a caller that keeps
 * buffers resident in WebAssembly memory (a compiled step's plan, src/compile/) lays them out from `base` up,
 * grows the memory with `reserve` before it makes any view of it, and passes byte addresses to the exports,
 * with no copy in or out. Returns null where the kernels cannot be compiled synchronously.
 */
export function createKernelInstance(): Kernels | null {
  if (loadKernelsSync() === null) return null;
  try {
    compiledModule ??= new WebAssembly.Module(moduleBytes());
    return new Kernels(new WebAssembly.Instance(compiledModule, {}));
  } catch {
    return null;
  }
}

/**
 * Instantiates the kernels synchronously (allowed in Node and in web workers; a browser's main thread may refuse
 * to compile synchronously). Returns null if that is not possible here.
 */
export function loadKernelsSync(): Kernels | null {
  if (kernels) return kernels;
  if (!wasmSupported()) return null;
  try {
    kernels = new Kernels(new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()), {}));
  } catch {
    return null;
  }
  return kernels;
}

/** Compiles and instantiates the kernels asynchronously (the way browsers require on their main thread). */
export function loadKernels(): Promise<Kernels> {
  if (kernels) return Promise.resolve(kernels);
  pending ??= (async () => {
    if (!wasmSupported())
      throw new ValueError("initWasm: this JavaScript engine has no WebAssembly with SIMD support");
    const module = await WebAssembly.compile(moduleBytes());
    const instance = await WebAssembly.instantiate(module, {});
    kernels ??= new Kernels(instance);
    return kernels;
  })();
  pending.catch(() => {
    pending = null;
  });
  return pending;
}

/** The loaded kernels, instantiating them synchronously on first use; throws if that is not possible. */
export function requireKernels(): Kernels {
  const loaded = kernels ?? loadKernelsSync();
  if (!loaded)
    throw new ValueError(
      'wasm backend: the WebAssembly kernels are not loaded and cannot be compiled synchronously here; call `await initWasm()` first, or setBackend("js")',
    );
  return loaded;
}
