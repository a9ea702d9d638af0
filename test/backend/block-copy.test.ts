import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { jsBackend } from "../../src/backend/index.js";
import { blockRuns } from "../../src/backend/js/layout.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { createKernelInstance, type Kernels } from "../../src/backend/wasm/runtime.js";
import { stridesOf } from "../../src/tensor/shape.js";

// Concatenation and slices: the JavaScript kernels (value by value for short float32 runs, `set` otherwise) and
// the wasm backend's block copies in WebAssembly memory (assembly/rows.ts copyBlock), for arrays a compiled
// step keeps there. All must equal an index-by-index reference written here.

type ArrayType = typeof Float32Array | typeof Float64Array | typeof Int32Array;
type AnyArray = Float32Array | Float64Array | Int32Array;

/**
 * Views of fresh arrays laid out one after another in an instance's memory (unaligned to 16 on purpose). The
 * memory is grown once, up front, so that no view is detached by a later one.
 */
function residentArrays(kernels: Kernels) {
  const end = kernels.base + 4 * 2 ** 20;
  expect(kernels.reserve(end)).toBe(true);
  let at = kernels.base + 4;
  return (type: ArrayType, length: number): AnyArray => {
    const size = type.BYTES_PER_ELEMENT;
    at = Math.ceil(at / size) * size;
    expect(at + length * size).toBeLessThanOrEqual(end);
    const array = new type(kernels.memory.buffer, at, length);
    at += length * size + 4;
    return array;
  };
}

const outside = (type: ArrayType, length: number): AnyArray => new type(length);

function fill(array: AnyArray, seed: number): void {
  for (let i = 0; i < array.length; i++) array[i] = ((seed * 7919 + i * 104729) % 2003) / 17 - 50;
}

/** The reference slice: every index of the block, one at a time. */
function referenceSlice(x: AnyArray, shape: number[], begin: number[], size: number[]): number[] {
  const strides = stridesOf(shape);
  const total = size.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    let offset = 0;
    for (let d = size.length - 1; d >= 0; d--) {
      offset += (begin[d]! + (rest % size[d]!)) * strides[d]!;
      rest = Math.floor(rest / size[d]!);
    }
    out.push(x[offset]!);
  }
  return out;
}

/** The reference concatenation of parts of shapes `shapes` along `axis`. */
function referenceConcat(parts: AnyArray[], shapes: number[][], axis: number): number[] {
  const outShape = shapes[0]!.slice();
  outShape[axis] = shapes.reduce((a, s) => a + s[axis]!, 0);
  const total = outShape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let flat = 0; flat < total; flat++) {
    const index: number[] = [];
    let rest = flat;
    for (let d = outShape.length - 1; d >= 0; d--) {
      index[d] = rest % outShape[d]!;
      rest = Math.floor(rest / outShape[d]!);
    }
    let p = 0;
    while (index[axis]! >= shapes[p]![axis]!) index[axis]! -= shapes[p++]![axis]!;
    const strides = stridesOf(shapes[p]!);
    out.push(parts[p]![index.reduce((a, i, d) => a + i * strides[d]!, 0)]!);
  }
  return out;
}

const types: ArrayType[] = [Float32Array, Float64Array, Int32Array];

const concatCases = fc
  .record({
    shape: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 4 }),
    axisSeed: fc.nat(),
    widths: fc.array(fc.integer({ min: 0, max: 70 }), { minLength: 1, maxLength: 4 }),
    type: fc.integer({ min: 0, max: 2 }),
    seed: fc.nat(1000),
  })
  .map(({ shape, axisSeed, widths, type, seed }) => {
    const axis = axisSeed % shape.length;
    const shapes = widths.map((w) => shape.map((s, d) => (d === axis ? w : s)));
    return { shapes, axis, type: types[type]!, seed };
  });

const sliceCases = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 7 }), fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 })
  .chain((axes) =>
    fc.record({
      shape: fc.constant(axes.map(([s]) => s)),
      begin: fc.constant(axes.map(([s, b]) => b % s)),
      size: fc.constant(axes.map(([s, b, n]) => n % (s - (b % s) + 1))),
      whole: fc.array(fc.boolean(), { minLength: axes.length, maxLength: axes.length }),
      type: fc.integer({ min: 0, max: 2 }),
      seed: fc.nat(1000),
    }),
  )
  .map(({ shape, begin, size, whole, type, seed }) => ({
    shape,
    // Whole axes often, so that the block is often rows of one stride (the fast paths).
    begin: begin.map((b, d) => (whole[d] ? 0 : b)),
    size: size.map((n, d) => (whole[d] ? shape[d]! : n)),
    type: types[type]!,
    seed,
  }));

describe("concatenation and slices", () => {
  const kernels = createKernelInstance()!;

  it("blockRuns describes a block as rows of one stride exactly when it is one", () => {
    expect(blockRuns([32, 5, 80], [0, 0, 50], [32, 5, 5])).toEqual({
      rows: 160,
      run: 5,
      stride: 80,
      offset: 50,
    });
    expect(blockRuns([4, 6], [1, 0], [2, 6])).toEqual({ rows: 1, run: 12, stride: 24, offset: 6 });
    expect(blockRuns([3, 4], [0, 0], [3, 4])).toEqual({ rows: 1, run: 12, stride: 12, offset: 0 });
    expect(blockRuns([3, 4, 2], [0, 1, 0], [3, 2, 2])).toEqual({ rows: 3, run: 4, stride: 8, offset: 2 });
    expect(blockRuns([3, 4], [1, 1], [1, 2])).toEqual({ rows: 1, run: 2, stride: 4, offset: 5 });
    expect(blockRuns([2, 3, 4, 5], [1, 1, 0, 2], [1, 2, 4, 3])).toEqual({
      rows: 8,
      run: 3,
      stride: 5,
      offset: 82,
    });
    expect(blockRuns([3, 4], [1, 1], [2, 2])).toEqual({ rows: 2, run: 2, stride: 4, offset: 5 });
    expect(blockRuns([2, 3, 4], [0, 1, 1], [2, 1, 2])).toBeNull();
    expect(blockRuns([3, 4, 5], [0, 1, 1], [3, 2, 4])).toBeNull();
  });

  for (const [name, backend] of [
    ["JavaScript", jsBackend],
    ["wasm", wasmBackend],
  ] as const) {
    for (const [where, resident] of [
      ["outside WebAssembly memory", false],
      ["in WebAssembly memory", true],
    ] as const) {
      it(`${name} backend, arrays ${where}: concat and slice equal the reference (fast-check)`, () => {
        fc.assert(
          fc.property(concatCases, sliceCases, (c, s) => {
            const take = resident ? residentArrays(kernels) : outside;
            const parts = c.shapes.map((shape, p) => {
              const part = take(
                c.type,
                shape.reduce((a, b) => a * b, 1),
              );
              fill(part, c.seed + p);
              return part;
            });
            const outer = c.shapes[0]!.slice(0, c.axis).reduce((a, b) => a * b, 1);
            const blocks = c.shapes.map((shape) => shape.slice(c.axis).reduce((a, b) => a * b, 1));
            const expected = referenceConcat(parts, c.shapes, c.axis);
            const out = take(c.type, expected.length);
            backend.concat(parts, outer, blocks, out);
            expect(Array.from(out)).toEqual(expected);
            const x = take(
              s.type,
              s.shape.reduce((a, b) => a * b, 1),
            );
            fill(x, s.seed);
            const want = referenceSlice(x, s.shape, s.begin, s.size);
            const sliced = take(s.type, want.length);
            backend.slice(x, s.shape, s.begin, s.size, sliced);
            expect(Array.from(sliced)).toEqual(want);
          }),
          { numRuns: 300 },
        );
      });
    }
  }

  it("the wasm backend copies blocks in place when every array lives in one instance, else the JavaScript loops", () => {
    const take = residentArrays(kernels);
    const concatLoop = vi.spyOn(jsBackend, "concat");
    const sliceLoop = vi.spyOn(jsBackend, "slice");
    const a = take(Float32Array, 6) as Float32Array;
    const b = take(Float32Array, 4) as Float32Array;
    a.set([1, 2, 3, 4, 5, 6]);
    b.set([7, 8, 9, 10]);
    const out = take(Float32Array, 10);
    wasmBackend.concat([a, b], 2, [3, 2], out);
    expect(Array.from(out)).toEqual([1, 2, 3, 7, 8, 4, 5, 6, 9, 10]);
    const back = take(Float32Array, 4);
    wasmBackend.slice(out, [2, 5], [0, 3], [2, 2], back);
    expect(Array.from(back)).toEqual([7, 8, 9, 10]);
    expect(concatLoop).not.toHaveBeenCalled();
    expect(sliceLoop).not.toHaveBeenCalled();
    // One array outside, arrays of another instance, mixed element sizes: the JavaScript loops.
    wasmBackend.concat([a, new Float32Array(4)], 2, [3, 2], out);
    const other = residentArrays(createKernelInstance()!)(Float32Array, 4);
    wasmBackend.concat([a, other], 2, [3, 2], out);
    wasmBackend.slice(out, [2, 5], [0, 3], [2, 2], other);
    wasmBackend.slice(out, [2, 5], [1, 1], [1, 2], take(Float32Array, 2)); // one run: a block
    wasmBackend.slice(take(Float32Array, 24), [2, 3, 4], [1, 1, 0], [1, 2, 4], take(Float32Array, 8)); // one run
    expect(concatLoop).toHaveBeenCalledTimes(2);
    expect(sliceLoop).toHaveBeenCalledTimes(1);
    wasmBackend.slice(take(Float32Array, 24), [2, 3, 4], [0, 1, 1], [2, 2, 2], take(Float32Array, 8)); // not rows
    expect(sliceLoop).toHaveBeenCalledTimes(2);
    vi.restoreAllMocks();
  });
});
