import { afterEach, expect } from "vitest";
import { Tensor, getThreads, setThreads, wasmThresholds, type NestedArray } from "../src/index.js";
import type { MatmulDesc } from "../src/backend/backend.js";

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

/** `length` values in [−1, 1) from a seeded linear congruential generator: the same values on every run. */
export function randomArray<T extends Float32ArrayConstructor | Float64ArrayConstructor>(
  length: number,
  seed: number,
  Type: T,
): InstanceType<T> {
  const out = new Type(length) as InstanceType<T>;
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/** One m×k · k×n product, neither operand transposed (a backend's `matmul` description). */
export function singleProduct(m: number, n: number, k: number): MatmulDesc {
  return { m, n, k, transA: false, transB: false, batch: 1, aOffsets: [0], bOffsets: [0], outOffsets: [0] };
}

/**
 * After each test of the file (or of the `describe` it is called in), puts `wasmThresholds` and the number of
 * threads back as they were when this was called.
 */
export function restoreThreadSettingsAfterEach(): void {
  const saved = { ...wasmThresholds };
  const savedThreads = getThreads();
  afterEach(() => {
    Object.assign(wasmThresholds, saved);
    setThreads(savedThreads);
  });
}
