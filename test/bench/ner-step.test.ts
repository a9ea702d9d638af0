import { describe, expect, it } from "vitest";
import { measureNerStep } from "../../bench/ner-step.js";

describe("the NER step benchmark's phases (bench/ner-step.ts --phases)", () => {
  for (const compiled of [false, true]) {
    it(`times each line of the ${compiled ? "compiled" : "eager"} step, in µs per measured step`, () => {
      const phases = new Map<string, number>();
      const perSecond = measureNerStep(32, 0.05, compiled, phases);
      expect(perSecond).toBeGreaterThan(0);
      expect([...phases.keys()]).toEqual([
        "embedding lookup",
        "Linear 250→300 and tanh",
        "Linear 300→9",
        "cross-entropy, zeroGrad",
        "backward",
        "SGD step",
      ]);
      for (const µs of phases.values()) expect(µs > 0 && Number.isFinite(µs)).toBe(true);
      // Per step: the phases lie within the step, so together they take less than its measured time (a sum
      // over all the steps would take as many times more).
      const phasesPerStep = [...phases.values()].reduce((a, b) => a + b, 0);
      const stepMicroseconds = (32 * 1e6) / perSecond;
      expect(phasesPerStep).toBeLessThanOrEqual(stepMicroseconds * 1.001);
    });
  }
});
