import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { keepYoungGenerationSmall, youngGenerationKeeper } from "../../src/cli/commands/ner/memory.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The young generation's size (MB) in a fresh process after it kept 200,000 small arrays (objects that
 * survive scavenges, what makes V8 grow the space), with or without `keepYoungGenerationSmall` first.
 */
function youngGenerationAfterSurvivors(
  keepSmall: boolean,
  worker: "none" | "started" | "kept" = "none",
): number {
  const script = `
    import { getHeapSpaceStatistics } from "node:v8";
    import { Worker } from "node:worker_threads";
    import { keepYoungGenerationSmall, youngGenerationKeeper } from ${JSON.stringify(join(ROOT, "src/cli/commands/ner/memory.ts"))};
    if (${keepSmall}) keepYoungGenerationSmall();
    let clock = 0;
    const keeper = youngGenerationKeeper(() => clock);
    if (${JSON.stringify(worker)} !== "none") {
      const started = new Worker("0", { eval: true });
      await new Promise((resolve) => started.on("exit", resolve));
    }
    // The training loop calls the keeper after each batch; a clock past its first interval makes it act.
    clock = 250;
    if (${JSON.stringify(worker)} === "kept") keeper();
    const kept = [];
    for (let i = 0; i < 200000; i++) kept.push([i, i + 1, i + 2]);
    const space = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    console.log(kept.length === 200000 ? space.space_size / 1048576 : -1);`;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    env,
    encoding: "utf8",
  });
  expect(result.status, result.stderr).toBe(0);
  return Number(result.stdout.trim());
}

describe("keepYoungGenerationSmall (ner train)", () => {
  const saved = process.env.NODE_OPTIONS;
  afterEach(() => {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  });

  it("leaves the young generation alone when the user sized it", () => {
    process.env.NODE_OPTIONS = "--max-semi-space-size=64";
    expect(keepYoungGenerationSmall()).toBe(false);
    process.env.NODE_OPTIONS = "--semi_space_growth_factor=4";
    expect(keepYoungGenerationSmall()).toBe(false);
  });

  it("keeps it from doubling up to V8's maximum when objects survive", () => {
    const small = youngGenerationAfterSurvivors(true);
    const grown = youngGenerationAfterSurvivors(false);
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThanOrEqual(4);
    expect(grown).toBeGreaterThan(small);
  });

  it("a worker thread's start undoes it, and youngGenerationKeeper sets it again", () => {
    const undone = youngGenerationAfterSurvivors(true, "started");
    const kept = youngGenerationAfterSurvivors(true, "kept");
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(4);
    expect(undone).toBeGreaterThan(kept);
  });

  it("youngGenerationKeeper acts 0.2 s after it is made, then after intervals that double", () => {
    let clock = 1000;
    const acted: number[] = [];
    const keeper = youngGenerationKeeper(
      () => clock,
      () => acted.push(clock - 1000),
    );
    for (; clock <= 1000 + 6400; clock += 50) keeper();
    expect(acted).toEqual([200, 600, 1400, 3000, 6200]);
    // At most a minute apart, however long the run.
    for (clock = 1_000_000; clock < 1_400_000; clock += 1000) keeper();
    const gaps = acted.slice(-4).map((t, k, all) => (k === 0 ? 0 : t - all[k - 1]!));
    expect(gaps.slice(1)).toEqual([60_000, 60_000, 60_000]);
  });
});
