/**
 * Stage 2 of a training run: one epoch of minibatch training over the shuffled windows (the lecture's
 * θ_new = θ_old − α ∇_θ J with SGD), reporting progress after each minibatch. With the sentence objective
 * the shuffled units are whole sentences, packed into minibatches of at least `batchSize` windows, and the
 * loss is the CRF's negative log-likelihood per token.
 */
import { ValueError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import type { Random } from "../../tensor/random.js";
import { binaryCrossEntropyWithLogits, crossEntropy } from "../../ops/index.js";
import { crfNegativeLogLikelihood } from "../crf.js";
import { copyWindowRows, type TokenWindows } from "../windows.js";
import { clipGradNorm } from "../../nn/clip.js";
import { compile } from "../../compile/index.js";
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

/**
 * Frequency-aware word dropout: for each word id, the probability α / (α + c) of replacing it by `<unk>`,
 * where c is how often the word is the centre of a training window (each token is the centre of exactly one
 * window, so c is its training count). Special ids get 0.
 */
export function rareWordProbabilities(windows: TokenWindows, alpha: number): Float64Array {
  const wordOf = windows.lookups[0]!;
  const { tokenIds } = windows;
  let largest = Math.max(windows.padding[0]!.before, windows.padding[0]!.after);
  for (let i = 0; i < wordOf.length; i++) largest = Math.max(largest, wordOf[i]!);
  const counts = new Float64Array(largest + 1);
  for (let t = 0; t < windows.count; t++) counts[wordOf[tokenIds[t]!]!]! += 1;
  const probabilities = new Float64Array(largest + 1);
  for (let id = SPECIAL_WORDS.length; id <= largest; id++) {
    // A word seen only beside training centres (c = 0) is dropped as if seen once.
    probabilities[id] = alpha / (alpha + Math.max(1, counts[id]!));
  }
  return probabilities;
}

/** Replaces each word id by `<unk>` (id 0) with its own probability (`rareWordProbabilities`). */
function dropRareWords(words: Int32Array, probabilities: Float64Array, random: Random): void {
  for (let i = 0; i < words.length; i++) {
    const id = words[i]!;
    if (id >= SPECIAL_WORDS.length && random.uniform() < probabilities[id]!) words[i] = 0;
  }
}

/**
 * The sentence objective's minibatches: the window rows of the shuffled sentences one after another
 * (`order`), and where each batch starts in `sentenceOrder` (the last entry is the sentence count). A batch
 * takes whole sentences until it holds at least `batchSize` windows.
 */
function packSentences(
  windows: TokenWindows,
  random: Random,
  batchSize: number,
  order: Int32Array,
): { sentenceOrder: Int32Array; batchStarts: number[] } {
  const sentenceCount = windows.offsets.length - 1;
  const sentenceOrder = new Int32Array(sentenceCount);
  for (let i = 0; i < sentenceCount; i++) sentenceOrder[i] = i;
  random.shuffle(sentenceOrder);
  const batchStarts: number[] = [];
  let row = 0;
  let inBatch = 0;
  for (let i = 0; i < sentenceCount; i++) {
    const s = sentenceOrder[i]!;
    if (inBatch === 0) batchStarts.push(i);
    for (let r = windows.offsets[s]!; r < windows.offsets[s + 1]!; r++) order[row++] = r;
    inBatch += windows.offsets[s + 1]! - windows.offsets[s]!;
    if (inBatch >= batchSize) inBatch = 0;
  }
  batchStarts.push(sentenceCount);
  return { sentenceOrder, batchStarts };
}

/** The tensors and ids of one minibatch. */
interface Batch {
  words: Int32Array;
  casing: Int32Array;
  features: Int32Array[];
  targets: Int32Array;
  /** The sentence objective: where each sentence starts among the batch's windows. */
  sentenceOffsets: Int32Array | null;
  /** The binary objective: the targets (0 or 1) of the batch's windows. */
  binaryTargets: Tensor | null;
}

/** A training step: the eager function, and what runs it (compiled unless the options say otherwise). */
interface TrainingStep {
  eager(batch: Batch): number;
  run(batch: Batch): number;
}

/** Where a run is (for messages): the epoch and the batch of the step being taken. */
interface StepPosition {
  epoch: number;
  batch: number;
}

/** The training step of each run, kept across its epochs (so a compiled step traces once per batch shape). */
const trainingSteps = new WeakMap<TrainingRun, { position: StepPosition; step: TrainingStep }>();

/**
 * One training step on a batch: forward, the loss (checked finite before anything changes), backward,
 * gradient clipping and the optimiser's step. Returns the loss. With `options.compile` (the default) the
 * window objective's step runs through `compile`: traced on the first batch of each shape, then replayed.
 */
function trainingStep(run: TrainingRun): { position: StepPosition; step: TrainingStep } {
  const kept = trainingSteps.get(run);
  if (kept !== undefined) return kept;
  const { options, model, optimizer } = run;
  const where: StepPosition = { epoch: 0, batch: 0 };
  const body = (batch: Batch): Tensor => {
    const logits = model.forward(batch.words, batch.casing, batch.features);
    const loss =
      batch.sentenceOffsets !== null
        ? crfNegativeLogLikelihood(logits, model.crf!, batch.targets, batch.sentenceOffsets, {
            allowed: run.allowed,
          })
        : batch.binaryTargets === null
          ? crossEntropy(logits, batch.targets)
          : binaryCrossEntropyWithLogits(logits, batch.binaryTargets);
    const value = loss.item();
    if (!Number.isFinite(value)) {
      throw new ValueError(
        `trainNer: the training loss became ${value} in epoch ${where.epoch}, batch ${where.batch} (try a smaller learning rate)`,
      );
    }
    optimizer.zeroGrad();
    loss.backward();
    if (options.clipNorm !== null) clipGradNorm(model, options.clipNorm);
    optimizer.step();
    return loss;
  };
  const eager = (batch: Batch): number => body(batch).item();
  const compiled = options.compile ? compile(body) : null;
  const step: TrainingStep = { eager, run: compiled === null ? eager : (batch) => compiled(batch).item() };
  const made = { position: where, step };
  trainingSteps.set(run, made);
  return made;
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
  const order = new Int32Array(count);
  let words = new Int32Array(batchSize * width);
  let casing = new Int32Array(batchSize * width);
  let targets = new Int32Array(batchSize);
  const binaryBatch = new Float32Array(batchSize);
  // The binary targets as a tensor over binaryBatch (made once; the step reads it before the next batch).
  const binaryTensors = new Map<number, Tensor>();
  const binaryTensor = (rows: number): Tensor => {
    let t = binaryTensors.get(rows);
    if (t === undefined) {
      t = new Tensor(rows === batchSize ? binaryBatch : binaryBatch.subarray(0, rows), [rows], "float32");
      binaryTensors.set(rows, t);
    }
    return t;
  };
  const featureBatches = windows.lookups.slice(2).map(() => new Int32Array(batchSize * width));

  const { step, position } = trainingStep(run);
  const rareProbabilities =
    options.rareWordDropout > 0 ? rareWordProbabilities(windows, options.rareWordDropout) : null;
  position.epoch = epoch;
  optimizer.lr = options.lr / (1 + options.lrDecay * (epoch - 1));
  model.train();
  const sentences = model.crf !== null;
  let packed: { sentenceOrder: Int32Array; batchStarts: number[] } | null = null;
  if (sentences) packed = packSentences(windows, random, batchSize, order);
  else {
    for (let i = 0; i < count; i++) order[i] = i;
    random.shuffle(order);
  }
  const batches = packed !== null ? packed.batchStarts.length - 1 : Math.ceil(count / batchSize);
  let nextRow = 0;
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
    const first = nextRow;
    let rows = Math.min(batchSize, count - first);
    // The sentence objective: the batch's sentences and their offsets within the batch.
    let sentenceOffsets: Int32Array | null = null;
    if (packed !== null) {
      const from = packed.batchStarts[b]!;
      const to = packed.batchStarts[b + 1]!;
      sentenceOffsets = new Int32Array(to - from + 1);
      for (let i = from; i < to; i++) {
        const s = packed.sentenceOrder[i]!;
        sentenceOffsets[i - from + 1] =
          sentenceOffsets[i - from]! + windows.offsets[s + 1]! - windows.offsets[s]!;
      }
      rows = sentenceOffsets[to - from]!;
      if (rows * width > words.length) {
        words = new Int32Array(rows * width);
        casing = new Int32Array(rows * width);
        targets = new Int32Array(rows);
        featureBatches.forEach((_, f) => (featureBatches[f] = new Int32Array(rows * width)));
      }
    }
    nextRow += rows;
    const full = rows * width === words.length;
    const batchWords = full ? words : words.subarray(0, rows * width);
    const batchCasing = full ? casing : casing.subarray(0, rows * width);
    const batchFeatures = featureBatches.map((ids) => (full ? ids : ids.subarray(0, rows * width)));
    // The batch's windows, assembled from the tokens' ids.
    copyWindowRows(windows, order, first, rows, [batchWords, batchCasing, ...batchFeatures]);
    for (let r = 0; r < rows; r++) {
      const row = order[first + r]!;
      if (tagSet !== null) targets[r] = windows.tags![row]!;
      else binaryBatch[r] = binaryTargets[row]!;
    }
    if (options.wordDropout > 0) dropWords(batchWords, options.wordDropout, random);
    if (rareProbabilities !== null) dropRareWords(batchWords, rareProbabilities, random);
    const batchTargets = rows === targets.length ? targets : targets.subarray(0, rows);
    position.batch = b + 1;
    const batch: Batch = {
      words: batchWords,
      casing: batchCasing,
      features: batchFeatures,
      targets: batchTargets,
      sentenceOffsets,
      binaryTargets: tagSet === null ? binaryTensor(rows) : null,
    };
    const value = sentenceOffsets !== null ? step.eager(batch) : step.run(batch);
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
