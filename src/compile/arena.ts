/**
 * A plan's memory: its own instance of the WebAssembly kernels, whose linear memory holds the plan's buffers
 * (op outputs, gradients, scratch space, the copies of the weights its products read), so that its kernels run
 * in place on byte addresses, with nothing copied in or out. The memory is grown once, to the plan's bound,
 * before any view of it exists, and never again: a view (a tensor's data) stays valid for the plan's life. No
 * other code uses that instance, so nothing else can grow (and detach) it.
 */
import { getBackend, wasmBackend } from "../backend/index.js";
import { align16, createKernelInstance, loadKernelsSync, type Kernels } from "../backend/wasm/runtime.js";
import { allocate, type DType, type TypedArray } from "../tensor/dtype.js";

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4 };

/**
 * Buffers bump-allocated in a kernel instance's memory of a fixed size. A counting arena (see
 * {@link Arena.counting}) hands out JavaScript arrays and only adds up the bytes: building a plan once with
 * it gives the size of the real arena, so that the memory grows once and exactly.
 */
export class Arena {
  /** The instance whose exports run on this memory (the shared instance for a counting arena). */
  readonly kernels: Kernels;
  private top: number;
  private readonly end: number;
  private readonly counts: boolean;

  private constructor(kernels: Kernels, bytes: number, counts: boolean) {
    this.kernels = kernels;
    this.top = kernels.base;
    this.end = kernels.base + bytes;
    this.counts = counts;
  }

  /** Whether plans can keep their buffers in WebAssembly memory here (the current backend is wasm). */
  static available(): boolean {
    return getBackend() === wasmBackend && loadKernelsSync() !== null;
  }

  /** An arena that only counts what is asked of it, or null when arenas are not {@link available}. */
  static counting(): Arena | null {
    const kernels = Arena.available() ? loadKernelsSync() : null;
    return kernels === null ? null : new Arena(kernels, Infinity, true);
  }

  /** An arena of `bytes` bytes in a new kernel instance, or null when the memory cannot be had. */
  static create(bytes: number): Arena | null {
    if (!Arena.available()) return null;
    const kernels = createKernelInstance();
    if (kernels === null || !kernels.reserve(kernels.base + align16(bytes))) return null;
    return new Arena(kernels, align16(bytes), false);
  }

  /** `bytes` bytes (16-byte aligned), as a byte address; throws when the arena is full (a bound was wrong). */
  reserve(bytes: number): number {
    const at = this.top;
    if (at + align16(bytes) > this.end) {
      throw new RangeError(`compile: a plan's memory of ${this.end - this.kernels.base} bytes is full`);
    }
    this.top = at + align16(bytes);
    return at;
  }

  /** A zeroed array of `size` values of `dtype` in the arena. */
  allocate(dtype: DType, size: number): TypedArray {
    const at = this.reserve(size * BYTES[dtype]);
    if (this.counts) return allocate(dtype, size);
    const buffer = this.kernels.memory.buffer;
    switch (dtype) {
      case "float32":
        return new Float32Array(buffer, at, size);
      case "float64":
        return new Float64Array(buffer, at, size);
      case "int32":
        return new Int32Array(buffer, at, size);
    }
  }

  /** The byte address of `array` when it lives in this arena, else −1. */
  addressOf(array: TypedArray): number {
    return array.buffer === this.kernels.memory.buffer ? array.byteOffset : -1;
  }

  /** Bytes handed out so far. */
  get used(): number {
    return this.top - this.kernels.base;
  }
}

/** The bytes `size` values of `dtype` take in an arena (aligned as `reserve` aligns them). */
export function arenaBytes(dtype: DType, size: number): number {
  return align16(size * BYTES[dtype]);
}
