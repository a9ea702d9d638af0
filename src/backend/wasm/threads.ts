import { ValueError } from "../../errors.js";
import { Kernels, MATMUL_NO_ACTIVATION, type KernelExports } from "./runtime.js";
import { wasmThresholds } from "./thresholds.js";
import { nodeProcess } from "./host.js";
import { SHARED_MAXIMUM_PAGES, chooseSharedVariant } from "./variants.js";

/**
 * A pool of threads for the large matrix products: the main thread and `threads − 1` workers (worker_threads in
 * Node; Web Workers in a cross-origin isolated page) each instantiate the shared-memory build of the kernels
 * (assembly/threaded.ts: every kernel, over an imported memory) over ONE shared WebAssembly memory. A product is split into chunks of output
 * rows; every thread takes chunks from a counter in that memory with `Atomics.compareExchange` and counts the
 * chunks it finished with `Atomics.add`, so no data is ever copied in a message. Workers sleep in `Atomics.wait`
 * between products and are `unref`ed: a script that has finished exits without calling anything.
 *
 * The ordinary (non-shared) module runs every other eager kernel: copies into shared memory cost more (V8 copies
 * into a SharedArrayBuffer element by element with relaxed atomics), which pays only where the work is large.
 *
 * The shared memory's layout, from the bottom: the kernels' own data, the control block, then REGIONS (long-lived
 * areas that compiled plans keep their buffers in, src/compile/arena.ts; see `allocateRegion`), then the
 * per-call area (`base`) where an eager product lays out its copies, packing and scratch space. The per-call
 * area always starts above the highest region in use, so the two never overlap; a region handed out where a
 * per-call area was is zeroed first (calls never overlap a region's allocation: JavaScript runs one at a time).
 * Growing a shared memory never detaches it (a SharedArrayBuffer keeps its length, and older views stay
 * valid), so regions never move.
 */

/** Int32 slots of the control block at the start of the shared memory's free space. */
const GENERATION = 0; // bumped for each task; workers wait on it
const COUNTER = 1; // (tag << 16) | next chunk; tag CLOSED between tasks
const COMPLETED = 2; // chunks finished
const OP = 3; // a TASK_* code
const SPIN = 4; // microseconds a worker keeps checking for the next task before it sleeps in Atomics.wait
const CHUNKS = 5; // the task's number of chunks
const ARGS = 6; // the task's integer arguments (see RUN_CHUNK_SOURCE), up to slot PACKED
const PACKED = 31; // a rows task that packs B first: its packing chunks finished so far
const SCALARS = 32; // the task's float64 arguments, from this int32 slot on (8-byte aligned, as the block is)
const CONTROL_INTS = 64;
const CLOSED = 0x7fff;

/**
 * Task codes: compute chunks of output rows (float32 / float64, packing B in the task), run an optimiser's
 * dense or row-sparse update on chunks of the values, an elementwise unary op or an activation's derivative on
 * chunks of the values, sum or gather chunks of rows.
 */
const TASK_ROWS_F32 = 1;
const TASK_ROWS_F64 = 2;
const TASK_UPDATE = 5;
const TASK_UNARY_F32 = 6;
const TASK_UNARY_F64 = 7;
const TASK_UPDATE_ROWS = 8;
const TASK_GATHER_ROWS = 9;
const TASK_DERIVATIVE_F32 = 10;
const TASK_SUM_ROWS = 11;

/**
 * The dense update kernels a TASK_UPDATE runs (by position in this list), each taking (param, grad, state…, n,
 * scalars…): see the argument types in runtime.ts.
 */
export const UPDATE_KERNELS = ["sgdF32", "sgdF64", "adamF32", "adamF64", "adagradF32", "adagradF64"] as const;

/**
 * The row-sparse update kernels a TASK_UPDATE_ROWS runs (by position in this list), each taking (param, grad,
 * state…, rows, rowCount, rowSize, scalars…): see the argument types in runtime.ts.
 */
export const ROW_UPDATE_KERNELS = [
  "sgdRowsF32",
  "sgdRowsF64",
  "adamRowsF32",
  "adamRowsF64",
  "adagradRowsF32",
  "adagradRowsF64",
] as const;

/** The name of a row-sparse update kernel (see ROW_UPDATE_KERNELS). */
export type RowUpdateKernel = (typeof ROW_UPDATE_KERNELS)[number];

/** A tuple of `N` numbers (a task's arguments, read by position). */
type Numbers<N extends number, T extends number[] = []> = T["length"] extends N
  ? T
  : Numbers<N, [...T, number]>;

/** The name of a dense update kernel (see UPDATE_KERNELS). */
export type UpdateKernel = (typeof UPDATE_KERNELS)[number];

/**
 * One chunk of a task in a worker (ThreadPool.runChunk is the main thread's copy):
 *   rows:  args = a, packedB, out, m, n, k, transA, rowsPerChunk, chunks, scratchBase, scratchStride,
 *          columnsPerChunk, b, transB, bias, activation, packChunks, packColumns, threads, tile (chunk c is row
 *          chunk ⌊c / column chunks⌋, column chunk c mod column chunks; row chunk r holds rows
 *          [start(r), start(r + 1)) of the kernels' matmulRowChunkStart for that many threads and tiles of that
 *          many rows, at most rowsPerChunk of them; where b ≠ 0 and packChunks = 0, each chunk first packs op(B)
 *          from b into its own columns of packedB; where packChunks > 0, the first packChunks
 *          chunks pack op(B) from b, packColumns columns each, counting in slot PACKED, and every later chunk
 *          c waits until they all have, then computes row chunk c − packChunks as above; where bias ≠ 0 or
 *          activation ≠ −1, a float32 chunk finishes its block as an affine layer: matmulBlockEpilogueF32)
 *   update: args = kernel (index in UPDATE_KERNELS), address count, n, valuesPerChunk, element bytes, scalar
 *          count, then the addresses (param, grad, state…); the scalars are float64 from slot SCALARS. Chunk c
 *          updates values [c · valuesPerChunk, …) (an address of 0, an unused state, stays 0)
 *   unary: args = op code (UNARY_CODES), x, out, n, valuesPerChunk (float32 / float64 by the task code);
 *          chunk c computes values [c · valuesPerChunk, …)
 *   update rows: args = kernel (index in ROW_UPDATE_KERNELS), address count, rowCount, rowsPerChunk, row
 *          bytes, rowSize, scalar count, the rows' address, then the addresses (param, grad, state…); the scalars
 *          as for update. Chunk c updates the rows listed at [c · rowsPerChunk, …) of the rows array, whose
 *          gradient rows are the same positions of grad (param and state are indexed by the listed rows)
 */
const RUN_CHUNK_SOURCE = `function runChunk(kernels, ctl, chunk, index) {
  const op = ctl[${OP}];
  if (op === ${TASK_ROWS_F32} || op === ${TASK_ROWS_F64}) {
    const block = op === ${TASK_ROWS_F32} ? kernels.matmulBlockF32 : kernels.matmulBlockF64;
    const pack = op === ${TASK_ROWS_F32} ? kernels.matmulPackColumnsF32 : kernels.matmulPackColumnsF64;
    // Every argument is read before any wait, so that a chunk never mixes two tasks' arguments.
    const a = ctl[${ARGS}];
    const packedB = ctl[${ARGS} + 1];
    const out = ctl[${ARGS} + 2];
    const m = ctl[${ARGS} + 3];
    const n = ctl[${ARGS} + 4];
    const k = ctl[${ARGS} + 5];
    const transA = ctl[${ARGS} + 6];
    const per = ctl[${ARGS} + 7];
    const scratchBase = ctl[${ARGS} + 9];
    const scratchStride = ctl[${ARGS} + 10];
    const columns = ctl[${ARGS} + 11];
    const b = ctl[${ARGS} + 12];
    const transB = ctl[${ARGS} + 13];
    const bias = ctl[${ARGS} + 14];
    const activation = ctl[${ARGS} + 15];
    const packChunks = ctl[${ARGS} + 16];
    const packColumns = ctl[${ARGS} + 17];
    const threads = ctl[${ARGS} + 18];
    const tile = ctl[${ARGS} + 19];
    if (chunk < packChunks) {
      const from = chunk * packColumns;
      pack(b, n, k, transB, packedB, from, Math.min(n, from + packColumns));
      Atomics.add(ctl, ${PACKED}, 1);
      return;
    }
    // Packing chunks come first and are short: a thread that holds one is running it.
    while (Atomics.load(ctl, ${PACKED}) < packChunks);
    chunk -= packChunks;
    const columnChunks = Math.ceil(n / columns);
    const rowChunk = Math.floor(chunk / columnChunks);
    const start = kernels.matmulRowChunkStart(rowChunk, m, per, threads, tile);
    const count = kernels.matmulRowChunkStart(rowChunk + 1, m, per, threads, tile) - start;
    const column = (chunk % columnChunks) * columns;
    const end = Math.min(n, column + columns);
    if (b !== 0 && packChunks === 0) pack(b, n, k, transB, packedB, column, end);
    const scratch = scratchBase + index * scratchStride;
    if (op === ${TASK_ROWS_F32} && (bias !== 0 || activation !== ${MATMUL_NO_ACTIVATION}))
      kernels.matmulBlockEpilogueF32(a, packedB, out, m, n, k, transA, start, count, column, end,
        scratch, bias, activation);
    else block(a, packedB, out, m, n, k, transA, start, count, column, end, scratch);
  } else if (op === ${TASK_UNARY_F32} || op === ${TASK_UNARY_F64}) {
    const per = ctl[${ARGS} + 4];
    const shift = chunk * per * (op === ${TASK_UNARY_F32} ? 4 : 8);
    const unary = op === ${TASK_UNARY_F32} ? kernels.unaryF32 : kernels.unaryF64;
    unary(ctl[${ARGS}], ctl[${ARGS} + 1] + shift, ctl[${ARGS} + 2] + shift, Math.min(per, ctl[${ARGS} + 3] - chunk * per));
  } else if (op === ${TASK_UPDATE}) {
    const update = kernels[${JSON.stringify(UPDATE_KERNELS)}[ctl[${ARGS}]]];
    const addresses = ctl[${ARGS} + 1];
    const per = ctl[${ARGS} + 3];
    const shift = chunk * per * ctl[${ARGS} + 4];
    const args = [];
    for (let i = 0; i < addresses; i++) {
      const at = ctl[${ARGS} + 6 + i];
      args.push(at === 0 ? 0 : at + shift);
    }
    args.push(Math.min(per, ctl[${ARGS} + 2] - chunk * per));
    const scalars = new Float64Array(ctl.buffer, ctl.byteOffset + ${SCALARS * 4}, ctl[${ARGS} + 5]);
    for (let i = 0; i < scalars.length; i++) args.push(scalars[i]);
    update(...args);
  } else if (op === ${TASK_UPDATE_ROWS}) {
    const update = kernels[${JSON.stringify(ROW_UPDATE_KERNELS)}[ctl[${ARGS}]]];
    const addresses = ctl[${ARGS} + 1];
    const per = ctl[${ARGS} + 3];
    const first = chunk * per;
    const args = [];
    for (let i = 0; i < addresses; i++) {
      const at = ctl[${ARGS} + 8 + i];
      args.push(i === 1 ? at + first * ctl[${ARGS} + 4] : at);
    }
    args.push(ctl[${ARGS} + 7] + first * 4, Math.min(per, ctl[${ARGS} + 2] - first), ctl[${ARGS} + 5]);
    const scalars = new Float64Array(ctl.buffer, ctl.byteOffset + ${SCALARS * 4}, ctl[${ARGS} + 6]);
    for (let i = 0; i < scalars.length; i++) args.push(scalars[i]);
    update(...args);
  } else if (op === ${TASK_DERIVATIVE_F32}) {
    const derivative = ctl[${ARGS}] === 0 ? kernels.tanhBackwardF32 : kernels.sigmoidBackwardF32;
    const per = ctl[${ARGS} + 5];
    const shift = chunk * per * 4;
    derivative(ctl[${ARGS} + 1] + shift, ctl[${ARGS} + 2] + shift, ctl[${ARGS} + 3] + shift,
      Math.min(per, ctl[${ARGS} + 4] - chunk * per));
  } else if (op === ${TASK_SUM_ROWS}) {
    const sum = ctl[${ARGS}] === 1 ? kernels.sumRowsF32 : kernels.sumRowsF64;
    const per = ctl[${ARGS} + 7];
    const from = chunk * per;
    sum(ctl[${ARGS} + 1], ctl[${ARGS} + 2], ctl[${ARGS} + 3], ctl[${ARGS} + 4], ctl[${ARGS} + 5], from,
      Math.min(ctl[${ARGS} + 6], from + per));
  } else if (op === ${TASK_GATHER_ROWS}) {
    const gather = ctl[${ARGS}] === 1 ? kernels.gatherRowsF32 : kernels.gatherRowsF64;
    const per = ctl[${ARGS} + 7];
    const first = chunk * per;
    gather(ctl[${ARGS} + 1], ctl[${ARGS} + 2], ctl[${ARGS} + 3] + first * 4, Math.min(per, ctl[${ARGS} + 4] - first),
      ctl[${ARGS} + 5], ctl[${ARGS} + 6] + first * ctl[${ARGS} + 5] * (ctl[${ARGS}] === 1 ? 4 : 8));
  }
}`;

/** The chunk count of the current task. */
const CHUNKS_SOURCE = `ctl[${CHUNKS}]`;

/**
 * The worker's program, as source text so that it needs no file of its own (it runs the same in Node, under a
 * bundler and in a browser). It receives the module, the memory, the control block's address and its index.
 * Between tasks it first spins (checking the generation for ctl[SPIN] µs: a product usually follows another
 * within a training step, and waking from Atomics.wait costs tens of µs, more on a busy machine), then sleeps.
 */
const WORKER_SOURCE = `
"use strict";
${RUN_CHUNK_SOURCE}
function serve(module, memory, control, index) {
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctl = new Int32Array(memory.buffer, control, ${CONTROL_INTS});
  let seen = -1; // check for a task at once: one may have started before this worker did
  for (;;) {
    if (Atomics.load(ctl, ${GENERATION}) === seen) {
      const spin = Atomics.load(ctl, ${SPIN});
      if (spin > 0) {
        const until = performance.now() + spin / 1000;
        for (let checks = 1; Atomics.load(ctl, ${GENERATION}) === seen; checks++) {
          if ((checks & 63) === 0 && performance.now() >= until) break;
        }
      }
      Atomics.wait(ctl, ${GENERATION}, seen);
    }
    seen = Atomics.load(ctl, ${GENERATION});
    const tag = seen & 0x7fff;
    for (;;) {
      const value = Atomics.load(ctl, ${COUNTER});
      if (value >>> 16 !== tag) break;
      const chunk = value & 0xffff;
      if (chunk >= ${CHUNKS_SOURCE}) break;
      if (Atomics.compareExchange(ctl, ${COUNTER}, value, value + 1) !== value) continue;
      runChunk(kernels, ctl, chunk, index);
      Atomics.add(ctl, ${COMPLETED}, 1);
      Atomics.notify(ctl, ${COMPLETED});
    }
  }
}
if (typeof self === "object" && typeof self.postMessage === "function" && typeof require === "undefined") {
  self.onmessage = (event) => serve(event.data.module, event.data.memory, event.data.control, event.data.index);
} else {
  const { workerData } = require("worker_threads");
  serve(workerData.module, workerData.memory, workerData.control, workerData.index);
}
`;

interface WorkerHandle {
  terminate(): unknown;
}

type WorkerFactory = (data: {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: number;
  index: number;
}) => WorkerHandle;

/**
 * How this environment starts a worker on shared memory, or null where it cannot: Node's worker_threads
 * (through `process.getBuiltinModule`, Node 20.16+, so that nothing here imports a Node module), or Web Workers
 * in a cross-origin isolated page.
 */
function workerFactory(): WorkerFactory | null {
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined") return null;
  const node = nodeProcess()?.getBuiltinModule?.("worker_threads") as
    | {
        Worker: new (
          source: string,
          options: { eval: boolean; workerData: unknown; execArgv: string[] },
        ) => WorkerHandle & {
          unref(): void;
          on(event: string, listener: (error: unknown) => void): void;
        };
      }
    | undefined;
  if (node?.Worker) {
    return (data) => {
      // No inherited options: the worker's source is plain CommonJS, which `--input-type=module` (a script given
      // with -e) would make Node read as a module (without `require`), and loaders (`--import tsx`) only slow
      // its start.
      const worker = new node.Worker(WORKER_SOURCE, { eval: true, workerData: data, execArgv: [] });
      worker.on("error", () => pool?.fail());
      worker.unref();
      return worker;
    };
  }
  const scope = globalThis as {
    crossOriginIsolated?: boolean;
    Worker?: new (url: string) => WorkerHandle & { postMessage(data: unknown): void; onerror: unknown };
    Blob?: typeof Blob;
    URL?: typeof URL;
  };
  if (scope.crossOriginIsolated === true && scope.Worker && scope.Blob && scope.URL) {
    const url = scope.URL.createObjectURL(new scope.Blob([WORKER_SOURCE], { type: "text/javascript" }));
    return (data) => {
      const worker = new scope.Worker!(url);
      worker.onerror = () => pool?.fail();
      worker.postMessage(data);
      return worker;
    };
  }
  return null;
}

/** The number of cores: `os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in browsers. */
function coreCount(): number {
  const os = nodeProcess()?.getBuiltinModule?.("os") as
    { availableParallelism?: () => number; cpus(): unknown[] } | undefined;
  if (os) return os.availableParallelism?.() ?? os.cpus().length;
  const navigatorCores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return typeof navigatorCores === "number" && navigatorCores > 0 ? navigatorCores : 1;
}

function parseThreads(value: unknown, where: string): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 256)
    throw new ValueError(
      `${where}: the number of threads must be an integer from 1 to 256, got ${String(value)}`,
    );
  return n;
}

/** The default: `CHAINRULE_THREADS` if set, else the number of cores. */
function defaultThreads(): number {
  const fromEnvironment = nodeProcess()?.env?.CHAINRULE_THREADS;
  if (fromEnvironment !== undefined && fromEnvironment !== "") {
    try {
      return parseThreads(fromEnvironment, "CHAINRULE_THREADS");
    } catch {
      return coreCount();
    }
  }
  return coreCount();
}

let threads = defaultThreads();

/**
 * Sets how many threads large matrix products use (the main thread included): 1 turns the pool off. The
 * default is the environment variable `CHAINRULE_THREADS`, else the number of cores. Results do not depend on
 * it: each output row is computed by one thread, the same way whichever.
 */
export function setThreads(n: number): void {
  threads = parseThreads(n, "setThreads");
  pool?.resize(threads);
}

/** The number of threads large products may use (see `setThreads`). */
export function getThreads(): number {
  return threads;
}

/** Whether products can run on several threads here (shared memory, Atomics, and a way to start workers). */
export function threadsAvailable(): boolean {
  return workerFactory() !== null && chooseSharedVariant() !== null;
}

const PAGE = 65536;

/**
 * The shared build's exports: every kernel, the packing of B by column panels, and products by blocks of rows and
 * columns (assembly/threaded.ts).
 */
export interface SharedExports extends KernelExports {
  matmulPackColumnsF32(...args: number[]): void;
  matmulPackColumnsF64(...args: number[]): void;
  matmulBlockF32(...args: number[]): void;
  matmulBlockF64(...args: number[]): void;
}

/** A free stretch of the region space: bytes [start, start + bytes). */
interface FreeBlock {
  start: number;
  bytes: number;
}

/** Regions are aligned (and sized) to 64 bytes: a cache line, so that no two regions share one. */
function align64(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/** The shared memory, the main thread's instance over it, and the workers. */
export class ThreadPool {
  readonly memory: WebAssembly.Memory;
  /** The main thread's instance of every kernel over the shared memory. */
  readonly exports: SharedExports;
  /** The same instance as a {@link Kernels} (what `kernelsOf` returns for an array in the shared memory). */
  readonly kernels: Kernels;
  readonly module: WebAssembly.Module;
  readonly variant: string;
  /** Address of the control block; regions are laid out from `regionBase`, and per-call arrays from `base`. */
  readonly control: number;
  readonly regionBase: number;
  /** End of the highest region in use (regions lie in [regionBase, regionTop)). */
  private regionTop: number;
  /** Free stretches below regionTop, by address, never adjacent to one another. */
  private readonly freeBlocks: FreeBlock[] = [];
  private readonly factory: WorkerFactory;
  private workers: WorkerHandle[] = [];
  private buffer: ArrayBuffer | SharedArrayBuffer;
  private ctl: Int32Array;
  private broken = false;
  private generation = 0;
  /** When the last task ended (performance.now()). */
  private lastEnd = -Infinity;
  /** Whether the main thread takes chunks too (tests turn it off to have the workers compute everything). */
  mainTakesChunks = true;
  /** Whether the next in-place product may be left running on the workers (see {@link deferNextProduct}). */
  private deferral = false;
  /** A task published and left to the workers, which the main thread finishes at {@link join}. */
  private pending: { op: number; args: readonly number[]; chunks: number } | null = null;
  f32: Float32Array;
  f64: Float64Array;

  constructor(module: WebAssembly.Module, variant: string, factory: WorkerFactory) {
    this.module = module;
    this.variant = variant;
    this.factory = factory;
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAXIMUM_PAGES, shared: true });
    this.kernels = new Kernels(new WebAssembly.Instance(module, { env: { memory: this.memory } }));
    this.exports = this.kernels.exports as SharedExports;
    this.control = (this.exports.heapBase() + 63) & ~63;
    this.regionBase = this.control + CONTROL_INTS * 4;
    this.regionTop = this.regionBase;
    this.buffer = this.memory.buffer;
    this.ctl = new Int32Array(this.buffer, this.control, CONTROL_INTS);
    Atomics.store(this.ctl, COUNTER, CLOSED << 16);
    this.f32 = new Float32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
  }

  /**
   * Where a call lays out its temporary arrays (copies, packing, scratch): above every region in use. Anything
   * there is lost at the next call or region.
   */
  get base(): number {
    // A task left running may still use the per-call area (its products' scratch space).
    this.join();
    return this.regionTop;
  }

  /**
   * Lets the next product that `splitProductInPlace` splits return as soon as it is published, its chunks left
   * to the workers, so that the main thread can do other work meanwhile (a compiled step's last product of the
   * backward pass, while the main thread coalesces the row-sparse gradients). The caller must not read that
   * product's output or write its operands before {@link join}; any other task, the per-call area (`base`) and
   * a new region join it first. Without workers (or after one failed) the product finishes before it returns, as
   * any task does. {@link cancelDeferral} withdraws the request if no product took it.
   */
  deferNextProduct(): void {
    this.deferral = true;
  }

  /** Withdraws a {@link deferNextProduct} that no product took. */
  cancelDeferral(): void {
    this.deferral = false;
  }

  /** Whether the next product was asked to be left running (see {@link deferNextProduct}); the request is used up. */
  takeDeferral(): boolean {
    const deferral = this.deferral;
    this.deferral = false;
    return deferral;
  }

  /** Whether a task is left running on the workers (see {@link deferNextProduct}). */
  get running(): boolean {
    return this.pending !== null;
  }

  /** Finishes the task left running, if any: the main thread takes its remaining chunks and waits for the rest. */
  join(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    this.finish(pending.op, pending.args, pending.chunks);
  }

  /**
   * A region of at least `bytes` bytes in the shared memory, zeroed, that stays where it is until
   * `releaseRegion`: the first free stretch large enough (first fit), else new space at the top, growing the
   * memory. Returns its address, or −1 when the memory cannot hold it (past `wasmThresholds.maxBytes`).
   */
  allocateRegion(bytes: number): number {
    // A region may be handed out where a task left running keeps its scratch space.
    this.join();
    const size = align64(Math.max(bytes, 1));
    let at = -1;
    for (let i = 0; i < this.freeBlocks.length; i++) {
      const block = this.freeBlocks[i]!;
      if (block.bytes < size) continue;
      at = block.start;
      if (block.bytes === size) this.freeBlocks.splice(i, 1);
      else {
        block.start += size;
        block.bytes -= size;
      }
      break;
    }
    // Bytes from `fresh` on were never part of the memory before this call: growing a memory zeroes them. (The
    // memory's own length: kernels running on it may have grown it since `this.buffer` was taken.)
    let fresh = this.memory.buffer.byteLength;
    if (at < 0) {
      if (!this.reserve(this.regionTop + size, wasmThresholds.maxBytes)) return -1;
      at = this.regionTop;
      this.regionTop += size;
    } else fresh = Infinity;
    // Earlier regions or per-call arrays may have left values in the rest. Fresh bytes are left untouched, so
    // that the pages stay unmapped until the plan first writes them.
    const dirty = Math.min(size, Math.max(0, fresh - at));
    if (dirty > 0) new Uint8Array(this.buffer, at, dirty).fill(0);
    return at;
  }

  /**
   * Gives back the region of `bytes` bytes at `at` (as `allocateRegion` handed it out): it joins its free
   * neighbours, and the top of the region space comes down when it was the highest.
   */
  releaseRegion(at: number, bytes: number): void {
    const size = align64(Math.max(bytes, 1));
    const blocks = this.freeBlocks;
    let i = 0;
    while (i < blocks.length && blocks[i]!.start < at) i++;
    const previous = blocks[i - 1];
    const next = blocks[i];
    if (
      at < this.regionBase ||
      at + size > this.regionTop ||
      (previous !== undefined && previous.start + previous.bytes > at) ||
      (next !== undefined && at + size > next.start)
    ) {
      throw new RangeError(`threads: no region of ${size} bytes at ${at} is in use`);
    }
    let block: FreeBlock;
    if (previous !== undefined && previous.start + previous.bytes === at) {
      previous.bytes += size;
      block = previous;
      i--;
    } else {
      block = { start: at, bytes: size };
      blocks.splice(i, 0, block);
    }
    const after = blocks[i + 1];
    if (after !== undefined && block.start + block.bytes === after.start) {
      block.bytes += after.bytes;
      blocks.splice(i + 1, 1);
    }
    if (block.start + block.bytes === this.regionTop) {
      this.regionTop = block.start;
      blocks.splice(i, 1);
    }
  }

  /** Bytes of regions in use, and free stretches between them (for tests and diagnostics). */
  regionUsage(): { used: number; free: number; top: number } {
    const free = this.freeBlocks.reduce((total, block) => total + block.bytes, 0);
    return { used: this.regionTop - this.regionBase - free, free, top: this.regionTop };
  }

  /** Workers alive (the main thread is the other participant). */
  get workerCount(): number {
    return this.workers.length;
  }

  /** Whether a worker failed; the pool then runs everything on the main thread. */
  get failed(): boolean {
    return this.broken;
  }

  fail(): void {
    this.broken = true;
  }

  /**
   * Whether work of `size` (values, or whatever `threshold` counts) in this pool's memory is worth splitting
   * across its threads: workers running, none failed, `getThreads()` ≥ 2, and `size` ≥ `threshold`.
   */
  splits(size: number, threshold: number): boolean {
    // While a task is left running, work runs on the main thread beside it rather than waiting to split.
    return (
      !this.broken &&
      this.pending === null &&
      this.workers.length > 0 &&
      getThreads() >= 2 &&
      size >= threshold
    );
  }

  /**
   * Whether the workers are likely still spinning after the last task (it ended less than
   * `wasmThresholds.spinMicroseconds` ago), so that a task now starts without waking them. Waking a sleeping
   * worker costs tens of µs: an eager op that splits only to save that much checks this first (in an eager step
   * at batch 32, whose products do not split, splitting the 75,000-value weight update cold took 90 µs against
   * 35 on one thread).
   */
  get warm(): boolean {
    return performance.now() - this.lastEnd < wasmThresholds.spinMicroseconds / 1000;
  }

  /**
   * Whether an eager op over `values` values should split now: the workers are still spinning ({@link warm}), or
   * the op is large enough (`wasmThresholds.wakeValues`) that waking them costs little beside what the second
   * core saves.
   */
  worthSplitting(values: number): boolean {
    return values >= wasmThresholds.wakeValues || this.warm;
  }

  /**
   * Whether an eager op over `values` values splits across the threads now: work of that size splits
   * ({@link splits}, from `threshold`) and it is worth waking the workers for ({@link worthSplitting}).
   */
  splitsNow(values: number, threshold: number): boolean {
    return this.splits(values, threshold) && this.worthSplitting(values);
  }

  /** Starts or stops workers so that `n` threads take part (called between products only). */
  resize(n: number): void {
    this.join();
    while (this.workers.length > n - 1) this.workers.pop()!.terminate();
    while (!this.broken && this.workers.length < n - 1) {
      try {
        const index = this.workers.length + 1;
        this.workers.push(
          this.factory({ module: this.module, memory: this.memory, control: this.control, index }),
        );
      } catch {
        this.broken = true;
      }
    }
  }

  /** Grows the shared memory to hold addresses below `end`; false if it cannot. */
  reserve(end: number, maxBytes: number): boolean {
    if (end > maxBytes || end > SHARED_MAXIMUM_PAGES * PAGE) return false;
    // Through the Kernels object, so that `kernelsOf` knows every buffer of the memory.
    if (!this.kernels.reserve(end)) return false;
    const memory = this.memory;
    if (memory.buffer !== this.buffer) {
      this.buffer = memory.buffer;
      this.f32 = new Float32Array(this.buffer);
      this.f64 = new Float64Array(this.buffer);
      this.ctl = new Int32Array(this.buffer, this.control, CONTROL_INTS);
    }
    return true;
  }

  /**
   * Rows [0, m) of out = op(A) · op(B) from the packed B, split in chunks of at most `rowsPerChunk` rows (a
   * multiple of the tile's rows, at least four tiles, or ≥ m for a single chunk), shrinking toward the last
   * (the kernels' `matmulRowChunkStart`), each cut in blocks of `columnsPerChunk` columns (a multiple of the
   * panel width; default all n), among the threads. Scratch space for thread i starts at
   * scratchBase + i · scratchStride.
   *
   * With `packFrom` (B's address; 0: B is packed already), B is not packed beforehand: each chunk packs its
   * own columns of op(B) into `packedB`, then computes them, so that the threads share the packing without
   * meeting twice. That needs one chunk of rows (`rowsPerChunk` ≥ m), so that no two chunks share a column.
   * With `packFrom` and `packColumns` (a multiple of the panel width), the task's first chunks pack op(B)
   * instead, `packColumns` columns each, and the chunks of rows wait until they are all done: the threads
   * share the packing of a product of many chunks of rows in the same task (one meeting, not two).
   *
   * With a `bias` address or an `activation` (float32 only), each chunk finishes its block as an affine layer,
   * act(v + bias), while it is in cache (matmulBlockEpilogueF32).
   */
  rows(
    f32: boolean,
    a: number,
    packedB: number,
    out: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    rowsPerChunk: number,
    scratchBase: number,
    scratchStride: number,
    columnsPerChunk = Math.max(n, 1),
    packFrom = 0,
    transB = 0,
    bias = 0,
    activation = MATMUL_NO_ACTIVATION,
    packColumns = 0,
    defer = false,
  ): void {
    const packFirst = packFrom !== 0 && packColumns > 0;
    const packChunks = packFirst ? Math.ceil(n / packColumns) : 0;
    if (packFrom !== 0 && !packFirst && n > 0 && rowsPerChunk < m)
      throw new RangeError("threads: packing B in the chunks needs a single chunk of rows");
    const threads = this.workers.length + 1;
    const tile = this.exports.matmulTileRows(f32 ? 4 : 8);
    const rowChunks = this.exports.matmulRowChunkCount(m, rowsPerChunk, threads, tile);
    const chunks = packChunks + rowChunks * Math.ceil(n / columnsPerChunk);
    const args = [
      a,
      packedB,
      out,
      m,
      n,
      k,
      transA,
      rowsPerChunk,
      chunks,
      scratchBase,
      scratchStride,
      columnsPerChunk,
      packFrom,
      transB,
      bias,
      activation,
      packChunks,
      packColumns,
      threads,
      tile,
    ];
    this.run(f32 ? TASK_ROWS_F32 : TASK_ROWS_F64, args, chunks, defer);
  }

  /**
   * An optimiser's dense update (`kernel`, one of UPDATE_KERNELS) of n values in the shared memory, split in
   * chunks of values among the threads: `addresses` are the parameter's, the gradient's and the state buffers'
   * (0 for a state the kernel does not use), `scalars` the kernel's arguments after n. Each value's update
   * depends on its own position only, so the result is the single call's to the bit.
   */
  update(kernel: UpdateKernel, addresses: readonly number[], n: number, scalars: readonly number[]): void {
    const index = UPDATE_KERNELS.indexOf(kernel);
    const size = kernel.endsWith("F32") ? 4 : 8;
    const per = this.valuesPerChunk(n);
    const chunks = Math.ceil(n / per);
    this.scalarsView(scalars.length).set(scalars);
    this.run(TASK_UPDATE, [index, addresses.length, n, per, size, scalars.length, ...addresses], chunks);
  }

  /**
   * An optimiser's row-sparse update (`kernel`, one of ROW_UPDATE_KERNELS) in the shared memory, split in chunks
   * of rows among the threads: `addresses` are the parameter's, the gradient's (one row per listed row) and the
   * state buffers', `rows` the address of the rowCount int32 row indices, `scalars` the kernel's arguments after
   * rowSize. The listed rows must be distinct (a coalesced gradient's), so that no two chunks touch one row;
   * each row is updated as the single call updates it, so the result is that call's to the bit. Worth it where
   * the rows are scattered over a large table: the update then waits on cache misses, which two cores wait out
   * side by side.
   */
  updateRows(
    kernel: RowUpdateKernel,
    addresses: readonly number[],
    rows: number,
    rowCount: number,
    rowSize: number,
    scalars: readonly number[],
  ): void {
    const index = ROW_UPDATE_KERNELS.indexOf(kernel);
    const size = kernel.endsWith("F32") ? 4 : 8;
    const per = this.rowsPerChunk(rowCount);
    const chunks = Math.ceil(rowCount / per);
    this.scalarsView(scalars.length).set(scalars);
    this.run(
      TASK_UPDATE_ROWS,
      [index, addresses.length, rowCount, per, rowSize * size, rowSize, scalars.length, rows, ...addresses],
      chunks,
    );
  }

  /**
   * An activation's derivative out = g ∘ f'(x) from y = f(x) (`kind` "tanh" or "sigmoid": tanhBackwardF32 or
   * sigmoidBackwardF32) of n float32 values in the shared memory (byte addresses; out may be g), split in
   * chunks of values among the threads. Each value depends on its own position only, so the result is the
   * single call's to the bit.
   */
  derivative(kind: "tanh" | "sigmoid", y: number, g: number, out: number, n: number): void {
    const per = this.valuesPerChunk(n);
    const chunks = Math.ceil(n / per);
    this.run(TASK_DERIVATIVE_F32, [kind === "tanh" ? 0 : 1, y, g, out, n, per], chunks);
  }

  /**
   * The sums of rows by index (Backend.sumRows) in the shared memory, split among the threads by ranges of the
   * output's `rows` rows: each chunk zeroes its rows and adds, in order, the rows of `values` listed there, so
   * the result is the single call's to the bit. Every chunk reads all `count` indices (a few thousand at most).
   */
  sumRows(
    f32: boolean,
    values: number,
    indices: number,
    count: number,
    rowSize: number,
    out: number,
    rows: number,
  ): void {
    const per = this.rowsPerChunk(rows);
    const chunks = Math.max(1, Math.ceil(rows / per));
    this.run(TASK_SUM_ROWS, [f32 ? 1 : 0, values, indices, count, rowSize, out, rows, per], chunks);
  }

  /**
   * An embedding's lookup in the shared memory, split in chunks of rows among the threads: out[j] =
   * table[indices[j]] for `count` rows of `rowSize` values (float32 or float64; byte addresses, `indices` int32).
   * Each row is one copy, so the result is the single call's to the bit. The caller checks that every index is
   * within the table's `limit` rows first: a chunk that meets one outside writes nothing of its own rows.
   * Worth it where the rows are scattered over a large table: the copies wait on cache misses, which two cores
   * wait out side by side.
   */
  gatherRows(
    f32: boolean,
    table: number,
    limit: number,
    indices: number,
    count: number,
    rowSize: number,
    out: number,
  ): void {
    const per = this.rowsPerChunk(count);
    const chunks = Math.ceil(count / per);
    this.run(TASK_GATHER_ROWS, [f32 ? 1 : 0, table, limit, indices, count, rowSize, out, per], chunks);
  }

  /**
   * The elementwise unary op `code` (UNARY_CODES) of n values from x to out (byte addresses in the shared
   * memory; out may be x; both padded to 16 bytes, as the kernels require), split in chunks of values among the
   * threads. Each value is computed as the single call computes it, so the result is that call's to the bit, and
   * every chunk but the last is a whole number of vectors, so that none writes into another's values.
   */
  unary(f32: boolean, code: number, x: number, out: number, n: number): void {
    const per = this.valuesPerChunk(n);
    const chunks = Math.ceil(n / per);
    this.run(f32 ? TASK_UNARY_F32 : TASK_UNARY_F64, [code, x, out, n, per], chunks);
  }

  /**
   * Values per chunk of a task over n values: about two chunks per thread, each a multiple of 16 values (whole
   * 64-byte lines of float32, whole vectors of either type).
   */
  private valuesPerChunk(n: number): number {
    const threads = this.workers.length + 1;
    return Math.max(16, Math.ceil(n / (2 * threads) / 16) * 16);
  }

  /** Rows per chunk of a task over `rows` rows: about two chunks per thread. */
  private rowsPerChunk(rows: number): number {
    const threads = this.workers.length + 1;
    return Math.max(1, Math.ceil(rows / (2 * threads)));
  }

  /** The first `count` float64 arguments of the task in the control block (see RUN_CHUNK_SOURCE). */
  private scalarsView(count: number): Float64Array {
    if (count > (CONTROL_INTS - SCALARS) / 2) throw new RangeError(`threads: ${count} float64 arguments`);
    return new Float64Array(this.buffer, this.control + SCALARS * 4, count);
  }

  /** Chunk `chunk` of the current task, on the main thread (the workers run the same in WORKER_SOURCE). */
  private runChunk(op: number, args: readonly number[], chunk: number): void {
    const kernels = this.exports;
    if (op === TASK_ROWS_F32 || op === TASK_ROWS_F64) {
      const [a, packedB, out, m, n, k, transA, per, , scratchBase, , columns, b, transB, bias, activation] =
        args as Numbers<16>;
      const packChunks = args[16]!;
      const packColumns = args[17]!;
      const threads = args[18]!;
      const tile = args[19]!;
      const f32 = op === TASK_ROWS_F32;
      const pack = f32 ? kernels.matmulPackColumnsF32 : kernels.matmulPackColumnsF64;
      if (chunk < packChunks) {
        const from = chunk * packColumns;
        pack(b, n, k, transB, packedB, from, Math.min(n, from + packColumns));
        Atomics.add(this.ctl, PACKED, 1);
        return;
      }
      // A worker that failed holding a packing chunk would never finish it: pack everything here then.
      while (Atomics.load(this.ctl, PACKED) < packChunks) {
        if (this.broken) {
          pack(b, n, k, transB, packedB, 0, n);
          break;
        }
      }
      chunk -= packChunks;
      const columnChunks = Math.ceil(n / columns);
      const rowChunk = Math.floor(chunk / columnChunks);
      const start = kernels.matmulRowChunkStart(rowChunk, m, per, threads, tile);
      const count = kernels.matmulRowChunkStart(rowChunk + 1, m, per, threads, tile) - start;
      const column = (chunk % columnChunks) * columns;
      const end = Math.min(n, column + columns);
      if (b !== 0 && packChunks === 0) pack(b, n, k, transB, packedB, column, end);
      if (f32 && (bias !== 0 || activation !== MATMUL_NO_ACTIVATION)) {
        kernels.matmulBlockEpilogueF32(
          a,
          packedB,
          out,
          m,
          n,
          k,
          transA,
          start,
          count,
          column,
          end,
          scratchBase,
          bias,
          activation,
        );
      } else {
        const block = f32 ? kernels.matmulBlockF32 : kernels.matmulBlockF64;
        block(a, packedB, out, m, n, k, transA, start, count, column, end, scratchBase);
      }
    } else if (op === TASK_UNARY_F32 || op === TASK_UNARY_F64) {
      const [code, x, out, n, per] = args as Numbers<5>;
      const shift = chunk * per * (op === TASK_UNARY_F32 ? 4 : 8);
      const unary = op === TASK_UNARY_F32 ? kernels.unaryF32 : kernels.unaryF64;
      unary(code, x + shift, out + shift, Math.min(per, n - chunk * per));
    } else if (op === TASK_UPDATE_ROWS) {
      const [kernel, addresses, rowCount, per, rowBytes, rowSize, scalars, rows, ...rest] = args as [
        ...Numbers<8>,
        ...number[],
      ];
      const first = chunk * per;
      const call: number[] = [];
      for (let i = 0; i < addresses; i++) call.push(i === 1 ? rest[i]! + first * rowBytes : rest[i]!);
      call.push(rows + first * 4, Math.min(per, rowCount - first), rowSize);
      for (const value of this.scalarsView(scalars)) call.push(value);
      (kernels[ROW_UPDATE_KERNELS[kernel]!] as (...values: number[]) => void)(...call);
    } else if (op === TASK_DERIVATIVE_F32) {
      const [kind, y, g, out, n, per] = args as Numbers<6>;
      const derivative = kind === 0 ? kernels.tanhBackwardF32 : kernels.sigmoidBackwardF32;
      const shift = chunk * per * 4;
      derivative(y + shift, g + shift, out + shift, Math.min(per, n - chunk * per));
    } else if (op === TASK_SUM_ROWS) {
      const [f32, values, indices, count, rowSize, out, rows, per] = args as Numbers<8>;
      const sum = f32 === 1 ? kernels.sumRowsF32 : kernels.sumRowsF64;
      const from = chunk * per;
      sum(values, indices, count, rowSize, out, from, Math.min(rows, from + per));
    } else if (op === TASK_GATHER_ROWS) {
      const [f32, table, limit, indices, count, rowSize, out, per] = args as Numbers<8>;
      const gather = f32 === 1 ? kernels.gatherRowsF32 : kernels.gatherRowsF64;
      const first = chunk * per;
      const rowBytes = rowSize * (f32 === 1 ? 4 : 8);
      gather(
        table,
        limit,
        indices + first * 4,
        Math.min(per, count - first),
        rowSize,
        out + first * rowBytes,
      );
    } else {
      // TASK_UPDATE
      const [kernel, addresses, n, per, size, scalars, ...rest] = args as [...Numbers<6>, ...number[]];
      const shift = chunk * per * size;
      const call: number[] = [];
      for (let i = 0; i < addresses; i++) call.push(rest[i] === 0 ? 0 : rest[i]! + shift);
      call.push(Math.min(per, n - chunk * per));
      for (const value of this.scalarsView(scalars)) call.push(value);
      (kernels[UPDATE_KERNELS[kernel]!] as (...values: number[]) => void)(...call);
    }
  }

  /**
   * Publishes a task, takes its chunks alongside the workers, and returns when every chunk is done; with `defer`
   * (and workers running), returns once it is published, leaving it to the workers until {@link join}.
   */
  private run(op: number, args: readonly number[], chunks: number, defer = false): void {
    this.join();
    const ctl = this.ctl;
    if (ARGS + args.length > PACKED)
      throw new RangeError(`threads: a task takes at most ${PACKED - ARGS} arguments`);
    for (let i = 0; i < args.length; i++) ctl[ARGS + i] = args[i]!;
    Atomics.store(ctl, PACKED, 0);
    ctl[OP] = op;
    ctl[CHUNKS] = chunks;
    ctl[SPIN] = wasmThresholds.spinMicroseconds;
    Atomics.store(ctl, COMPLETED, 0);
    this.generation = (this.generation + 1) % CLOSED;
    const tag = this.generation;
    Atomics.store(ctl, COUNTER, tag << 16);
    Atomics.store(ctl, GENERATION, tag);
    if (this.workers.length > 0) Atomics.notify(ctl, GENERATION);
    if (defer && this.workers.length > 0 && !this.broken) {
      this.pending = { op, args, chunks };
      return;
    }
    this.finish(op, args, chunks);
  }

  /** Takes the published task's remaining chunks alongside the workers and returns when every chunk is done. */
  private finish(op: number, args: readonly number[], chunks: number): void {
    const ctl = this.ctl;
    // The main thread takes chunks like any worker.
    while (this.mainTakesChunks || this.workers.length === 0) {
      const value = Atomics.load(ctl, COUNTER);
      const chunk = value & 0xffff;
      if (chunk >= chunks) break;
      if (Atomics.compareExchange(ctl, COUNTER, value, value + 1) !== value) continue;
      this.runChunk(op, args, chunk);
      Atomics.add(ctl, COMPLETED, 1);
    }
    // Then waits for the chunks the workers took: spinning first (a chunk takes microseconds to a few
    // milliseconds), then sleeping. A worker that failed mid-chunk would never finish it: after a failure the
    // remaining chunks are run here (every chunk writes only its own output, so running one twice is harmless).
    // The clock is read every 64 checks only: each reading allocates a number on the heap, and a spin of a
    // few hundred µs otherwise made a training step's largest share of short-lived garbage (13 MB in 2 s).
    const canWait = typeof (globalThis as { document?: unknown }).document === "undefined";
    const spinUntil = performance.now() + wasmThresholds.spinMicroseconds / 1000;
    let done: number;
    let checks = 0;
    let sleeping = false;
    while ((done = Atomics.load(ctl, COMPLETED)) < chunks) {
      if (this.broken) {
        for (let chunk = 0; chunk < chunks; chunk++) this.runChunk(op, args, chunk);
        break;
      }
      if (!canWait) continue;
      if (!sleeping && (++checks & 63) === 0) sleeping = performance.now() > spinUntil;
      if (sleeping) Atomics.wait(ctl, COMPLETED, done, 50);
    }
    Atomics.store(ctl, COUNTER, CLOSED << 16);
    this.lastEnd = performance.now();
  }
}

let pool: ThreadPool | null = null;
let poolUnavailable = false;

/** The pool if it has been created (by a product or another task that split), else null: never creates it. */
export function runningPool(): ThreadPool | null {
  return pool;
}

/**
 * The running pool when an eager op over `values` values should split across its threads now: it has not failed,
 * splits work of that size (`threshold`, see {@link ThreadPool.splits}) and it is worth waking the workers for
 * ({@link ThreadPool.worthSplitting}); else null. Never starts the pool.
 */
export function splittingPool(values: number, threshold: number): ThreadPool | null {
  return pool?.splitsNow(values, threshold) ? pool : null;
}

/** The pool whose shared memory `kernels` is the main thread's instance over, if it is the pool's. */
export function poolOf(kernels: Kernels): ThreadPool | null {
  return pool !== null && pool.kernels === kernels ? pool : null;
}

/** The pool, created on first use with `getThreads()` threads; null where threads are not available. */
export function threadPool(): ThreadPool | null {
  if (pool) return pool;
  if (poolUnavailable) return null;
  const factory = workerFactory();
  const variant = factory ? chooseSharedVariant() : null;
  if (!factory || !variant) {
    poolUnavailable = true;
    return null;
  }
  try {
    pool = new ThreadPool(variant.module, variant.name, factory);
  } catch {
    poolUnavailable = true;
    return null;
  }
  pool.resize(threads);
  return pool;
}
