/**
 * Two builds of the NER benchmark step in one process, taking turns: this checkout's and another's (a `git
 * worktree` of the commit before a change). A change of 1–3 % is smaller than the drift of this kind of machine
 * between two processes run one after the other (5–25 % over minutes), so separate runs cannot show it; blocks
 * of steps that alternate in one process see the same drift.
 *
 *   node --import tsx bench/ab.ts --baseline DIR [--batch 256] [--blocks 60] [--eager] [--threads 2]
 *
 * Each checkout's `bench/ner-step.ts` is bundled (esbuild) and imported with its own copy of the library (its own
 * thread pool and WebAssembly memory); both steps are warmed up for 1.5 s, then run in blocks of about 10,240 examples (at
 * least five steps), the two in turn, the first of each pair alternating. Before each block, two untimed steps
 * wake the build's worker (the other build's slept meanwhile). Prints the median and mean µs per step of each
 * build, the blocks this checkout won and the ratio of the medians (above 1: this checkout is faster). Figures
 * only, never asserted.
 */
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { NODE_BUNDLE } from "./util.js";

interface StepModule {
  nerStep(batch: number, compiled: boolean): { step: () => number };
}
interface LibraryModule {
  setThreads(n: number): void;
}

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function median(values: readonly number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/**
 * The checkout's step and `setThreads`, bundled into one module as the published library is (run through tsx's
 * loader module by module instead, the step at batch 32 took about 1.5 times as long, both builds alike).
 */
async function load(
  root: string,
  name: string,
  threads: number,
  batch: number,
  compiled: boolean,
): Promise<() => number> {
  const outfile = join(tmpdir(), `chainrule-ab-${process.pid}-${name}.mjs`);
  await build({
    stdin: {
      contents:
        'export { nerStep } from "./bench/ner-step.ts";\nexport { setThreads } from "./src/index.ts";\n',
      resolveDir: root,
      loader: "ts",
    },
    ...NODE_BUNDLE,
    outfile,
    logLevel: "error",
  });
  try {
    const module = (await import(pathToFileURL(outfile).href)) as StepModule & LibraryModule;
    module.setThreads(threads);
    return module.nerStep(batch, compiled).step;
  } finally {
    rmSync(outfile, { force: true });
  }
}

async function main(): Promise<void> {
  const baseline = option("baseline");
  if (baseline === undefined || !existsSync(resolve(baseline, "bench", "ner-step.ts"))) {
    console.error(
      "usage: node --import tsx bench/ab.ts --baseline DIR (a checkout with bench/ner-step.ts) …",
    );
    process.exit(2);
  }
  const batch = Number(option("batch") ?? 256);
  const blocks = Number(option("blocks") ?? 60);
  const threads = Number(option("threads") ?? 2);
  const compiled = !process.argv.includes("--eager");
  const here = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
  const names = [`baseline (${baseline})`, "this checkout"];
  const steps = [
    await load(resolve(baseline), "baseline", threads, batch, compiled),
    await load(here, "this", threads, batch, compiled),
  ];
  const perBlock = Math.max(5, Math.round(10_240 / batch));
  for (const step of steps) {
    const start = performance.now();
    while (performance.now() - start < 1500) step();
  }
  const times: number[][] = [[], []];
  for (let b = 0; b < blocks; b++) {
    for (let turn = 0; turn < 2; turn++) {
      const i = (b + turn) % 2;
      const step = steps[i]!;
      step();
      step();
      const start = performance.now();
      for (let s = 0; s < perBlock; s++) step();
      times[i]!.push(((performance.now() - start) / perBlock) * 1000);
    }
  }
  const mode = `${compiled ? "compiled" : "eager"}, batch ${batch}, ${threads} thread${threads === 1 ? "" : "s"}`;
  console.log(`${mode}: ${blocks} blocks of ${perBlock} steps each`);
  names.forEach((name, i) => {
    const mean = times[i]!.reduce((a, b) => a + b, 0) / blocks;
    console.log(`${name}: median ${median(times[i]!).toFixed(1)} µs a step, mean ${mean.toFixed(1)}`);
  });
  const won = times[1]!.filter((t, b) => t < times[0]![b]!).length;
  const ratio = median(times[0]!) / median(times[1]!);
  console.log(`this checkout faster in ${won} of ${blocks} blocks; ratio of the medians ${ratio.toFixed(3)}`);
  process.exit(0);
}

await main();
