import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tensor } from "../../src/index.js";
import { RowSparse, Tensor, coalesceRows } from "../../src/tensor/tensor.js";

/** Coalescing by definition: each distinct row once, ascending, its values summed from 0 in position order. */
function reference(indices: readonly number[], values: readonly number[][]): Map<number, number[]> {
  const rows = new Map<number, number[]>();
  indices.forEach((row, i) => {
    const sum = rows.get(row) ?? values[i]!.map(() => 0);
    values[i]!.forEach((v, j) => (sum[j] = Math.fround(sum[j]! + v)));
    rows.set(row, sum);
  });
  return new Map([...rows].sort(([a], [b]) => a - b));
}

describe("RowSparse.coalesce", () => {
  it("sums repeated rows in the order they appear and sorts the rows (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: -3, max: 60 }), { maxLength: 80 }),
        fc.integer(),
        (width, rawRows, salt) => {
          const indices = rawRows.map((r) => Math.abs(r));
          const values = indices.map((_, i) =>
            Array.from({ length: width }, (_, j) => Math.fround(Math.sin(i * 7.3 + j * 1.1 + salt) * 1e3)),
          );
          const sparse = new RowSparse(
            [61, width],
            Int32Array.from(indices),
            tensor(values.length === 0 ? new Float32Array(0) : values, { shape: [indices.length, width] }),
          );
          const coalesced = sparse.coalesce();
          const expected = reference(indices, values);
          expect(coalesced.coalesced).toBe(true);
          expect(Array.from(coalesced.indices)).toEqual([...expected.keys()]);
          expect(Array.from(coalesced.values.data)).toEqual([...expected.values()].flat());
          expect(coalesced.coalesce()).toBe(coalesced);
          // into buffers longer than needed, filled with leftovers of an earlier use
          const n = indices.length;
          const into = sparse.coalesceInto(
            new Int32Array(n + 3).fill(7),
            new Int32Array(n + 1).fill(-1),
            new Float32Array((n + 2) * width).fill(9),
          );
          expect(into.coalesced).toBe(true);
          expect(Array.from(into.indices)).toEqual([...expected.keys()]);
          expect(Array.from(into.values.data)).toEqual([...expected.values()].flat());
          expect(sparse.coalesced).toBe(false);
        },
      ),
    );
  });

  it("coalesces gradients of tables of every size in turn: small, larger, and too large to keep marks for", () => {
    // The marks coalesce() keeps between calls are grown for a larger table and left all −1 after each call;
    // a table of more than 2²² rows is coalesced by sorting instead.
    for (const rows of [5, 300, 7, 2 ** 22 + 5, 40]) {
      const indices = Int32Array.from([rows - 1, 0, rows - 1, 3 % rows, 0]);
      const values = tensor(Float32Array.from([1, 2, 4, 8, 16]), { shape: [5, 1] });
      const coalesced = new RowSparse([rows, 1], indices, values).coalesce();
      const expected = reference(Array.from(indices), [[1], [2], [4], [8], [16]]);
      expect(Array.from(coalesced.indices)).toEqual([...expected.keys()]);
      expect(Array.from(coalesced.values.data)).toEqual([...expected.values()].flat());
    }
  });

  it("coalesceRows gives the distinct rows ascending and each position's slot among them (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 200 }), (rows) => {
        const indices = Int32Array.from(rows);
        const unique = new Int32Array(indices.length);
        const slot = new Int32Array(indices.length);
        const count = coalesceRows(indices, unique, slot);
        const distinct = [...new Set(rows)].sort((a, b) => a - b);
        expect(Array.from(unique.subarray(0, count))).toEqual(distinct);
        rows.forEach((row, i) => expect(unique[slot[i]!]).toBe(row));
      }),
    );
  });

  it("coalesceRows with a table of marks gives the same, leaves the marks at −1, and sorts for a row outside (property)", () => {
    const mark = new Int32Array(50).fill(-1);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 49 }), fc.integer({ min: -3, max: 60 })), {
          maxLength: 200,
        }),
        (rows) => {
          const indices = Int32Array.from(rows);
          const unique = new Int32Array(indices.length);
          const slot = new Int32Array(indices.length);
          const count = coalesceRows(indices, unique, slot, mark);
          const distinct = [...new Set(rows)].sort((a, b) => a - b);
          expect(Array.from(unique.subarray(0, count))).toEqual(distinct);
          rows.forEach((row, i) => expect(unique[slot[i]!]).toBe(row));
          expect(mark.every((m) => m === -1)).toBe(true);
        },
      ),
    );
  });

  it("coalesceRows with marks sorts rows close together and far apart alike, call after call (property)", () => {
    // Rows within a narrow span are sorted by setting and scanning bits kept between calls, rows spread thin by
    // the engine's sort: a sequence of calls on tables of several sizes, with rows bunched at any offset (a span
    // starting and ending anywhere within its words) or spread over the table, must each give the distinct rows
    // ascending. A bit left set by one call would add a row to the next.
    const tables = [50, 5_000, 300_000];
    const marks = tables.map((rows) => new Int32Array(rows).fill(-1));
    const call = fc.record({
      table: fc.integer({ min: 0, max: 2 }),
      start: fc.nat(),
      width: fc.integer({ min: 1, max: 3_000 }),
      spread: fc.boolean(),
      picks: fc.array(fc.nat(), { maxLength: 150 }),
    });
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 6 }), (calls) => {
        for (const { table, start, width, spread, picks } of calls) {
          const rows = tables[table]!;
          const from = start % rows;
          const span = spread ? rows : Math.min(width, rows - from);
          const indices = Int32Array.from(picks, (p) => (spread ? p % rows : from + (p % span)));
          const unique = new Int32Array(indices.length);
          const slot = new Int32Array(indices.length);
          const count = coalesceRows(indices, unique, slot, marks[table]);
          const distinct = [...new Set(indices)].sort((a, b) => a - b);
          expect(Array.from(unique.subarray(0, count))).toEqual(distinct);
          indices.forEach((row, i) => expect(unique[slot[i]!]).toBe(row));
          expect(marks[table]!.every((m) => m === -1)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("coalesceInto with marks equals coalesce, summing repeated rows in position order", () => {
    const indices = Int32Array.from([7, 2, 7, 0, 2, 7]);
    const values = new Tensor(
      Float32Array.from({ length: 12 }, (_, i) => 0.1 * (i + 1) ** 2),
      [6, 2],
      "float32",
    );
    const sparse = new RowSparse([8, 2], indices, values);
    const expected = sparse.coalesce();
    const mark = new Int32Array(8).fill(-1);
    const into = sparse.coalesceInto(new Int32Array(6), new Int32Array(6), new Float32Array(12), mark);
    expect(Array.from(into.indices)).toEqual([0, 2, 7]);
    expect(Array.from(into.indices)).toEqual(Array.from(expected.indices));
    expect(Array.from(into.values.data)).toEqual(Array.from(expected.values.data));
    expect(into.coalesced).toBe(true);
    expect(Array.from(mark)).toEqual(new Array(8).fill(-1));
  });
});
