import { expect } from "vitest";
import { Tensor, type NestedArray } from "../src/index.js";

/** Expects `actual` to hold `expected` (nested arrays or a number) up to `tolerance` per element. */
export function expectClose(actual: Tensor | number, expected: NestedArray | Tensor, tolerance = 1e-6): void {
  const a = typeof actual === "number" ? [actual] : Array.from(actual.data);
  const e =
    expected instanceof Tensor ? Array.from(expected.data) : ([expected].flat(Infinity as 1) as number[]);
  if (actual instanceof Tensor && expected instanceof Tensor) expect(actual.shape).toEqual(expected.shape);
  expect(a.length).toBe(e.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(e[i])) expect(a[i]).toBeNaN();
    else
      expect(Math.abs(a[i]! - e[i]!), `element ${i}: ${a[i]} vs ${e[i]}`).toBeLessThanOrEqual(
        tolerance * Math.max(1, Math.abs(e[i]!)),
      );
  }
}
