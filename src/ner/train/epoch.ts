/**
 * Stage 2 of a training run: one epoch of minibatch training over the shuffled windows (the lecture's
 * θ_new = θ_old − α ∇_θ J with SGD), reporting progress after each minibatch.
 */
import { ValueError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import type { Random } from "../../tensor/random.js";
import { binaryCrossEntropyWithLogits, crossEntropy } from "../../ops/index.js";
import { clipGradNorm } from "../../nn/clip.js";
import { SPECIAL_WORDS } from "../vocab.js";
import type { TrainingRun } from "./prepare.js";
import { TrainingInterrupted, type BatchProgress } from "./types.js";

/** What an epoch's training (without the dev evaluation) gives. */
export interface EpochTraining {
  /** Mean training loss over the epoch's windows. */
  loss: number;
  /** The learning rate used. */
  lr: number;
  /** Windows seen. */
  examples: number;
  /** Seconds of training. */
  seconds: number;
}

export interface EpochHooks {
  onBatch?: (progress: BatchProgress) => void;
  now: () => number;
  signal?: AbortSignal;
}

/** How often (milliseconds) a run with an abort signal lets the event loop deliver it. */
const YIELD_INTERVAL = 200;

/** Replaces word ids by `<unk>` (id 0) with probability p, leaving the padding ids alone. */
function dropWords(words: Int32Array, p: number, random: Random): void {
  for (let i = 0; i < words.length; i++) {
    if (words[i]! >= SPECIAL_WORDS.length && random.uniform() < p) words[i] = 0;
  }
}

/** Lets timers and signals run (a macrotask turn), in Node and in browsers. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Trains epoch `epoch` (1-based): the learning rate of the epoch, a fresh shuffle, then every minibatch
 * forward, backward and one optimiser step. Throws a ValueError if the loss stops being finite, and a
 * {@link TrainingInterrupted} (with `completedEpochs`) when the signal aborts.
 */
export async function trainEpoch(
  run: TrainingRun,
  epoch: number,
  completedEpochs: number,
  hooks: EpochHooks,
): Promise<EpochTraining> {
  const { options, model, optimizer, random, windows, tagSet, binaryTargets } = run;
  const { batchSize, epochs } = options;
  const { now, signal } = hooks;
  const count = windows.count;
  const width = windows.width;
  const batches = Math.ceil(count / batchSize);
  const order = new Int32Array(count);
  const words = new Int32Array(batchSize * width);
  const casing = new Int32Array(batchSize * width);
  const targets = new Int32Array(batchSize);
  const binaryBatch = new Float32Array(batchSize);

  optimizer.lr = options.lr / (1 + options.lrDecay * (epoch - 1));
  model.train();
  for (let i = 0; i < count; i++) order[i] = i;
  random.shuffle(order);
  const started = now();
  let lastYield = started;
  let lossSum = 0;
  let seen = 0;
  for (let b = 0; b < batches; b++) {
    if (signal !== undefined) {
      if (now() - lastYield >= YIELD_INTERVAL) {
        await yieldToEventLoop();
        lastYield = now();
      }
      if (signal.aborted) throw new TrainingInterrupted(completedEpochs);
    }
    const first = b * batchSize;
    const rows = Math.min(batchSize, count - first);
    const batchWords = rows === batchSize ? words : words.subarray(0, rows * width);
    const batchCasing = rows === batchSize ? casing : casing.subarray(0, rows * width);
    for (let r = 0; r < rows; r++) {
      const row = order[first + r]!;
      batchWords.set(windows.words.subarray(row * width, (row + 1) * width), r * width);
      batchCasing.set(windows.casing.subarray(row * width, (row + 1) * width), r * width);
      if (tagSet !== null) targets[r] = windows.tags![row]!;
      else binaryBatch[r] = binaryTargets[row]!;
    }
    if (options.wordDropout > 0) dropWords(batchWords, options.wordDropout, random);
    const logits = model.forward(batchWords, batchCasing);
    const loss =
      tagSet !== null
        ? crossEntropy(logits, rows === batchSize ? targets : targets.subarray(0, rows))
        : binaryCrossEntropyWithLogits(
            logits,
            new Tensor(
              rows === batchSize ? binaryBatch.slice() : binaryBatch.slice(0, rows),
              [rows],
              "float32",
            ),
          );
    const value = loss.item();
    if (!Number.isFinite(value)) {
      throw new ValueError(
        `trainNer: the training loss became ${value} in epoch ${epoch}, batch ${b + 1} (try a smaller learning rate)`,
      );
    }
    optimizer.zeroGrad();
    loss.backward();
    if (options.clipNorm !== null) clipGradNorm(model, options.clipNorm);
    optimizer.step();
    lossSum += value * rows;
    seen += rows;
    hooks.onBatch?.({
      epoch,
      epochs,
      batch: b + 1,
      batches,
      examples: seen,
      totalExamples: count,
      loss: lossSum / seen,
      seconds: (now() - started) / 1000,
    });
  }
  optimizer.zeroGrad();
  return {
    loss: lossSum / Math.max(1, seen),
    lr: optimizer.lr,
    examples: seen,
    seconds: (now() - started) / 1000,
  };
}
