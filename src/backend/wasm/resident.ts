/**
 * Arrays that live in the thread pool's shared memory across calls (src/backend/wasm/threads.ts), so that
 * kernels read and update them in place instead of copying them in and out on every call:
 *
 * - a compiled plan's buffers (src/compile/arena.ts takes a region for them);
 * - an eager optimiser's parameters and their state buffers ({@link residentCopy}): the eager step then reads a
 *   weight matrix where it is for a product, looks rows up in an embedding table there, and updates both there,
 *   copying only the per-call arrays (a gradient, an output) in or out.
 *
 * A region's lifetime. Regions are given back to the pool's free list once nothing can read them any more: each
 * view chainrule makes of a region holds the region's token (through a WeakMap), and a FinalizationRegistry gives
 * the region back when the token is collected, that is when every such view is. A view that code outside makes
 * itself (`subarray`, `new Float32Array(view.buffer, …)`) is not counted: keep the view chainrule gave (a tensor's
 * `data`), not a view of it, for as long as it is read.
 */
import { kernelsOf } from "./runtime.js";
import { getThreads, poolOf, runningPool, type ThreadPool } from "./threads.js";
import { wasmThresholds } from "./thresholds.js";

/** A region of the pool's shared memory; when it is collected, the region goes back to the pool. */
export interface RegionToken {
  readonly at: number;
  readonly bytes: number;
}

const regions =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<{ pool: ThreadPool; at: number; bytes: number }>(({ pool, at, bytes }) => {
        try {
          pool.releaseRegion(at, bytes);
        } catch {
          // Not a region in use (cannot happen: each token is registered once). Throwing from a collector's
          // callback would end the process at a random moment; the region is left as it is instead.
        }
      })
    : null;

/** Each view of a shared region chainrule made, to the region's token: a view keeps its region in use. */
const holders = new WeakMap<object, RegionToken>();

/** Whether regions can be given back (the engine has a FinalizationRegistry); none is taken otherwise. */
export const regionsReleasable = regions !== null;

/**
 * The token of the region of `bytes` bytes at `at` of `pool`'s memory (as `allocateRegion` handed it out): the
 * region goes back to the pool once the token, and every view holding it (see {@link holdRegion}), is collected.
 */
export function regionToken(pool: ThreadPool, at: number, bytes: number): RegionToken {
  const token = { at, bytes };
  regions?.register(token, { pool, at, bytes });
  return token;
}

/** Counts `view` as a holder of the region of `token`: the region stays in use while `view` can be read. */
export function holdRegion(view: object, token: RegionToken): void {
  holders.set(view, token);
}

/** The pool when `array` lives in its shared memory, else null. */
export function residentPool(array: ArrayBufferView): ThreadPool | null {
  const home = kernelsOf(array);
  const pool = home === null ? null : poolOf(home);
  return pool !== null && !pool.failed ? pool : null;
}

/**
 * `array` in the thread pool's shared memory: itself when it already lives there, else a copy in a region of its
 * own (its view holds the region, see above). Null — and nothing taken — when it is smaller than
 * `wasmThresholds.residentValues`, when fewer than two threads are set (see setThreads), when the pool has not
 * been started (by a product large enough to split) or has failed, when regions could not be given back, or when
 * the memory cannot hold it.
 */
export function residentCopy<T extends Float32Array | Float64Array>(array: T): T | null {
  if (array.length < wasmThresholds.residentValues || getThreads() < 2 || regions === null) return null;
  // Only into a pool that already runs: starting one (a worker and its engine, about 20 MB) for arrays whose
  // products do not split costs more memory than the copies it saves are worth.
  const pool = runningPool();
  if (pool === null || pool.failed) return null;
  if (kernelsOf(array) === pool.kernels) return array;
  const Type = array.constructor as ResidentArrayType<T> & { readonly BYTES_PER_ELEMENT: number };
  const view = residentArray(pool, Type, array.length);
  view?.set(array);
  return view;
}

/** The constructor of an array that {@link residentArray} makes. */
export type ResidentArrayType<T extends Float32Array | Float64Array | Int32Array> = new (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => T;

/**
 * A zeroed array of `length` values in a region of its own of `pool`'s shared memory (its view holds the region,
 * see above), for buffers that an eager step reuses beside a resident parameter (an optimiser's coalesced
 * gradient). Null — and nothing taken — when regions cannot be given back or the memory cannot hold it.
 */
export function residentArray<T extends Float32Array | Float64Array | Int32Array>(
  pool: ThreadPool,
  Type: ResidentArrayType<T> & { readonly BYTES_PER_ELEMENT: number },
  length: number,
): T | null {
  if (regions === null || pool.failed) return null;
  const bytes = length * Type.BYTES_PER_ELEMENT;
  const at = pool.allocateRegion(bytes);
  if (at < 0 || !pool.reserve(at + bytes, wasmThresholds.maxBytes)) {
    if (at >= 0) pool.releaseRegion(at, bytes);
    return null;
  }
  // The memory's current buffer (reserving may have grown it).
  const view = new Type(pool.f32.buffer, at, length);
  holdRegion(view, regionToken(pool, at, bytes));
  return view;
}
