import { expect } from "vitest";
import type { Tensor } from "../../src/index.js";

/** Expects every value of `actual` to be within `tolerance` (relative above 1) of `expected`. */
export function expectValues(
  actual: Tensor | ArrayLike<number>,
  expected: readonly number[],
  tolerance = 1e-6,
): void {
  const values = Array.from("data" in actual ? (actual as Tensor).data : (actual as ArrayLike<number>));
  expect(values.length).toBe(expected.length);
  values.forEach((v, i) => {
    expect(Math.abs(v - expected[i]!), `element ${i}: ${v} vs ${expected[i]}`).toBeLessThanOrEqual(
      tolerance * Math.max(1, Math.abs(expected[i]!)),
    );
  });
}

/** The raw bit patterns of a float array (for bit-for-bit comparisons that also tell −0 from 0). */
export function bits(values: Float32Array | Float64Array): number[] {
  const copy = values instanceof Float32Array ? new Float32Array(values) : new Float64Array(values);
  return Array.from(new Uint32Array(copy.buffer));
}
