import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { judge, prepareFuzzReaders, type FuzzReader } from "./readers.js";

// The short pass of the fuzz suite: a few hundred random and mutated inputs per reader (`npm run fuzz` runs
// 100,000 each, and checks the time limit too). Each must be accepted (and round-trip) or refused with a
// ChainruleError; a failure shows the smallest input fast-check could find.
const RUNS: Record<string, number> = {
  conll: 400,
  glove: 400,
  safetensors: 400,
  "embedding-table": 300,
  "model-directory": 150,
  checkpoint: 150,
  expressions: 200,
  tokenizer: 400,
};

let readers: FuzzReader<never>[] = [];
beforeAll(async () => {
  readers = await prepareFuzzReaders();
});

describe("fuzz: every reader accepts (and round-trips) or refuses cleanly", () => {
  for (const name of Object.keys(RUNS)) {
    it(name, () => {
      const reader = readers.find((r) => r.name === name)!;
      expect(reader).toBeDefined();
      const seen = { accepted: 0, refused: 0 };
      fc.assert(
        fc.property(reader.inputs, (input) => {
          const outcome = judge(reader, input, { timed: false });
          if (outcome.kind === "defect") throw new Error(outcome.problem);
          seen[outcome.kind]++;
        }),
        { numRuns: RUNS[name]!, seed: 12 },
      );
      // The inputs reach both sides of the reader: some are accepted, some refused (the tokenizer takes any text).
      expect(seen.accepted).toBeGreaterThan(0);
      if (name !== "tokenizer") expect(seen.refused).toBeGreaterThan(0);
    });
  }
});
