import { describe, expect, it, vi } from "vitest";
import { RowSparse, gather, gradients, randn, seed, sum, tensor } from "../../src/index.js";

// What the optimisers' sparse path relies on (src/autograd/engine.ts): a row-sparse gradient reaches its leaf
// as it is, never made dense on the way (which would cost O(rows × columns) per backward).
describe("the engine keeps an embedding's gradient row-sparse", () => {
  it("backward never builds the dense [vocabulary × dim] gradient", () => {
    seed(16);
    const table = randn([100000, 8], { requiresGrad: true });
    const toDense = vi.spyOn(RowSparse.prototype, "toDense");
    const out = gather(table, [5, 9, 5], 0, { sparseGrad: true });
    sum(out.tanh()).backward();
    expect(toDense).not.toHaveBeenCalled();
    toDense.mockRestore();
    expect(Array.from(table.sparseGrad!.indices)).toEqual([5, 9, 5]);
  });

  it("still densifies where a dense gradient is asked for: hooks and functional gradients", () => {
    const table = tensor(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      { requiresGrad: true },
    );
    const [dense] = gradients([sum(gather(table, [2, 2], 0, { sparseGrad: true }))], [table]);
    expect(dense!.toArray()).toEqual([
      [0, 0],
      [0, 0],
      [2, 2],
    ]);
    const seen: number[][] = [];
    table.registerHook((g) => {
      seen.push(Array.from(g.data));
    });
    sum(gather(table, [0], 0, { sparseGrad: true })).backward();
    expect(seen).toEqual([[1, 1, 0, 0, 0, 0]]);
    expect(Array.from(table.grad!.data)).toEqual([1, 1, 0, 0, 0, 0]);
  });
});
