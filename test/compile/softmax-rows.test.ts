import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { jsBackend } from "../../src/backend/index.js";
import { softmaxRows } from "../../src/compile/lowering.js";

// A compiled cross-entropy computes the log-softmax (its loss) and the softmax (its gradient) in one pass; both
// must be the backend softmax kernel's values to the bit, as the eager rule gets them from two calls.

const entry = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -30, max: 30, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(-Infinity, 1e30, -1e30, 0, -0) },
);

describe("softmaxRows", () => {
  for (const Type of [Float32Array, Float64Array]) {
    it(`gives the softmax kernel's log-softmax and softmax (${Type.name}, fast-check)`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 1, max: 20 }),
          fc.array(entry, { minLength: 120, maxLength: 120 }),
          (n, c, values) => {
            const x = Type.from(values.slice(0, n * c).concat(new Array(Math.max(0, n * c - 120)).fill(0)));
            const rows = { outer: n, axis: c, inner: 1 };
            const expectedLog = new Float64Array(n * c);
            const expected = new Type(n * c);
            jsBackend.softmax(x, rows, expectedLog, true);
            jsBackend.softmax(x, rows, expected, false);
            const log = new Float64Array(n * c);
            const out = new Type(n * c);
            softmaxRows(x, n, c, log, out, new Float64Array(c));
            expect(Array.from(log)).toEqual(Array.from(expectedLog));
            expect(Array.from(out)).toEqual(Array.from(expected));
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});
