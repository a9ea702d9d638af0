import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { jsBackend } from "../../src/backend/index.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { softmaxRowsWasm } from "../../src/backend/wasm/softmax.js";
import { createKernelInstance, requireKernels } from "../../src/backend/wasm/runtime.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";

// The wasm backend's softmax takes the exponentials of float32 rows in WebAssembly (float64 lanes, about 1e-14
// relative) and finishes each row with the JavaScript kernel's formulas. Against the JavaScript kernel (Math.exp):
// the float32 softmax within 1 ulp and almost always equal, the float64 log-softmax within a few 1e-15 of each
// value's size, and the special values (−∞ rows, NaN, ±∞, huge) exactly where the JavaScript kernel has them.

const entry = fc.oneof(
  { weight: 12, arbitrary: fc.float({ min: -40, max: 40, noNaN: true }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(-Infinity, Infinity, NaN, 3e38, -3e38, 0, -0, -800, 800, Math.fround(1e-40)),
  },
);

/** ulps between two float32 values of the same sign (−1 when one is NaN and the other not). */
function ulpsApart(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : -1;
  if (Object.is(a, b)) return 0;
  const bits = new Int32Array(new Float32Array([a, b]).buffer);
  return Math.abs(bits[0]! - bits[1]!);
}

/** The float64 outputs agree: the same special value, or within 1e-14 of the larger magnitude (and 1e-300). */
function close64(actual: number, expected: number): boolean {
  if (!Number.isFinite(expected))
    return Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected));
  return Math.abs(actual - expected) <= 1e-14 * Math.max(1, Math.abs(expected));
}

describe("wasm softmax (exponentials in WebAssembly)", () => {
  it("float32 rows: within 1 ulp of the JavaScript kernel, log-softmax within 1e-14; specials exact (fast-check)", () => {
    let values = 0;
    let differing = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(entry, { minLength: 1200, maxLength: 1200 }),
        (rows, columns, pool) => {
          const x = Float32Array.from({ length: rows * columns }, (_, i) => pool[i % pool.length]!);
          const view = { outer: rows, axis: columns, inner: 1 };
          for (const log of [false, true]) {
            const expected = new Float32Array(x.length);
            const actual = new Float32Array(x.length);
            jsBackend.softmax(x, view, expected, log);
            wasmBackend.softmax(x, view, actual, log);
            for (let i = 0; i < x.length; i++) {
              const apart = ulpsApart(actual[i]!, expected[i]!);
              if (apart < 0 || apart > 1)
                expect.fail(`log ${log}, ${i}: wasm ${actual[i]} vs js ${expected[i]}`);
              if (apart !== 0) differing++;
            }
            values += x.length;
          }
          const expected64 = new Float64Array(x.length);
          const actual64 = new Float64Array(x.length);
          jsBackend.softmax(x, view, expected64, true);
          wasmBackend.softmax(x, view, actual64, true);
          for (let i = 0; i < x.length; i++) {
            if (!close64(actual64[i]!, expected64[i]!))
              expect.fail(`float64 log-softmax ${i}: wasm ${actual64[i]} vs js ${expected64[i]}`);
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(differing / values).toBeLessThan(1e-4);
  });

  it("rows of −∞, NaN and +∞, and far-apart values, give the JavaScript kernel's special values", () => {
    const columns = 300;
    const x = new Float32Array(4 * columns).fill(-Infinity); // row 0: all −∞ (NaN, as 0/0)
    x.fill(1, columns, 2 * columns);
    x[columns + 3] = NaN; // row 1: NaN everywhere
    x.fill(-1000, 2 * columns, 3 * columns);
    x[2 * columns + 5] = 0; // row 2: one value; the others underflow to exactly 0
    x.fill(2, 3 * columns, 4 * columns);
    x[3 * columns] = Infinity; // row 3: ∞ − ∞
    const view = { outer: 4, axis: columns, inner: 1 };
    for (const log of [false, true]) {
      const expected = new Float64Array(x.length);
      const actual = new Float64Array(x.length);
      jsBackend.softmax(x, view, expected, log);
      wasmBackend.softmax(x, view, actual, log);
      for (let i = 0; i < x.length; i++) {
        if (!close64(actual[i]!, expected[i]!))
          expect.fail(`log ${log}, ${i}: ${actual[i]} vs ${expected[i]}`);
      }
    }
    const p = new Float64Array(x.length);
    wasmBackend.softmax(x, view, p, false);
    expect(p[2 * columns + 5]).toBe(1);
    expect(p[2 * columns + 6]).toBe(0);
  });

  it("one call gives the log-softmax and the softmax of two backend calls, and each row's maximum and Σ", () => {
    const rows = 64;
    const columns = 9;
    const x = Float32Array.from({ length: rows * columns }, (_, i) => Math.sin(i * 1.7) * 6);
    const view = { outer: rows, axis: columns, inner: 1 };
    const log = new Float64Array(x.length);
    const p = new Float32Array(x.length);
    const stats = softmaxRowsWasm(x, rows, columns, log, p);
    expect(stats).not.toBeNull();
    const log2 = new Float64Array(x.length);
    const p2 = new Float32Array(x.length);
    wasmBackend.softmax(x, view, log2, true);
    wasmBackend.softmax(x, view, p2, false);
    expect(Array.from(log)).toEqual(Array.from(log2));
    expect(Array.from(p)).toEqual(Array.from(p2));
    // The stats (read before the next kernel call) give any one log-probability by the same formula.
    const again = softmaxRowsWasm(x, rows, columns, null, null)!;
    for (let i = 0; i < rows; i++) {
      const t = (i * 5) % columns;
      expect(x[i * columns + t]! - again[2 * i]! - Math.log(again[2 * i + 1]!)).toBe(log[i * columns + t]);
      let max = -Infinity;
      for (let j = 0; j < columns; j++) max = Math.max(max, x[i * columns + j]!);
      expect(again[2 * i]).toBe(max);
    }
  });

  it("softmaxExpsF32 over many rows gives each row's exponentials, maximum and Σ of a call on that row alone", () => {
    // Each row's values must be its own, to the bit, whatever the row length (an odd one leaves a value over
    // from the pairs) and the row count.
    const kernels = createKernelInstance()!;
    expect(kernels.reserve(kernels.base + (1 << 20))).toBe(true);
    const xAt = kernels.base;
    const expsAt = xAt + 65536;
    const statsAt = expsAt + 65536 * 4;
    const aloneAt = statsAt + 16384;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 23 }),
        fc.array(entry, { minLength: 1, maxLength: 64 }),
        (rows, columns, pool) => {
          const f32 = new Float32Array(kernels.memory.buffer);
          const f64 = new Float64Array(kernels.memory.buffer);
          for (let i = 0; i < rows * columns; i++) f32[xAt / 4 + i] = pool[(i * 7) % pool.length]!;
          kernels.exports.softmaxExpsF32(xAt, rows, columns, expsAt, statsAt);
          const exps = f64.slice(expsAt / 8, expsAt / 8 + rows * columns);
          const stats = f64.slice(statsAt / 8, statsAt / 8 + 2 * rows);
          for (let i = 0; i < rows; i++) {
            kernels.exports.softmaxExpsF32(xAt + 4 * i * columns, 1, columns, aloneAt, aloneAt + 8 * columns);
            const alone = f64.subarray(aloneAt / 8, aloneAt / 8 + columns + 2);
            for (let j = 0; j < columns; j++) expect(Object.is(exps[i * columns + j], alone[j])).toBe(true);
            expect(Object.is(stats[2 * i], alone[columns])).toBe(true);
            expect(Object.is(stats[2 * i + 1], alone[columns + 1])).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("runs in place where x and the scratch live in one kernel instance's memory, with the same bits", () => {
    const kernels = createKernelInstance()!;
    const copyArea = requireKernels();
    const rows = 50;
    const columns = 9;
    expect(kernels.reserve(kernels.base + (1 << 16))).toBe(true);
    const x = new Float32Array(kernels.memory.buffer, kernels.base + 4, rows * columns);
    const scratch = new Float64Array(kernels.memory.buffer, kernels.base + 4096, rows * (columns + 2));
    x.set(Float32Array.from({ length: rows * columns }, (_, i) => Math.cos(i * 0.37) * 9));
    const expected = new Float32Array(x.length);
    wasmBackend.softmax(x.slice(), { outer: rows, axis: columns, inner: 1 }, expected, false);
    expect(copyArea.reserve(copyArea.base + 64)).toBe(true);
    const sentinel = new Float64Array(copyArea.memory.buffer, copyArea.base, 8).fill(-7.25);
    const p = new Float32Array(x.length);
    const stats = softmaxRowsWasm(x, rows, columns, null, p, scratch);
    expect(Array.from(p)).toEqual(Array.from(expected));
    expect(stats!.buffer).toBe(kernels.memory.buffer);
    expect(Array.from(sentinel)).toEqual(new Array(8).fill(-7.25));
    // A scratch too short, or elsewhere, takes the copying path: same values.
    const elsewhere = new Float32Array(x.length);
    softmaxRowsWasm(x, rows, columns, null, elsewhere, new Float64Array(rows * (columns + 2)));
    expect(Array.from(elsewhere)).toEqual(Array.from(expected));
    expect(Array.from(sentinel)).not.toEqual(new Array(8).fill(-7.25));
  });

  it("float64, small arrays and strided axes run the JavaScript kernel, to the bit", () => {
    expect(softmaxRowsWasm(new Float64Array(600), 60, 10, null, new Float64Array(600))).toBeNull();
    const small = wasmThresholds.elementwise - 1;
    expect(softmaxRowsWasm(new Float32Array(small), 1, small, null, new Float32Array(small))).toBeNull();
    const x = Float32Array.from({ length: 8 * 9 * 5 }, (_, i) => Math.sin(i) * 4);
    for (const view of [
      { outer: 8, axis: 9, inner: 5 },
      { outer: 1, axis: 8, inner: 45 },
    ]) {
      for (const log of [false, true]) {
        const expected = new Float32Array(x.length);
        const actual = new Float32Array(x.length).fill(NaN);
        jsBackend.softmax(x, view, expected, log);
        wasmBackend.softmax(x, view, actual, log);
        expect(Array.from(actual)).toEqual(Array.from(expected));
      }
    }
  });
});
