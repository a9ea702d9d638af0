import { describe, expect, it } from "vitest";
import { WindowModel } from "../../src/ner/model.js";
import { chooseBest, startProgress } from "../../src/ner/train/best.js";
import { resolveTrainingOptions } from "../../src/ner/train/options.js";

const options = resolveTrainingOptions({ patience: 2 });
const scores = (f1: number) => ({ precision: f1, recall: f1, f1, accuracy: f1 });

function model(): WindowModel {
  return new WindowModel({ vocabularySize: 12, wordDimension: 3, windowSize: 1, hiddenSize: 4, tagCount: 3 });
}

/** Sets every weight of `m` to `value`. */
function fill(m: WindowModel, value: number): void {
  for (const tensor of Object.values(m.stateDict({ copy: false }))) tensor._data.fill(value);
}

/** Whether every weight in `state` is `value`. */
const holds = (state: Record<string, { data: ArrayLike<number> }>, value: number): boolean =>
  Object.values(state).every((t) => Array.from(t.data).every((v) => v === value));

describe("chooseBest: the best weights so far", () => {
  it("copies a new best into the arrays of its own previous copy with reuse, into new arrays without", () => {
    for (const reuse of [true, false]) {
      const m = model();
      const progress = startProgress();
      fill(m, 1);
      expect(chooseBest(progress, 1, scores(50), m, options, reuse)).toBe(true);
      const first = progress.bestState!;
      const firstTensors = Object.values(first);
      expect(progress.ownsBestState).toBe(true);
      fill(m, 2);
      expect(chooseBest(progress, 2, scores(40), m, options, reuse)).toBe(false);
      expect(holds(progress.bestState!, 1)).toBe(true);
      expect(chooseBest(progress, 3, scores(60), m, options, reuse)).toBe(true);
      expect(progress.bestEpoch).toBe(3);
      expect(holds(progress.bestState!, 2)).toBe(true);
      if (reuse) {
        expect(progress.bestState).toBe(first);
        Object.values(progress.bestState!).forEach((t, i) => expect(t).toBe(firstTensors[i]));
      } else {
        expect(progress.bestState).not.toBe(first);
        // The previous copy is left as it was (a checkpoint may hold it).
        expect(holds(first, 1)).toBe(true);
      }
      // Never the model's own arrays.
      fill(m, 3);
      expect(holds(progress.bestState!, 2)).toBe(true);
    }
  });

  it("never writes into best weights it did not copy (a resumed run's, from its checkpoint)", () => {
    const m = model();
    const resumed = m.stateDict();
    for (const tensor of Object.values(resumed)) tensor._data.fill(7);
    const progress = { ...startProgress(), bestState: resumed, bestF1: 10, bestEpoch: 1 };
    fill(m, 4);
    expect(chooseBest(progress, 2, scores(20), m, options, true)).toBe(true);
    expect(progress.bestState).not.toBe(resumed);
    expect(holds(resumed, 7)).toBe(true);
    expect(holds(progress.bestState, 4)).toBe(true);
    expect(progress.ownsBestState).toBe(true);
  });
});
