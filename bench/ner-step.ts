/**
 * The benchmark step shared by bench/core.ts and bench/kernels.ts: one training step of the window NER network,
 * written with the public API as a user would — `nn.Embedding` (5 ids per example from a 20,000 × 50 table,
 * row-sparse gradient), `nn.Linear` 250→300, tanh, `nn.Linear` 300→9, `crossEntropy`, backward, `nn.SGD`.
 * The PyTorch peer (bench/peers/pytorch.py) runs the same network and step.
 *
 * Run on its own, it measures one configuration in a process of its own (so that its peak memory is its own)
 * and prints one JSON line:
 *
 *   node --import tsx bench/ner-step.ts --batch 256 --seconds 1 [--threads 2] [--compile]
 *     [--thread-flops N] [--in-place-flops N] [--update-values N] [--unary-values N] [--row-values N]
 *
 * With `--compile` the step is `compile(step)`: traced once, then replayed as a plan (see src/compile/).
 * `--thread-flops` and `--in-place-flops` set `wasmThresholds.threadFlops` / `threadFlopsInPlace` (the sizes from
 * which eager and compiled products split across threads), and `--update-values` sets
 * `wasmThresholds.threadUpdateValues` (the size from which a compiled step's dense optimiser update splits) and
 * `--unary-values` `wasmThresholds.threadUnaryValues` (the same for its tanh) and `--row-values`
 * `wasmThresholds.threadRowValues` (for its embedding's row-sparse update), to measure where splitting pays.
 */
import { readFileSync } from "node:fs";
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
export function nerStep(batch = BATCH, compiled = false): { step: () => number; parameters: () => Tensor[] } {
  seed(0);
  const embedding = new nn.Embedding(VOCABULARY, DIM, { sparse: true });
  const hidden = new nn.Linear(5 * DIM, HIDDEN);
  const output = new nn.Linear(HIDDEN, CLASSES);
  const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
  const optimizer = new nn.SGD(parameters, { lr: LR });
  const batches = Array.from({ length: 16 }, (_, i) => nerBatch(i, batch));
  let count = 0;
  const train = (ids: Tensor, targets: Int32Array): Tensor => {
    const x = embedding.forward(ids).reshape([batch, 5 * DIM]);
    const logits = output.forward(hidden.forward(x).tanh());
    const loss = crossEntropy(logits, targets);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
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

/** Examples per second of one configuration, measured for `seconds` after a warm-up. */
export function measureNerStep(batch: number, seconds: number, compiled = false): number {
  const { step } = nerStep(batch, compiled);
  return rate(step, seconds * 1000, 5) * batch;
}

/**
 * This process's peak resident memory in MB: VmHWM on Linux (the maxRSS of `process.resourceUsage()` keeps the
 * parent's peak across fork, so a child started by a big benchmark process would report its parent's).
 */
export function peakMemoryMB(): number {
  try {
    const match = /VmHWM:\s*(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const batch = option("batch", BATCH);
  const seconds = option("seconds", 1);
  const threads = option("threads", 0);
  if (threads > 0) setThreads(threads);
  wasmThresholds.threadFlops = option("thread-flops", wasmThresholds.threadFlops);
  wasmThresholds.threadFlopsInPlace = option("in-place-flops", wasmThresholds.threadFlopsInPlace);
  wasmThresholds.threadUpdateValues = option("update-values", wasmThresholds.threadUpdateValues);
  wasmThresholds.threadUnaryValues = option("unary-values", wasmThresholds.threadUnaryValues);
  wasmThresholds.threadRowValues = option("row-values", wasmThresholds.threadRowValues);
  const compiled = process.argv.includes("--compile");
  const perSecond = measureNerStep(batch, seconds, compiled);
  const maxRssMB = peakMemoryMB();
  console.log(
    JSON.stringify({
      batch,
      threads,
      compiled,
      build: wasmKernelBuild(),
      examplesPerSecond: perSecond,
      maxRssMB,
    }),
  );
}
