import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { jsBackend } from "../../src/backend/index.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { createKernelInstance } from "../../src/backend/wasm/runtime.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";
import { threadPool, threadsAvailable } from "../../src/backend/wasm/threads.js";
import { setThreads } from "../../src/index.js";
import { restoreThreadSettingsAfterEach } from "../helpers.js";

// Backend.sumRows: out zeroed, then out[indices[k]] += values[k] in order (a coalesced gradient's sums). The
// wasm backend runs it in place where the arrays live in one kernel instance's memory, split by ranges of rows
// across the pool's threads in its shared memory; every way must give the JavaScript loop's bits.

restoreThreadSettingsAfterEach();
afterEach(() => {
  vi.restoreAllMocks();
});

type FloatType = Float32ArrayConstructor | Float64ArrayConstructor;

/** Values with repeats of the same rows, exact zeros of both signs, and rows that nothing lands in. */
function caseOf(Type: FloatType, rows: number, count: number, rowSize: number, seed: number) {
  let state = seed * 2654435761 + 1;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const indices = Int32Array.from({ length: count }, () => next() % rows);
  const values = new Type(count * rowSize);
  for (let i = 0; i < values.length; i++) {
    values[i] = i % 11 === 0 ? -0 : i % 13 === 0 ? 0 : (next() / 2 ** 31 - 1) * 3;
  }
  return { indices, values };
}

/** The JavaScript loop's sums, into NaN-filled rows (so that a row left unwritten shows). */
function expected(
  Type: FloatType,
  values: Float32Array | Float64Array,
  rowSize: number,
  indices: Int32Array,
  rows: number,
) {
  const out = new Type(rows * rowSize).fill(NaN);
  jsBackend.sumRows(values, rowSize, indices, rows, out);
  return Array.from(out);
}

describe("sumRows", () => {
  for (const Type of [Float32Array, Float64Array]) {
    it(`${Type.name}: in a kernel instance's memory, in place, gives the JavaScript loop's bits (fast-check)`, () => {
      const kernels = createKernelInstance()!;
      expect(kernels.reserve(kernels.base + (1 << 20))).toBe(true);
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 60 }),
          fc.integer({ min: 0, max: 200 }),
          fc.integer({ min: 1, max: 37 }),
          fc.integer({ min: 0, max: 1000 }),
          (rows, count, rowSize, seed) => {
            const { indices, values } = caseOf(Type, rows, count, rowSize, seed);
            let at = kernels.base + 8;
            const place = <T extends Int32Array | Float32Array | Float64Array>(array: T): T => {
              at = Math.ceil(at / 8) * 8;
              const view = new (array.constructor as new (b: ArrayBufferLike, o: number, l: number) => T)(
                kernels.memory.buffer,
                at,
                array.length,
              );
              view.set(array as never);
              at += array.byteLength + 4;
              return view;
            };
            const v = place(values);
            const i = place(indices);
            const out = place(new Type(rows * rowSize).fill(NaN));
            wasmBackend.sumRows(v, rowSize, i, rows, out);
            expect(Array.from(out)).toEqual(expected(Type, values, rowSize, indices, rows));
            // Ordinary arrays take the JavaScript loop: the same.
            const plain = new Type(rows * rowSize).fill(NaN);
            wasmBackend.sumRows(values, rowSize, indices, rows, plain);
            expect(Array.from(plain)).toEqual(expected(Type, values, rowSize, indices, rows));
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  describe.skipIf(!threadsAvailable())("split across the pool's threads", () => {
    for (const Type of [Float32Array, Float64Array]) {
      it(`${Type.name}: by ranges of rows, with one call's bits (and with every chunk left to the workers)`, () => {
        setThreads(2);
        wasmThresholds.threadRowValues = 0;
        const pool = threadPool()!;
        const [rows, count, rowSize] = [1001, 1280, 50];
        const { indices, values } = caseOf(Type, rows, count, rowSize, 7);
        const size = Type.BYTES_PER_ELEMENT;
        // Each region first (the memory may grow), then the views of the memory's current buffer.
        const at = [count * rowSize * size, count * 4, rows * rowSize * size].map((b) =>
          pool.allocateRegion(b),
        );
        const v = new Type(pool.memory.buffer, at[0]!, count * rowSize);
        v.set(values);
        const i = new Int32Array(pool.memory.buffer, at[1]!, count);
        i.set(indices);
        const out = new Type(pool.memory.buffer, at[2]!, rows * rowSize);
        const split = vi.spyOn(pool, "sumRows");
        const want = expected(Type, values, rowSize, indices, rows);
        out.fill(NaN);
        wasmBackend.sumRows(v, rowSize, i, rows, out);
        expect(split).toHaveBeenCalledTimes(1);
        expect(Array.from(out)).toEqual(want);
        pool.mainTakesChunks = false;
        try {
          out.fill(NaN);
          wasmBackend.sumRows(v, rowSize, i, rows, out);
        } finally {
          pool.mainTakesChunks = true;
        }
        expect(Array.from(out)).toEqual(want);
        // Below the threshold, one call.
        wasmThresholds.threadRowValues = Infinity;
        split.mockClear();
        out.fill(NaN);
        wasmBackend.sumRows(v, rowSize, i, rows, out);
        expect(split).not.toHaveBeenCalled();
        expect(Array.from(out)).toEqual(want);
        for (const a of [v, i, out]) pool.releaseRegion(a.byteOffset, a.byteLength);
      });
    }
  });
});
