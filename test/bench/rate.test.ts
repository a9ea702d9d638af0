import { describe, expect, it } from "vitest";
import { rate } from "../../bench/util.js";

describe("the benchmarks' timing loop (bench/util.ts rate)", () => {
  it("warms up for a number of calls and for at least the given time, then counts only the measured calls", () => {
    const times: number[] = [];
    let warmedAt = -1;
    const perSecond = rate(
      () => times.push(performance.now()),
      20,
      3,
      () => (warmedAt = times.length),
      40,
    );
    expect(warmedAt).toBeGreaterThanOrEqual(3);
    // The warm-up lasted at least 40 ms: the first measured call started about 40 ms or more after the first
    // call (the clock started a few µs before that call).
    expect(times[warmedAt]! - times[0]!).toBeGreaterThanOrEqual(39);
    const measured = times.length - warmedAt;
    const elapsed = times[times.length - 1]! - times[warmedAt]!;
    // calls / elapsed, where elapsed runs from before the first measured call to after the last one.
    expect(perSecond).toBeLessThanOrEqual((measured / Math.max(elapsed, 20)) * 1000 * 1.0001);
    expect(perSecond).toBeGreaterThan(0);
  });

  it("warms up for exactly the number of calls when no time is given", () => {
    let calls = 0;
    let warmedAt = -1;
    rate(
      () => calls++,
      1,
      5,
      () => (warmedAt = calls),
    );
    expect(warmedAt).toBe(5);
  });
});
