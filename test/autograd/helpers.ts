import { expect } from "vitest";
import { Random, Tensor, tensor, type NestedArray } from "../../src/index.js";

/** A float64 tensor of `shape` with values from `random`: normal, or uniform in [low, high). */
export function randomTensor(
  random: Random,
  shape: readonly number[],
  range?: { low: number; high: number },
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: size }, () =>
    range ? range.low + (range.high - range.low) * random.uniform() : random.normal(),
  );
  return tensor(values, { dtype: "float64", shape });
}

/** Σ aᵢ·bᵢ over two tensors of one size, in double precision. */
export function dot(a: Tensor, b: Tensor): number {
  expect(a.size).toBe(b.size);
  let total = 0;
  for (let i = 0; i < a.size; i++) total += a.data[i]! * b.data[i]!;
  return total;
}

function flat(value: Tensor | NestedArray): number[] {
  if (value instanceof Tensor) return Array.from(value.data);
  return [value].flat(Infinity as 1) as number[];
}

/** Expects equal shapes (when both are tensors) and values within `tolerance`, relative for large values. */
export function expectClose(
  actual: Tensor | NestedArray,
  expected: Tensor | NestedArray,
  tolerance = 1e-9,
): void {
  if (actual instanceof Tensor && expected instanceof Tensor) expect(actual.shape).toEqual(expected.shape);
  const a = flat(actual);
  const e = flat(expected);
  expect(a.length).toBe(e.length);
  for (let i = 0; i < a.length; i++) {
    const error = Math.abs(a[i]! - e[i]!);
    expect(error, `element ${i}: ${a[i]} vs expected ${e[i]}`).toBeLessThanOrEqual(
      tolerance * Math.max(1, Math.abs(e[i]!)),
    );
  }
}

/** A float64 tensor from nested arrays. */
export function f64(values: NestedArray, requiresGrad = false): Tensor {
  return tensor(values, { dtype: "float64", requiresGrad });
}
