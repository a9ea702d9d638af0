import { describe, expect, it } from "vitest";
import { setThreads, wasmBackend, wasmThresholds } from "../../src/index.js";
import { jsBackend } from "../../src/backend/index.js";
import { activationBackward, binary, unary } from "../../src/backend/wasm/elementwise.js";
import { requireKernels } from "../../src/backend/wasm/runtime.js";
import { runningPool, threadPool, threadsAvailable } from "../../src/backend/wasm/threads.js";
import { randomArray, singleProduct, restoreThreadSettingsAfterEach } from "../helpers.js";

restoreThreadSettingsAfterEach();

const random = (length: number, seed: number): Float32Array => randomArray(length, seed, Float32Array);

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe.skipIf(!threadsAvailable())("elementwise ops on the main thread while the thread pool runs", () => {
  it("lay out their copies in the pool's per-call area when it spans them, not in a grown private memory", () => {
    // No op splits: each runs on the main thread, on whichever memory holds its copies.
    wasmThresholds.threadUnaryValues = Infinity;
    wasmThresholds.threadDerivativeValues = Infinity;
    const columns = 300;
    const run = (rows: number) => {
      const n = rows * columns;
      const x = random(n, 1);
      const sum = new Float32Array(n);
      binary("add", x, [rows, columns], random(columns, 2), [columns], sum, [rows, columns]);
      const y = new Float32Array(n);
      unary("tanh", sum, y);
      const dz = new Float32Array(n);
      activationBackward("tanh", y, random(n, 3), dz);
      return [sum, y, dz];
    };
    // Before any pool, on the private instance's memory: the reference values (each value depends only on its
    // row and column, so a run over more rows gives the same values in its first ones).
    const reference = runningPool() === null ? run(32) : null;
    // A product large enough to split starts the pool and grows its per-call area past the ops' copies.
    wasmThresholds.threadFlops = 0;
    setThreads(2);
    const [m, k] = [600, 250];
    const product = new Float32Array(m * columns);
    wasmBackend.matmul(random(m * k, 4), random(k * columns, 5), product, singleProduct(m, columns, k));
    const pool = threadPool()!;
    const rows = 512;
    const needs = 2 * rows * columns * 4 + columns * 4;
    expect(pool.kernels.memoryBytes - pool.base).toBeGreaterThan(needs);
    const privateBytes = requireKernels().memoryBytes;
    expect(privateBytes).toBeLessThan(needs);
    const results = run(rows);
    expect(requireKernels().memoryBytes).toBe(privateBytes);
    if (reference !== null) {
      results.forEach((r, i) => expect(bits(r.subarray(0, 32 * columns))).toEqual(bits(reference[i]!)));
    }
    // The sum is exact whatever runs it.
    const x = random(rows * columns, 1);
    const expected = new Float32Array(rows * columns);
    jsBackend.binary("add", x, [rows, columns], random(columns, 2), [columns], expected, [rows, columns]);
    expect(bits(results[0]!)).toEqual(bits(expected));
  });

  it("fall back to the private memory when the pool's area is too small, with the same values", () => {
    wasmThresholds.threadUnaryValues = Infinity;
    wasmThresholds.threadFlops = 0;
    setThreads(2);
    threadPool();
    const pool = runningPool()!;
    // More values than the pool's memory holds above its per-call base: the private instance takes them.
    const n = Math.ceil((pool.kernels.memoryBytes - pool.base) / 4) + 1024;
    const x = random(n, 6);
    const y = new Float32Array(n);
    const poolBytes = pool.kernels.memoryBytes;
    unary("tanh", x, y);
    expect(pool.kernels.memoryBytes).toBe(poolBytes);
    expect(requireKernels().memoryBytes).toBeGreaterThanOrEqual(n * 4);
    // The same values as a call that fits the pool's area, value by value.
    const head = new Float32Array(1024);
    unary("tanh", x.subarray(0, 1024), head);
    expect(bits(y.subarray(0, 1024))).toEqual(bits(head));
  });
});
