/**
 * A plan's memory, where its buffers live (op outputs, gradients, scratch space, the copies of the weights its
 * products read), so that its kernels run in place on byte addresses, with nothing copied in or out. It is one of
 * two kinds:
 *
 * - PRIVATE: an instance of the WebAssembly kernels of the plan's own, grown once, to the plan's bound, before any
 *   view of it exists, and never again: a view (a tensor's data) stays valid for the plan's life. No other code
 *   uses that instance, so nothing else can grow (and detach) it. Its products run on one thread.
 * - SHARED: a region of the thread pool's shared memory (src/backend/wasm/threads.ts), for a plan with a product
 *   large enough to split across threads in place (`wasmThresholds.threadFlopsInPlace`) when the pool has
 *   two threads or more as the plan is built. Its products run split across the pool's threads in place
 *   (matmul-threads.ts `splitProductInPlace`), its other kernels on the main thread's instance of the kernels over
 *   the same memory. A shared memory that grows keeps its old views valid, so the region never moves.
 *
 * A shared region's lifetime. Plans are made per argument signature and can be many, so regions are given back:
 * the pool keeps a free list (first fit, neighbours merged, see `ThreadPool.allocateRegion`), and a region goes
 * back to it once nothing can read it any more. The views of a region can outlive its plan — a parameter's data
 * moves into the plan (the optimiser then updates it in place) and its gradient is the plan's buffer — so the
 * region is not tied to the plan alone: every view the arena makes (and every other view of it the plan hands
 * out, see `keep`) holds the region's token through a WeakMap, and a FinalizationRegistry gives the region back
 * when the token is collected, i.e. when the plan and every such view are. (A view that code outside makes
 * itself with `subarray` is not counted: only the views chainrule makes are.)
 */
import { getBackend, wasmBackend } from "../backend/index.js";
import {
  align16,
  createKernelInstance,
  kernelsOf,
  loadKernelsSync,
  type Kernels,
} from "../backend/wasm/runtime.js";
import { splitsAcrossThreads } from "../backend/wasm/matmul-threads.js";
import { holdRegion, regionToken, regionsReleasable, type RegionToken } from "../backend/wasm/resident.js";
import { getThreads, threadPool, type ThreadPool } from "../backend/wasm/threads.js";
import { type DType, type TypedArray } from "../tensor/dtype.js";

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4 };

/** `size` values of `dtype` over `buffer` from byte `at`. */
function viewOf(dtype: DType, buffer: ArrayBufferLike, at: number, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, at, size);
    case "float64":
      return new Float64Array(buffer, at, size);
    case "int32":
      return new Int32Array(buffer, at, size);
  }
}

/**
 * Buffers bump-allocated in a kernel instance's memory of a fixed size (a private instance, or a region of the
 * thread pool's shared memory). A counting arena (see {@link Arena.counting}) hands out views of one JavaScript
 * scratch buffer and only adds up the bytes and notes whether a product could split: building a plan once with
 * it gives the size and the kind of the real arena, so that the memory is taken once and exactly.
 */
export class Arena {
  /** The instance whose exports run on this memory (the shared instance for a counting arena). */
  readonly kernels: Kernels;
  /** The thread pool whose shared memory holds this arena; null for a private or counting arena. */
  readonly pool: ThreadPool | null;
  private readonly start: number;
  private top: number;
  private readonly end: number;
  private readonly counts: boolean;
  private readonly token: RegionToken | null;
  private splits = false;
  /** A counting arena's one scratch buffer, which every array it hands out views (see `allocate`). */
  private scratch: ArrayBuffer | null = null;

  private constructor(
    kernels: Kernels,
    start: number,
    bytes: number,
    counts: boolean,
    pool: ThreadPool | null = null,
  ) {
    this.kernels = kernels;
    this.start = start;
    this.top = start;
    this.end = start + bytes;
    this.counts = counts;
    this.pool = pool;
    this.token = pool === null ? null : regionToken(pool, start, bytes);
  }

  /** Whether plans can keep their buffers in WebAssembly memory here (the current backend is wasm). */
  static available(): boolean {
    return getBackend() === wasmBackend && loadKernelsSync() !== null;
  }

  /** An arena that only counts what is asked of it, or null when arenas are not {@link available}. */
  static counting(): Arena | null {
    const kernels = Arena.available() ? loadKernelsSync() : null;
    return kernels === null ? null : new Arena(kernels, kernels.base, Infinity, true);
  }

  /**
   * An arena of `bytes` bytes: a region of the thread pool's shared memory when `shared` (the plan has a product
   * to split, see {@link notesProduct}), the pool can run and `getThreads()` ≥ 2; else a new private kernel
   * instance. Null when no memory can be had.
   */
  static create(bytes: number, shared = false): Arena | null {
    if (!Arena.available()) return null;
    const size = align16(bytes);
    if (shared && getThreads() >= 2 && regionsReleasable) {
      const pool = threadPool();
      if (pool !== null && !pool.failed) {
        const at = pool.allocateRegion(size);
        if (at >= 0) return new Arena(pool.kernels, at, size, false, pool);
      }
    }
    const kernels = createKernelInstance();
    if (kernels === null || !kernels.reserve(kernels.base + size)) return null;
    return new Arena(kernels, kernels.base, size, false);
  }

  /**
   * Notes a product of m × k by k × n that the plan runs (forward or gradient): a plan with one large enough to
   * split across threads in place is worth building in the pool's shared memory.
   */
  notesProduct(m: number, n: number, k: number): void {
    if (splitsAcrossThreads(m, n, k, true)) this.splits = true;
  }

  /** Whether a product noted so far would split across threads (see {@link notesProduct}). */
  get hasSplittableProduct(): boolean {
    return this.splits;
  }

  /** `bytes` bytes (16-byte aligned), as a byte address; throws when the arena is full (a bound was wrong). */
  reserve(bytes: number): number {
    const at = this.top;
    if (at + align16(bytes) > this.end) {
      throw new RangeError(`compile: a plan's memory of ${this.end - this.start} bytes is full`);
    }
    this.top = at + align16(bytes);
    return at;
  }

  /**
   * A zeroed array of `size` values of `dtype` in the arena. A counting arena hands out views of one scratch
   * buffer instead, every array over the same bytes (none of them zeroed): a plan built to count its bytes is
   * never run, and arrays of their own would double the memory a large plan takes while it is being built.
   */
  allocate(dtype: DType, size: number): TypedArray {
    const at = this.reserve(size * BYTES[dtype]);
    if (this.counts) {
      // Views of the start of the scratch buffer, grown as needed.
      const bytes = size * BYTES[dtype];
      if (this.scratch === null || this.scratch.byteLength < bytes) this.scratch = new ArrayBuffer(bytes);
      return viewOf(dtype, this.scratch, 0, size);
    }
    const array = viewOf(dtype, this.kernels.memory.buffer, at, size);
    this.keep(array);
    return array;
  }

  /**
   * Counts `views` (views of this arena's memory that the plan hands out: subarrays of arrays it allocated) as
   * holders of a shared region: the region stays in use while any of them can be read. Nothing for a private
   * arena, whose views hold its whole memory anyway.
   */
  keep(...views: TypedArray[]): void {
    if (this.token !== null) for (const view of views) holdRegion(view, this.token);
  }

  /** The byte address of `array` when the arena's kernels can reach it (it lives in their memory), else −1. */
  addressOf(array: TypedArray): number {
    if (array.buffer === this.kernels.memory.buffer) return array.byteOffset;
    // A shared memory that grew has a new buffer object; views made before are of an older one, still valid.
    if (this.pool !== null && kernelsOf(array) === this.kernels) return array.byteOffset;
    return -1;
  }

  /**
   * Whether a parameter's `array` can be read where it is during a call instead of being copied into the arena:
   * the arena's kernels reach it (it lives in the same memory: another plan's region of the pool's shared
   * memory, typically) and it is not in this arena's own range (its buffers are overwritten during a call).
   */
  readsInPlace(array: TypedArray): boolean {
    const at = this.addressOf(array);
    return at >= 0 && (at + array.byteLength <= this.start || at >= this.end);
  }

  /** Bytes handed out so far. */
  get used(): number {
    return this.top - this.start;
  }
}

/** The bytes `size` values of `dtype` take in an arena (aligned as `reserve` aligns them). */
export function arenaBytes(dtype: DType, size: number): number {
  return align16(size * BYTES[dtype]);
}
