import { afterEach, describe, expect, it } from "vitest";
import { add, concat, exp, gather, matmul, mul, slice, tanh, tensor, type Tensor } from "../../src/index.js";
import { allocateUninitialized, uninitializedFill } from "../../src/tensor/dtype.js";

// Ops whose kernels write every value of their output take it unfilled (allocateUninitialized: in Node, memory
// that is not zeroed first). With every such array filled with NaN beforehand, each op must give exactly the
// values it gives with the arrays zero-filled: a value a kernel skipped would show as NaN.

afterEach(() => {
  uninitializedFill.value = null;
});

function values(shape: number[], seed: number, dtype: "float32" | "float64" = "float32"): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  let state = seed;
  const data = Array.from({ length: size }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 31 - 1;
  });
  return tensor(data, { shape, dtype });
}

/** Each op's output at sizes past the threshold (4 KB), float32 and float64. */
function outputs(dtype: "float32" | "float64"): [string, Tensor][] {
  const a = values([40, 50], 1, dtype);
  const b = values([50, 60], 2, dtype);
  const row = values([50], 3, dtype);
  const batched = values([3, 40, 50], 4, dtype);
  return [
    ["tanh", tanh(a)],
    ["exp", exp(a)],
    ["add, broadcast", add(a, row)],
    ["mul", mul(a, a)],
    ["matmul", matmul(a, b)],
    ["matmul, transposed", matmul(b, a, { transposeA: true, transposeB: true })],
    ["matmul, batched", matmul(batched, b)],
    ["matmul, k = 0", matmul(values([40, 0], 5, dtype), values([0, 60], 6, dtype))],
    [
      "gather",
      gather(
        b,
        Int32Array.from({ length: 120 }, (_, i) => (i * 7) % 50),
      ),
    ],
    ["slice", slice(values([40, 60], 7, dtype), [3, 5], [30, 50])],
    ["concat, inner axis", concat([a, values([40, 35], 8, dtype)], 1)],
    ["concat, outer axis", concat([a, values([30, 50], 9, dtype)], 0)],
  ];
}

describe("outputs taken unfilled", () => {
  it("are arrays of the dtype, of their own buffer, filled with the test's value when one is set", () => {
    for (const [dtype, type] of [
      ["float32", Float32Array],
      ["float64", Float64Array],
      ["int32", Int32Array],
    ] as const) {
      for (const size of [0, 3, 1023, 1024, 5000]) {
        const array = allocateUninitialized(dtype, size);
        expect(array).toBeInstanceOf(type);
        expect(array.length).toBe(size);
        expect(array.byteOffset).toBe(0);
        expect(array.buffer.byteLength).toBe(size * type.BYTES_PER_ELEMENT);
      }
    }
    uninitializedFill.value = NaN;
    expect(Array.from(allocateUninitialized("float32", 2000)).every(Number.isNaN)).toBe(true);
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`get every value written by their op's kernel (${dtype})`, () => {
      const zeroed = outputs(dtype);
      uninitializedFill.value = NaN;
      const poisoned = outputs(dtype);
      uninitializedFill.value = null;
      poisoned.forEach(([name, t], i) => {
        expect(t.size, name).toBeGreaterThan(0);
        expect(Array.from(t.data).some(Number.isNaN), name).toBe(false);
        expect(Array.from(t.data), name).toEqual(Array.from(zeroed[i]![1].data));
      });
      expect(Array.from(poisoned[7]![1].data).every((v) => v === 0)).toBe(true); // k = 0 gives zeros
    });
  }
});
