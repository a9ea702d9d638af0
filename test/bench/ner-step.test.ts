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

describe("the NER step benchmark bundled, as `npm run bench` runs it", () => {
  it("prints one JSON line, with the memory profile under --memory, and runs nothing else", async () => {
    const { nerStepCommand } = await import("../../bench/side-by-side.js");
    const { spawnSync } = await import("node:child_process");
    const { command, note } = await nerStepCommand();
    expect(note).toBe("");
    const run = spawnSync(
      process.execPath,
      [...command, "--batch", "32", "--seconds", "0.05", "--threads", "1", "--memory"],
      { encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0);
    // Every module of a bundle shares its import.meta.url: a module's "run as a script" block must not run
    // here (bench/memory.ts's engine probe did, and allocated gigabytes before every step benchmark).
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!) as { batch: number; memory: { stagesMB: Record<string, number> } };
    expect(result.batch).toBe(32);
    expect(Object.keys(result.memory.stagesMB)).toEqual([
      "library loaded",
      "model built",
      "first step",
      "end",
    ]);
  });
});
