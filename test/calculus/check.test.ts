/** checkDerivation's progress reports and its refusal of sizes it cannot allocate. */
import { describe, expect, it } from "vitest";
import { ValueError, checkDerivation, derive } from "../../src/index.js";

const NETWORK = { W: "n×m", x: "m", b: "n", u: "n" };

describe("checkDerivation", () => {
  it("reports progress: backprop, then one finite-difference column per entry of each variable", () => {
    const d = derive("u' * tanh(W*x + b)", { wrt: ["W", "b"], shapes: NETWORK });
    const calls: string[] = [];
    const report = checkDerivation(d, {
      sizes: { n: 3, m: 2 },
      onProgress: ({ variable, what, done, total }) => calls.push(`${variable} ${what} ${done}/${total}`),
    });
    expect(report.passed).toBe(true);
    // W is 3 × 2 (6 columns), b has 3 entries
    expect(calls).toEqual([
      "W backprop 1/1",
      ...[1, 2, 3, 4, 5, 6].map((k) => `W finite differences ${k}/6`),
      "b backprop 1/1",
      ...[1, 2, 3].map((k) => `b finite differences ${k}/3`),
    ]);
  });

  it("refuses sizes whose values it cannot allocate, before allocating", () => {
    const d = derive("u' * tanh(W*x + b)", { wrt: "W", shapes: NETWORK });
    expect(() => checkDerivation(d, { sizes: { n: 100000, m: 100000 } })).toThrow(ValueError);
    expect(() => checkDerivation(d, { sizes: { n: 100000, m: 100000 } })).toThrow(
      "W (n × m) would hold 100000 × 100000 = 1.00e+10 numbers",
    );
  });
});
