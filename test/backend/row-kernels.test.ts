import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { jsBackend } from "../../src/backend/index.js";
import type { AxisView } from "../../src/backend/backend.js";
import { lastTouchedSum, touchRows } from "../../src/backend/js/layout.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { createKernelInstance, kernelsOf, type Kernels } from "../../src/backend/wasm/runtime.js";

// The row kernels (assembly/rows.ts): gather and scatter-add of rows run in place, in WebAssembly, when every
// array lives in one kernel instance's memory (a compiled step's embedding), and must give the JavaScript
// kernels' bits; arrays elsewhere, other axes and bad indices take the JavaScript loops.

type FloatType = typeof Float32Array | typeof Float64Array;

/**
 * Views of fresh arrays laid out one after another in an instance's memory (unaligned to 16 on purpose). The
 * memory is grown once, beforehand, for the largest case: growing it later would detach the views taken before.
 */
function residentArrays(kernels: Kernels) {
  let at = kernels.base + 4;
  expect(kernels.reserve(at + (1 << 22))).toBe(true);
  function take(type: typeof Int32Array, length: number): Int32Array;
  function take(type: FloatType, length: number): Float32Array | Float64Array;
  function take(
    type: FloatType | typeof Int32Array,
    length: number,
  ): Float32Array | Float64Array | Int32Array {
    const size = type.BYTES_PER_ELEMENT;
    at = Math.ceil(at / size) * size;
    expect(kernels.reserve(at + length * size + 64)).toBe(true);
    const array = new type(kernels.memory.buffer, at, length);
    at += length * size + 4;
    return array;
  }
  return take;
}

function fill(array: Float32Array | Float64Array, seed: number): void {
  let state = seed * 2654435761 + 1;
  for (let i = 0; i < array.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    array[i] = (state / 2 ** 32 - 0.5) * 2 ** ((state % 13) - 6);
  }
}

/** The first position where a and b differ (Object.is), or −1: quicker than `toEqual` on long arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

const cases = fc.record({
  rows: fc.integer({ min: 1, max: 40 }),
  // Short rows (copied value by value), long ones (block copies from 48 values, in JavaScript) and rows too long
  // to be touched before they are copied (over 256 values; over 1,024 bytes in WebAssembly).
  rowSize: fc.oneof(
    fc.integer({ min: 1, max: 23 }),
    fc.integer({ min: 24, max: 70 }),
    fc.integer({ min: 250, max: 300 }),
  ),
  // Rows are touched and copied in blocks of 128: one block, and several with a partial last one.
  count: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 120, max: 300 })),
  seed: fc.integer({ min: 0, max: 1000 }),
  f64: fc.boolean(),
});

describe("row kernels in WebAssembly memory", () => {
  const kernels = createKernelInstance()!;

  it.each([
    ["float32", Float32Array],
    ["float64", Float64Array],
  ] as [string, FloatType][])(
    "%s gather and scatter-add in place equal the JavaScript kernels (fast-check)",
    (_, type) => {
      // The JavaScript loops are the fallback: in place, they must not run.
      const gatherLoop = vi.spyOn(jsBackend, "gather");
      const scatterLoop = vi.spyOn(jsBackend, "scatterAdd");
      fc.assert(
        fc.property(cases, ({ rows, rowSize, count, seed }) => {
          const take = residentArrays(kernels);
          const view: AxisView = { outer: 1, axis: rows, inner: rowSize };
          const table = take(type, rows * rowSize);
          fill(table, seed);
          const indices = take(Int32Array, count);
          for (let k = 0; k < count; k++) indices[k] = (seed * 31 + k * k * 7) % rows; // repeats included
          const out = take(type, count * rowSize);
          gatherLoop.mockClear();
          wasmBackend.gather(table, view, indices, out);
          expect(gatherLoop).not.toHaveBeenCalled();
          const expected = new type(count * rowSize);
          jsBackend.gather(table.slice(), view, indices.slice(), expected);
          expect(firstDifference(out, expected)).toBe(-1);
          // Scatter-add the gathered rows (scaled) back into a table that already holds values.
          const values = take(type, count * rowSize);
          fill(values, seed + 1);
          const sums = take(type, rows * rowSize);
          fill(sums, seed + 2);
          const reference = sums.slice();
          scatterLoop.mockClear();
          wasmBackend.scatterAdd(values, view, indices, sums);
          expect(scatterLoop).not.toHaveBeenCalled();
          jsBackend.scatterAdd(values.slice(), view, indices.slice(), reference);
          expect(firstDifference(sums, reference)).toBe(-1);
        }),
        { numRuns: 100 },
      );
      vi.restoreAllMocks();
    },
  );

  it("the JavaScript gather copies rows of any length along any axis as a plain loop would (fast-check)", () => {
    fc.assert(
      fc.property(
        cases,
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        ({ rows, rowSize, count, seed }, outer, f32) => {
          const type = f32 ? Float32Array : Float64Array;
          const view: AxisView = { outer, axis: rows, inner: rowSize };
          const x = new type(outer * rows * rowSize);
          fill(x, seed);
          const indices = Int32Array.from({ length: count }, (_, k) => (seed * 17 + k * 5) % rows);
          const out = new type(outer * count * rowSize).fill(NaN);
          jsBackend.gather(x, view, indices, out);
          const expected = new type(out.length);
          for (let o = 0; o < outer; o++)
            for (let j = 0; j < count; j++)
              for (let i = 0; i < rowSize; i++)
                expected[(o * count + j) * rowSize + i] = x[(o * rows + indices[j]!) * rowSize + i]!;
          expect(firstDifference(out, expected)).toBe(-1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("touchRows reads a value in every 64-byte line of the rows it is given, whatever their alignment, and writes none (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        (f32, inner, rows, offset, picks, from, span) => {
          const type = f32 ? Float32Array : Float64Array;
          const size = type.BYTES_PER_ELEMENT;
          const x = new type((offset + rows) * inner);
          fill(x, inner + rows);
          const before = x.slice();
          const indices = Int32Array.from(picks, (p) => p % rows);
          const first = indices.length === 0 ? 0 : from % indices.length;
          const end = Math.min(indices.length, first + (span % 50));
          const read: number[] = [];
          const watched = new Proxy(x, {
            get(target, key) {
              if (typeof key === "string" && /^\d+$/.test(key)) read.push(Number(key));
              return Reflect.get(target, key, target) as unknown;
            },
            set: () => false,
          });
          touchRows(watched, indices, offset, inner, first, end);
          expect(firstDifference(x, before)).toBe(-1);
          const rowOf = (i: number) => Math.floor(i / inner) - offset;
          const touched = new Set(Array.from(indices.subarray(first, end)));
          // Only the given rows are read…
          for (const i of read) expect(touched.has(rowOf(i))).toBe(true);
          // …and, wherever the array starts within a line, every line of each of them.
          for (let start = 0; start < 64; start += size) {
            const lines = new Set(read.map((i) => Math.floor((start + i * size) / 64)));
            for (const row of touched) {
              for (let i = 0; i < inner; i++) {
                expect(lines.has(Math.floor((start + ((offset + row) * inner + i) * size) / 64))).toBe(true);
              }
            }
          }
          if (read.length > 0) expect(lastTouchedSum()).toBe(read.reduce((sum, i) => sum + x[i]!, 0));
        },
      ),
      { numRuns: 80 },
    );
  });

  it("takes the JavaScript loops for arrays outside WebAssembly memory, other axes and mixed memories", () => {
    vi.restoreAllMocks();
    const gatherLoop = vi.spyOn(jsBackend, "gather");
    const take = residentArrays(kernels);
    const table = take(Float32Array, 12);
    fill(table, 3);
    const indices = take(Int32Array, 2);
    indices.set([2, 0]);
    const outside = new Float32Array(8);
    wasmBackend.gather(table, { outer: 1, axis: 3, inner: 4 }, indices, outside);
    expect(outside).toEqual(new Float32Array([...table.subarray(8, 12), ...table.subarray(0, 4)]));
    // Another axis (outer 2): JavaScript, same result as the reference.
    const out = take(Float32Array, 2 * 2 * 2);
    const expected = new Float32Array(8);
    wasmBackend.gather(table, { outer: 2, axis: 3, inner: 2 }, indices, out);
    jsBackend.gather(table, { outer: 2, axis: 3, inner: 2 }, indices, expected);
    expect(out).toEqual(expected);
    // Indices in another instance's memory.
    const other = createKernelInstance()!;
    const otherIndices = residentArrays(other)(Int32Array, 2);
    otherIndices.set([1, 1]);
    expect(kernelsOf(otherIndices)).toBe(other);
    const out2 = take(Float32Array, 8);
    wasmBackend.gather(table, { outer: 1, axis: 3, inner: 4 }, otherIndices, out2);
    expect(out2).toEqual(new Float32Array([...table.subarray(4, 8), ...table.subarray(4, 8)]));
    expect(gatherLoop).toHaveBeenCalledTimes(3 + 1); // the three fallbacks, and the reference call

    vi.restoreAllMocks();
  });

  it("an index outside the table: the kernel writes nothing and the JavaScript loop decides", () => {
    for (const bad of [-1, 3, 2 ** 31 - 1, -(2 ** 31)]) {
      const take = residentArrays(kernels);
      const table = take(Float32Array, 6);
      fill(table, 5);
      const indices = take(Int32Array, 3);
      indices.set([0, bad, 2]);
      const view: AxisView = { outer: 1, axis: 3, inner: 2 };
      expect(kernels.exports.gatherRowsF32(table.byteOffset, 3, indices.byteOffset, 3, 2, 0)).toBe(1);
      const out = take(Float32Array, 6);
      const expected = new Float32Array(6);
      wasmBackend.gather(table, view, indices, out);
      jsBackend.gather(table, view, indices, expected);
      expect(out).toEqual(expected);
      const sums = take(Float32Array, 6);
      const before = sums.slice();
      expect(
        kernels.exports.scatterAddRowsF32(table.byteOffset, indices.byteOffset, 3, 2, sums.byteOffset, 3),
      ).toBe(1);
      expect(sums).toEqual(before);
    }
  });

  it("addRow adds a row to every row of a block, rounded as JavaScript rounds", () => {
    for (const type of [Float32Array, Float64Array] as FloatType[]) {
      const take = residentArrays(kernels);
      for (const [rows, columns] of [
        [1, 1],
        [3, 5],
        [7, 300],
        [2, 9],
      ] as const) {
        const y = take(type, rows * columns);
        fill(y, rows + columns);
        const bias = take(type, columns);
        fill(bias, columns);
        const expected = y.slice();
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < columns; j++) expected[i * columns + j] += bias[j]!;
        const add = type === Float32Array ? kernels.exports.addRowF32 : kernels.exports.addRowF64;
        add(y.byteOffset, bias.byteOffset, rows, columns);
        expect(y).toEqual(expected);
      }
    }
  });
});
