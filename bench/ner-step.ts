/**
 * The benchmark step shared by bench/core.ts and bench/kernels.ts: one training step of the window NER network,
 * written with the public API as a user would — `nn.Embedding` (5 ids per example from a 20,000 × 50 table,
 * row-sparse gradient), `nn.Linear` 250→300, tanh, `nn.Linear` 300→9, `crossEntropy`, backward, `nn.SGD`.
 * The PyTorch peer (bench/peers/pytorch.py) runs the same network and step.
 *
 * Run on its own, it measures one configuration in a process of its own (so that its peak memory is its own)
 * and prints one JSON line:
 *
 *   node --import tsx bench/ner-step.ts --batch 256 --seconds 1 [--warmup 1] [--threads 2] [--compile] [--phases]
 *     [--thread-flops N] [--in-place-flops N] [--update-values N] [--unary-values N] [--row-values N] [--memory]
 *
 * `--warmup S` runs the step for S seconds (and at least five steps) before the measured ones: the engine optimises
 * the step's JavaScript during the first thousand steps or so (see docs/compile.md), and the full bench
 * (bench/core.ts) gives chainrule and PyTorch the same warm-up, one second by default.
 *
 * `--phases` adds the mean time of each phase of the step in µs (the embedding lookup, each layer, the loss,
 * backward, the optimiser's step), read off the clock between the step's lines: where the time goes. Compiled,
 * each line runs its planned kernels as it is reached (a layer's product, bias and tanh at its tanh).
 *
 * `--memory` adds a profile of where the process's memory goes (bench/memory.ts): the resident size once the
 * library is loaded, once the model is built, after the first step and at the end; the largest and smallest
 * ArrayBuffer totals between steps; the collections that ran; the resident memory by kind of mapping at the end
 * (Linux); the process's threads; and the sizes of the WebAssembly memories. Sampling costs a few µs a step.
 *
 * With `--compile` the step is `compile(step)`: traced once, then replayed as a plan (see src/compile/).
 * `--thread-flops` and `--in-place-flops` set `wasmThresholds.threadFlops` / `threadFlopsInPlace` (the sizes from
 * which eager and compiled products split across threads), and `--update-values` sets
 * `wasmThresholds.threadUpdateValues` (the size from which a compiled step's dense optimiser update splits) and
 * `--unary-values` `wasmThresholds.threadUnaryValues` (the same for its tanh) and `--row-values`
 * `wasmThresholds.threadRowValues` (for its embedding's row-sparse update), to measure where splitting pays.
 */
import { pathToFileURL } from "node:url";
import {
  compile,
  crossEntropy,
  nn,
  seed,
  setThreads,
  tensor,
  wasmKernelBuild,
  wasmThresholds,
  type Tensor,
} from "../src/index.js";
import { requireKernels } from "../src/backend/wasm/runtime.js";
import { runningPool } from "../src/backend/wasm/threads.js";
import { MemoryProbe, ownResidentMap, statusField, threadCount } from "./memory.js";
import { rate } from "./util.js";

export const VOCABULARY = 20_000;
export const DIM = 50;
export const HIDDEN = 300;
export const CLASSES = 9;
export const BATCH = 256;
export const LR = 0.01;
/** Batch sizes the benchmarks compare. */
export const BATCHES = [32, 256, 2048] as const;

/** A reproducible batch of word ids [batch, 5] and tags. */
export function nerBatch(step: number, batch = BATCH): { ids: Tensor; targets: Int32Array } {
  const ids = new Int32Array(batch * 5);
  const targets = new Int32Array(batch);
  let state = step * 7919 + 1;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < ids.length; i++) ids[i] = next() % VOCABULARY;
  for (let i = 0; i < batch; i++) targets[i] = next() % CLASSES;
  return { ids: tensor(ids, { shape: [batch, 5] }), targets };
}

/**
 * A fresh model (seeded) and a function running one training step on it; the step returns the loss. With
 * `compiled`, the step (forward, backward and the optimiser's update) runs through `compile`.
 */
export function nerStep(
  batch = BATCH,
  compiled = false,
  phases: Map<string, number> | null = null,
): { step: () => number; parameters: () => Tensor[] } {
  seed(0);
  const embedding = new nn.Embedding(VOCABULARY, DIM, { sparse: true });
  const hidden = new nn.Linear(5 * DIM, HIDDEN);
  const output = new nn.Linear(HIDDEN, CLASSES);
  const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
  const optimizer = new nn.SGD(parameters, { lr: LR });
  const batches = Array.from({ length: 16 }, (_, i) => nerBatch(i, batch));
  let count = 0;
  // With `phases`, the milliseconds each phase took are added up under its name.
  let clock = 0;
  const phase = (name: string): void => {
    if (phases === null) return;
    const now = performance.now();
    phases.set(name, (phases.get(name) ?? 0) + now - clock);
    clock = now;
  };
  const train = (ids: Tensor, targets: Int32Array): Tensor => {
    if (phases !== null) clock = performance.now();
    const x = embedding.forward(ids).reshape([batch, 5 * DIM]);
    phase("embedding lookup");
    const h = hidden.forward(x).tanh();
    phase("Linear 250→300 and tanh");
    const logits = output.forward(h);
    phase("Linear 300→9");
    const loss = crossEntropy(logits, targets);
    optimizer.zeroGrad();
    phase("cross-entropy, zeroGrad");
    loss.backward();
    phase("backward");
    optimizer.step();
    phase("SGD step");
    return loss;
  };
  const run = compiled ? compile(train) : train;
  return {
    step: () => {
      const { ids, targets } = batches[count++ % batches.length]!;
      return run(ids, targets).item();
    },
    parameters: () => parameters,
  };
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

/**
 * Examples per second of one configuration, measured for `seconds` after a warm-up of five steps and at least
 * `warmupSeconds`; with `phases`, the mean µs per step of each phase (over the measured steps) is put in it;
 * with `probe`, memory is sampled (stages "model built", "first step" and "end", and after every step).
 */
export function measureNerStep(
  batch: number,
  seconds: number,
  compiled = false,
  phases: Map<string, number> | null = null,
  warmupSeconds = 0,
  probe: MemoryProbe | null = null,
): number {
  const totals = phases === null ? null : new Map<string, number>();
  const { step } = nerStep(batch, compiled, totals);
  probe?.stage("model built");
  let steps = 0;
  let all = 0;
  const counted = (): number => {
    steps++;
    const loss = step();
    if (probe !== null) {
      if (all++ === 0) probe.stage("first step");
      probe.step();
    }
    return loss;
  };
  // The warm-up's steps are not counted: the totals start with the measured ones.
  const perSecond = rate(
    counted,
    seconds * 1000,
    5,
    () => {
      totals?.clear();
      steps = 0;
    },
    warmupSeconds * 1000,
  );
  if (phases !== null) for (const [name, ms] of totals!) phases.set(name, (1000 * ms) / steps);
  probe?.stage("end");
  return perSecond * batch;
}

/**
 * This process's peak resident memory in MB: VmHWM on Linux (the maxRSS of `process.resourceUsage()` keeps the
 * parent's peak across fork, so a child started by a big benchmark process would report its parent's).
 */
export function peakMemoryMB(): number {
  const kB = statusField("VmHWM");
  return kB !== null ? kB / 1024 : process.resourceUsage().maxRSS / 1024;
}

/** A probe's profile with the resident memory by kind, the threads and the WebAssembly memories' sizes, in MB. */
async function memoryReport(probe: MemoryProbe): Promise<Record<string, unknown>> {
  const round = (mb: number): number => Math.round(mb * 10) / 10;
  const roundAll = (record: object): Record<string, number> =>
    Object.fromEntries(Object.entries(record).map(([key, mb]) => [key, round(mb as number)]));
  const resident = ownResidentMap();
  const profile = await probe.finish();
  const pool = runningPool();
  return {
    stagesMB: roundAll(profile.stages),
    arrayBuffersMB: { peak: round(profile.arrayBuffersPeak), low: round(profile.arrayBuffersLow) },
    collections: profile.collections,
    residentAtEndMB: resident === null ? null : roundAll(resident),
    threads: threadCount(),
    webAssemblyMemoriesMB: {
      kernels: round(requireKernels().memoryBytes / 2 ** 20),
      threadPool: pool === null ? 0 : round(pool.memory.buffer.byteLength / 2 ** 20),
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const batch = option("batch", BATCH);
  const seconds = option("seconds", 1);
  const warmup = option("warmup", 0);
  const threads = option("threads", 0);
  if (threads > 0) setThreads(threads);
  wasmThresholds.threadFlops = option("thread-flops", wasmThresholds.threadFlops);
  wasmThresholds.threadFlopsInPlace = option("in-place-flops", wasmThresholds.threadFlopsInPlace);
  wasmThresholds.threadUpdateValues = option("update-values", wasmThresholds.threadUpdateValues);
  wasmThresholds.threadUnaryValues = option("unary-values", wasmThresholds.threadUnaryValues);
  wasmThresholds.threadRowValues = option("row-values", wasmThresholds.threadRowValues);
  const compiled = process.argv.includes("--compile");
  const phases = process.argv.includes("--phases") ? new Map<string, number>() : null;
  const probe = process.argv.includes("--memory") ? new MemoryProbe() : null;
  probe?.stage("library loaded");
  const perSecond = measureNerStep(batch, seconds, compiled, phases, warmup, probe);
  const maxRssMB = peakMemoryMB();
  const memory = probe === null ? null : await memoryReport(probe);
  console.log(
    JSON.stringify({
      batch,
      threads,
      compiled,
      warmupSeconds: warmup,
      build: wasmKernelBuild(),
      examplesPerSecond: perSecond,
      maxRssMB,
      ...(phases === null ? {} : { microsecondsPerStep: Object.fromEntries(phases) }),
      ...(memory === null ? {} : { memory }),
    }),
  );
}
