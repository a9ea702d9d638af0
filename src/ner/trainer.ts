/**
 * Training the window classifier: minibatch SGD (the lecture's θ_new = θ_old − α ∇_θ J) by default, Adam or
 * AdaGrad on request; seeded shuffling; epochs with early stopping on the dev F1 and the best model kept;
 * per-epoch records through callbacks; checkpoints from which an interrupted run resumes bit for bit.
 *
 * Browser-safe: data comes in as sentences and pretrained vectors as a table; checkpoints go out as objects
 * (or bytes, {@link checkpointToBytes}) through a callback. The CLI writes them to files.
 *
 * One seed fixes everything random: the initialisation, the order of the examples in every epoch, word
 * dropout and the dropout masks all draw from one generator, whose state is part of a checkpoint.
 */
import { FormatError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { Random } from "../tensor/random.js";
import { binaryCrossEntropyWithLogits, crossEntropy } from "../ops/index.js";
import { parse, serialize } from "../nn/safetensors.js";
import { AdaGrad, Adam, SGD, type Optimizer } from "../nn/optim.js";
import { clipGradNorm } from "../nn/clip.js";
import {
  WindowModel,
  checkActivation,
  windowModelConfig,
  type Activation,
  type WindowModelConfig,
} from "./model.js";
import { Vocabulary, TagSet, SPECIAL_WORDS, type VocabularyJSON, type TagSetJSON } from "./vocab.js";
import { buildWindows } from "./windows.js";
import { checkTagScheme, convertTags, detectScheme, entityTypes, splitTag, type TagScheme } from "./tags.js";
import { conlleval } from "./conlleval.js";
import { checkDecoding, type Decoding } from "./decode.js";
import { NerTagger, checksumOf } from "./tagger.js";
import type { EmbeddingTable } from "./embeddings.js";

export type OptimizerName = "sgd" | "adam" | "adagrad";

export const OPTIMIZERS: readonly OptimizerName[] = ["sgd", "adam", "adagrad"];

/** A sentence with gold tags (e.g. a `ConllSentence`). */
export interface LabelledSentence {
  readonly tokens: readonly string[];
  readonly tags: readonly string[];
}

/** Hyperparameters of a training run. Every field has a default. */
export interface NerTrainingOptions {
  /** w: words on each side of the centre word (default 2: windows of 5). */
  windowSize?: number;
  /** d: word vector length (default 50, or the pretrained vectors' dimension). */
  wordDimension?: number;
  /** c: casing vector length (default 5; 0 leaves out the casing features). */
  casingDimension?: number;
  /** Hidden units (default 300). */
  hiddenSize?: number;
  /** f in h = f(Wx + b) (default tanh). */
  activation?: Activation;
  /** Dropout probability on h (default 0). */
  dropout?: number;
  /** Dropout probability on the window vector x (default 0). */
  inputDropout?: number;
  /** Standard deviation of random word vectors (default 0.1). */
  embeddingScale?: number;
  /** Train the lecture's binary classifier for this entity type instead of the softmax over all tags. */
  binary?: string | null;
  /** Keep words seen at least this often in the training data (default 1). */
  minCount?: number;
  /** Lower-case words (default true; the casing features keep the capitalisation). */
  lowercase?: boolean;
  /** Map every digit to 0 (default true). */
  normalizeDigits?: boolean;
  /**
   * With pretrained vectors, add up to this many words of the pretrained table (in file order, frequent
   * words first in GloVe) to the vocabulary besides the training words (default: all of them).
   */
  pretrainedWords?: number;
  /** The scheme the model's outputs use: "IOBES" (default) or the data's own ("data"). */
  trainingScheme?: TagScheme | "data";
  /** How tags are read off the per-token scores: "viterbi" (default) or "greedy". */
  decoding?: Decoding;
  /** "sgd" (default), "adam" or "adagrad". */
  optimizer?: OptimizerName;
  /** Learning rate α (default: 0.1 for SGD, 0.001 for Adam, 0.05 for AdaGrad). */
  lr?: number;
  /** Inverse-time decay per epoch: α_e = α / (1 + lrDecay · (e − 1)) in epoch e (default 0). */
  lrDecay?: number;
  /** Momentum for SGD (default 0: the lecture's plain update). */
  momentum?: number;
  /** L2 penalty (default 0). */
  weightDecay?: number;
  /** Rescale the gradients so that their joint norm is at most this (default: no clipping). */
  clipNorm?: number | null;
  /** Windows per minibatch (default 32). */
  batchSize?: number;
  /** Maximum number of epochs (default 10). */
  epochs?: number;
  /** Stop after this many epochs without a better dev F1 (default 3; 0 never stops early). */
  patience?: number;
  /** Seed of the run's random generator (default 0). */
  seed?: number;
  /** Probability of replacing a training word by `<unk>` in a window (default 0). */
  wordDropout?: number;
}

/** The options with every default filled in (stored in checkpoints and in the model's config). */
export type ResolvedTrainingOptions = Required<
  Omit<NerTrainingOptions, "binary" | "clipNorm" | "pretrainedWords">
> & {
  binary: string | null;
  clipNorm: number | null;
  pretrainedWords: number | null;
};

/** Scores on the dev set after an epoch (percentages, 0–100). */
export interface DevScores {
  /** Entity-level (conlleval) for the softmax model; per token, of the positive class, for the binary one. */
  precision: number;
  recall: number;
  f1: number;
  /** Token accuracy (whole tags for the softmax model, positive/negative for the binary one). */
  accuracy: number;
}

/** What happened in one epoch. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's windows. */
  loss: number;
  /** The learning rate used in the epoch. */
  lr: number;
  /** Training windows seen. */
  examples: number;
  /** Training time (seconds), without the dev evaluation. */
  seconds: number;
  examplesPerSecond: number;
  /** Time of the dev evaluation (seconds). */
  evaluationSeconds: number;
  /** Dev scores, or null without a dev set. */
  dev: DevScores | null;
  /** True if this epoch's model is the best so far (and is the one kept). */
  best: boolean;
}

/** Progress within an epoch, reported after each minibatch. */
export interface BatchProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Windows done in this epoch. */
  examples: number;
  /** Windows in an epoch. */
  totalExamples: number;
  /** Mean loss so far in this epoch. */
  loss: number;
  /** Seconds since the epoch started. */
  seconds: number;
}

/** A snapshot from which training continues exactly: JSON-able state plus named tensors. */
export interface TrainingCheckpoint {
  state: CheckpointState;
  /** `model.<name>` (current weights), `best.<name>` (best weights so far), `optimizer.<name>`. */
  tensors: Record<string, Tensor>;
}

export interface CheckpointState {
  format: "chainrule-ner-checkpoint";
  version: 1;
  options: ResolvedTrainingOptions;
  modelConfig: WindowModelConfig;
  vocabulary: VocabularyJSON;
  tags: TagSetJSON | null;
  scheme: TagScheme;
  trainingScheme: TagScheme;
  /** A checksum of the training sentences, to refuse resuming on other data. */
  dataFingerprint: string;
  epochsCompleted: number;
  bestEpoch: number;
  bestF1: number;
  epochsWithoutImprovement: number;
  /** True once early stopping triggered: there is nothing left to do. */
  finished: boolean;
  /** The random generator's state after the last completed epoch. */
  random: (number | null)[];
  history: EpochRecord[];
  /** Pretrained vector statistics of the run (informational). */
  pretrained: { words: number; found: number; dimension: number } | null;
}

export interface TrainingHooks {
  /** Called after each minibatch. */
  onBatch?: (progress: BatchProgress) => void;
  /** Called after each epoch (after its dev evaluation). */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /**
   * Called when an epoch gives the best dev F1 so far (every epoch without a dev set), with a tagger over the
   * model as it is now: the place to save the best model.
   */
  onImprovement?: (tagger: NerTagger, record: EpochRecord) => void | Promise<void>;
  /** Called after each epoch with a checkpoint to store (awaited before the next epoch starts). */
  onCheckpoint?: (checkpoint: TrainingCheckpoint) => void | Promise<void>;
  /** Continue from this checkpoint (its options and vocabulary are used; the data must be the same). */
  resume?: TrainingCheckpoint | null;
  /** A clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

export interface NerTrainingData {
  train: readonly LabelledSentence[];
  dev?: readonly LabelledSentence[] | null;
  /** The scheme of the data's tags (detected from the training tags when absent). */
  scheme?: TagScheme;
  /** Pretrained word vectors (e.g. from `readEmbeddingsFile`); words missing from them keep a random initialisation. */
  pretrained?: EmbeddingTable | null;
}

export interface NerTrainingResult {
  /** The best model (by dev F1; the last one without a dev set), ready to tag. */
  tagger: NerTagger;
  history: EpochRecord[];
  /** The epoch whose model was kept (1-based; 0 if no epoch ran). */
  bestEpoch: number;
  /** Its dev scores (null without a dev set). */
  best: DevScores | null;
  /** True if training stopped because the dev F1 stopped improving. */
  stoppedEarly: boolean;
  /** Pretrained vectors used: vocabulary words found in the table. */
  pretrained: { words: number; found: number; dimension: number } | null;
}

// ---------------------------------------------------------------------------------------------------------
// Options

function where(name: string): string {
  return `trainNer: ${name}`;
}

function integerOption(value: unknown, name: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ValueError(`${where(name)} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function numberOption(value: unknown, name: string, min: number, max = Infinity, maxOpen = false): number {
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    value >= min &&
    (maxOpen ? value < max : value <= max);
  if (!ok) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}${maxOpen ? ")" : "]"}`;
    throw new ValueError(`${where(name)} must be a number ${range}, got ${String(value)}`);
  }
  return value as number;
}

const DEFAULT_LEARNING_RATES: Record<OptimizerName, number> = { sgd: 0.1, adam: 0.001, adagrad: 0.05 };

/** Fills in the defaults and checks every option (a ValueError names the first bad one). */
export function resolveTrainingOptions(options: NerTrainingOptions = {}): ResolvedTrainingOptions {
  if (options === null || typeof options !== "object") throw new ValueError("trainNer: expected options");
  const optimizer = options.optimizer ?? "sgd";
  if (!OPTIMIZERS.includes(optimizer)) {
    throw new ValueError(
      `${where("optimizer")} must be one of ${OPTIMIZERS.join(", ")}, got ${JSON.stringify(optimizer)}`,
    );
  }
  const trainingScheme = options.trainingScheme ?? "IOBES";
  if (trainingScheme !== "data") checkTagScheme(trainingScheme, "trainNer: trainingScheme");
  const binary = options.binary ?? null;
  if (binary !== null && (typeof binary !== "string" || binary === "")) {
    throw new ValueError(
      `${where("binary")} must be an entity type such as "LOC", got ${JSON.stringify(binary)}`,
    );
  }
  const clipNorm = options.clipNorm ?? null;
  const pretrainedWords = options.pretrainedWords ?? null;
  for (const flag of ["lowercase", "normalizeDigits"] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== "boolean") {
      throw new ValueError(`${where(flag)} must be a boolean`);
    }
  }
  return {
    windowSize: integerOption(options.windowSize ?? 2, "windowSize", 0),
    wordDimension: integerOption(options.wordDimension ?? 50, "wordDimension", 1),
    casingDimension: integerOption(options.casingDimension ?? 5, "casingDimension", 0),
    hiddenSize: integerOption(options.hiddenSize ?? 300, "hiddenSize", 1),
    activation: checkActivation(options.activation ?? "tanh", "trainNer"),
    dropout: numberOption(options.dropout ?? 0, "dropout", 0, 1, true),
    inputDropout: numberOption(options.inputDropout ?? 0, "inputDropout", 0, 1, true),
    embeddingScale: numberOption(options.embeddingScale ?? 0.1, "embeddingScale", 0),
    binary,
    minCount: integerOption(options.minCount ?? 1, "minCount", 1),
    lowercase: options.lowercase ?? true,
    normalizeDigits: options.normalizeDigits ?? true,
    pretrainedWords: pretrainedWords === null ? null : integerOption(pretrainedWords, "pretrainedWords", 0),
    trainingScheme,
    decoding: checkDecoding(options.decoding ?? "viterbi", "trainNer"),
    optimizer,
    lr: numberOption(options.lr ?? DEFAULT_LEARNING_RATES[optimizer], "lr", 0),
    lrDecay: numberOption(options.lrDecay ?? 0, "lrDecay", 0),
    momentum: numberOption(options.momentum ?? 0, "momentum", 0, 1, true),
    weightDecay: numberOption(options.weightDecay ?? 0, "weightDecay", 0),
    clipNorm: clipNorm === null ? null : numberOption(clipNorm, "clipNorm", 0),
    batchSize: integerOption(options.batchSize ?? 32, "batchSize", 1),
    epochs: integerOption(options.epochs ?? 10, "epochs", 1),
    patience: integerOption(options.patience ?? 3, "patience", 0),
    seed: integerOption(options.seed ?? 0, "seed", 0),
    wordDropout: numberOption(options.wordDropout ?? 0, "wordDropout", 0, 1, true),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Data preparation

function checkSentences(sentences: unknown, name: string): readonly LabelledSentence[] {
  if (!Array.isArray(sentences)) throw new ValueError(`trainNer: ${name} must be an array of sentences`);
  sentences.forEach((s: LabelledSentence, i) => {
    if (
      s === null ||
      typeof s !== "object" ||
      !Array.isArray(s.tokens) ||
      !Array.isArray(s.tags) ||
      s.tokens.length !== s.tags.length
    ) {
      throw new ValueError(`trainNer: ${name} sentence ${i} needs tokens and tags of the same length`);
    }
  });
  return sentences as readonly LabelledSentence[];
}

/** A checksum of sentences' tokens and tags (to check that a resumed run sees the same data). */
export function fingerprintSentences(sentences: readonly LabelledSentence[]): string {
  const text = sentences.map((s) => `${s.tokens.join(" ")}\t${s.tags.join(" ")}`).join("\n");
  return `${sentences.length}:${checksumOf(new TextEncoder().encode(text))}`;
}

/** The vocabulary: training words, then (with pretrained vectors) words of the table, in file order. */
function buildVocabulary(
  train: readonly LabelledSentence[],
  options: ResolvedTrainingOptions,
  pretrained: EmbeddingTable | null,
): Vocabulary {
  const base = Vocabulary.build(
    train.map((s) => s.tokens),
    { minCount: options.minCount, lowercase: options.lowercase, normalizeDigits: options.normalizeDigits },
  );
  if (pretrained === null || options.pretrainedWords === 0) return base;
  const words = base.words;
  const seen = new Set(words);
  const limit = options.pretrainedWords ?? Infinity;
  let added = 0;
  for (const word of pretrained.words) {
    if (added >= limit) break;
    const normalized = base.normalize(word);
    if (normalized.length === 0 || seen.has(normalized) || SPECIAL_WORDS.includes(normalized)) continue;
    seen.add(normalized);
    words.push(normalized);
    added++;
  }
  return new Vocabulary(words, { lowercase: base.lowercase, normalizeDigits: base.normalizeDigits });
}

/** Pretrained rows for the vocabulary: the first table word of each normalised form wins. */
function pretrainedRows(
  vocabulary: Vocabulary,
  table: EmbeddingTable,
): { vectors: Float32Array; found: Uint8Array; count: number } {
  const { dimension } = table;
  const vectors = new Float32Array(vocabulary.size * dimension);
  const found = new Uint8Array(vocabulary.size);
  let count = 0;
  table.words.forEach((word, i) => {
    const id = vocabulary.entryId(vocabulary.normalize(word));
    if (id < SPECIAL_WORDS.length || found[id] === 1) return;
    vectors.set(table.vectors.subarray(i * dimension, (i + 1) * dimension), id * dimension);
    found[id] = 1;
    count++;
  });
  return { vectors, found, count };
}

function typeOf(tag: string): string | null {
  const { prefix, type } = splitTag(tag);
  return prefix === "O" || type === "" ? null : type;
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

/** Positive-class precision, recall and F1 per token (percentages), and token accuracy. */
export function binaryScores(gold: ArrayLike<number>, predicted: ArrayLike<number>): DevScores {
  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i] === 1;
    const p = predicted[i] === 1;
    if (g && p) truePositive++;
    else if (p) falsePositive++;
    else if (g) falseNegative++;
    if (g === p) correct++;
  }
  const precision =
    truePositive + falsePositive === 0 ? 0 : (100 * truePositive) / (truePositive + falsePositive);
  const recall =
    truePositive + falseNegative === 0 ? 0 : (100 * truePositive) / (truePositive + falseNegative);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, accuracy: gold.length === 0 ? 0 : (100 * correct) / gold.length };
}

/**
 * Scores a tagger on labelled sentences: conlleval's entity-level figures for the softmax model (predictions
 * written in `scheme`, the gold tags' scheme), positive-class figures per token for the binary classifier.
 */
export function evaluateTagger(
  tagger: NerTagger,
  sentences: readonly LabelledSentence[],
  scheme: TagScheme = tagger.scheme,
): DevScores {
  if (tagger.binary !== null) {
    const predictions = tagger.predict(sentences.map((s) => s.tokens));
    const gold: number[] = [];
    const predicted: number[] = [];
    sentences.forEach((s, i) => {
      s.tags.forEach((tag, t) => {
        gold.push(typeOf(tag) === tagger.binary ? 1 : 0);
        predicted.push(predictions[i]!.ids[t]!);
      });
    });
    return binaryScores(gold, predicted);
  }
  const predicted = tagger.tagSentences(
    sentences.map((s) => s.tokens),
    { scheme },
  );
  const result = conlleval(
    sentences.map((s, i) => ({ gold: s.tags, predicted: predicted[i]!, tokens: s.tokens })),
    { scheme },
  );
  return { precision: result.precision, recall: result.recall, f1: result.f1, accuracy: result.accuracy };
}

// ---------------------------------------------------------------------------------------------------------
// Checkpoints

/** A checkpoint as safetensors bytes (the state as JSON in the metadata): browser-safe. */
export function checkpointToBytes(checkpoint: TrainingCheckpoint): Uint8Array {
  return serialize(checkpoint.tensors, { state: JSON.stringify(checkpoint.state) });
}

/** Reads {@link checkpointToBytes}' output back. */
export function checkpointFromBytes(bytes: Uint8Array, file = "checkpoint"): TrainingCheckpoint {
  const { tensors, metadata } = parse(bytes, { file });
  const text = metadata.state;
  if (text === undefined)
    throw new FormatError(`${file}: not a training checkpoint (no "state" metadata)`, 8, file);
  let state: CheckpointState;
  try {
    state = JSON.parse(text) as CheckpointState;
  } catch {
    throw new FormatError(`${file}: the checkpoint's state is not valid JSON`, 8, file);
  }
  if (state?.format !== "chainrule-ner-checkpoint" || state.version !== 1) {
    throw new FormatError(`${file}: not a chainrule NER training checkpoint of version 1`, 8, file);
  }
  return { state, tensors };
}

function prefixed(tensors: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(tensors)) out[`${prefix}${name}`] = value;
  return out;
}

function unprefixed(tensors: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(tensors)) {
    if (name.startsWith(prefix)) out[name.slice(prefix.length)] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Training

function makeOptimizer(model: WindowModel, options: ResolvedTrainingOptions): Optimizer {
  const { lr, weightDecay } = options;
  switch (options.optimizer) {
    case "sgd":
      return new SGD(model, { lr, momentum: options.momentum, weightDecay });
    case "adam":
      return new Adam(model, { lr, weightDecay });
    case "adagrad":
      return new AdaGrad(model, { lr, weightDecay });
  }
}

/** Replaces word ids by `<unk>` (id 0) with probability p, leaving the padding ids alone. */
function dropWords(words: Int32Array, p: number, random: Random): void {
  for (let i = 0; i < words.length; i++) {
    if (words[i]! >= SPECIAL_WORDS.length && random.uniform() < p) words[i] = 0;
  }
}

/** What a saved model's config records about its training. */
function trainingInfo(
  options: ResolvedTrainingOptions,
  history: readonly EpochRecord[],
  best: EpochRecord | null,
  stoppedEarly: boolean,
  pretrained: NerTrainingResult["pretrained"],
): Record<string, unknown> {
  return {
    options: { ...options },
    epochs: history.length,
    bestEpoch: best?.epoch ?? 0,
    dev: best?.dev ?? null,
    stoppedEarly,
    pretrained,
  };
}

/**
 * Trains the window classifier on `data.train`, scoring each epoch on `data.dev`, and returns the best
 * model as a {@link NerTagger} with the history of the run.
 */
export async function trainNer(
  data: NerTrainingData,
  trainingOptions: NerTrainingOptions = {},
  hooks: TrainingHooks = {},
): Promise<NerTrainingResult> {
  if (data === null || typeof data !== "object") throw new ValueError("trainNer: expected { train, dev? }");
  const train = checkSentences(data.train, "train");
  const dev = data.dev === undefined || data.dev === null ? null : checkSentences(data.dev, "dev");
  const nonEmptyTrain = train.filter((s) => s.tokens.length > 0);
  if (nonEmptyTrain.length === 0) throw new ValueError("trainNer: the training data has no tokens");
  const now = hooks.now ?? (() => performance.now());
  const resume = hooks.resume ?? null;
  const fingerprint = fingerprintSentences(train);

  // --- setup: options, scheme, vocabulary, tags, model (fresh or from the checkpoint) ----------------------
  const options = resume !== null ? resume.state.options : resolveTrainingOptions(trainingOptions);
  if (resume !== null && resume.state.dataFingerprint !== fingerprint) {
    throw new ValueError(
      "trainNer: the checkpoint was made on other training data (resume with the same --train file)",
    );
  }
  const detected = detectScheme(train.map((s) => s.tags));
  const scheme = resume?.state.scheme ?? checkTagScheme(data.scheme ?? detected.scheme, "trainNer: scheme");
  const trainingScheme: TagScheme =
    resume?.state.trainingScheme ?? (options.trainingScheme === "data" ? scheme : options.trainingScheme);
  const devScheme: TagScheme =
    dev === null
      ? scheme
      : (() => {
          const d = detectScheme(dev.map((s) => s.tags));
          return d.certain ? d.scheme : scheme;
        })();

  const types = entityTypes(train.flatMap((s) => s.tags));
  if (options.binary !== null && !types.includes(options.binary)) {
    throw new ValueError(
      `trainNer: the entity type ${JSON.stringify(options.binary)} does not occur in the training data (its types: ${types.join(", ") || "none"})`,
    );
  }

  const pretrained = resume === null ? (data.pretrained ?? null) : null;
  const vocabulary =
    resume !== null
      ? Vocabulary.fromJSON(resume.state.vocabulary)
      : buildVocabulary(nonEmptyTrain, options, pretrained);
  const trainTags = nonEmptyTrain.map((s) =>
    trainingScheme === scheme ? [...s.tags] : convertTags(s.tags, scheme, trainingScheme),
  );
  const tagSet =
    options.binary !== null
      ? null
      : resume !== null && resume.state.tags !== null
        ? TagSet.fromJSON(resume.state.tags)
        : TagSet.fromSentences(trainTags.map((tags) => ({ tags })));

  const windows = buildWindows(
    nonEmptyTrain.map((s, i) => ({ tokens: s.tokens, tags: trainTags[i]! })),
    { vocabulary, windowSize: options.windowSize, ...(tagSet !== null ? { tagSet } : {}) },
  );
  const binaryTargets = new Float32Array(windows.count);
  if (options.binary !== null) {
    let row = 0;
    for (const s of nonEmptyTrain)
      for (const tag of s.tags) binaryTargets[row++] = typeOf(tag) === options.binary ? 1 : 0;
  }
  const devSentences = dev === null ? null : dev.filter((s) => s.tokens.length > 0);

  const wordDimension = pretrained !== null ? pretrained.dimension : options.wordDimension;
  if (
    pretrained !== null &&
    trainingOptions.wordDimension !== undefined &&
    trainingOptions.wordDimension !== wordDimension
  ) {
    throw new ValueError(
      `trainNer: wordDimension ${trainingOptions.wordDimension} differs from the pretrained vectors' dimension ${pretrained.dimension}`,
    );
  }
  const modelConfig =
    resume !== null
      ? windowModelConfig(resume.state.modelConfig)
      : windowModelConfig({
          vocabularySize: vocabulary.size,
          tagCount: tagSet?.size ?? 1,
          binary: options.binary !== null,
          windowSize: options.windowSize,
          wordDimension,
          casingDimension: options.casingDimension,
          hiddenSize: options.hiddenSize,
          activation: options.activation,
          dropout: options.dropout,
          inputDropout: options.inputDropout,
        });
  const random = new Random(options.seed);
  const model = new WindowModel(modelConfig, { random, embeddingScale: options.embeddingScale });
  let pretrainedInfo: NerTrainingResult["pretrained"] = resume?.state.pretrained ?? null;
  if (pretrained !== null) {
    const rows = pretrainedRows(vocabulary, pretrained);
    model.setPretrainedVectors(rows.vectors, rows.found, pretrained.dimension);
    pretrainedInfo = {
      words: vocabulary.size - SPECIAL_WORDS.length,
      found: rows.count,
      dimension: pretrained.dimension,
    };
  }
  const optimizer = makeOptimizer(model, options);

  let history: EpochRecord[] = [];
  let bestEpoch = 0;
  let bestF1 = -Infinity;
  let epochsWithoutImprovement = 0;
  let finished = false;
  let bestState: Record<string, Tensor> | null = null;
  let startEpoch = 1;
  if (resume !== null) {
    model.loadStateDict(unprefixed(resume.tensors, "model."));
    optimizer.loadStateDict(unprefixed(resume.tensors, "optimizer."));
    const best = unprefixed(resume.tensors, "best.");
    bestState = Object.keys(best).length > 0 ? best : null;
    const state = resume.state;
    random.setState(state.random.map((v) => (v === null ? NaN : v)));
    history = state.history.map((r) => ({ ...r, dev: r.dev === null ? null : { ...r.dev } }));
    bestEpoch = state.bestEpoch;
    bestF1 = state.bestF1 ?? -Infinity;
    epochsWithoutImprovement = state.epochsWithoutImprovement;
    finished = state.finished;
    startEpoch = state.epochsCompleted + 1;
  }

  const taggerParts = {
    vocabulary,
    tagSet,
    scheme,
    trainingScheme,
    binary: options.binary,
    decoding: options.decoding,
  };
  const evaluationTagger = NerTagger.create(model, taggerParts);

  // --- the epochs ------------------------------------------------------------------------------------------
  const { batchSize, epochs } = options;
  const count = windows.count;
  const width = windows.width;
  const batches = Math.ceil(count / batchSize);
  const order = new Int32Array(count);
  const words = new Int32Array(batchSize * width);
  const casing = new Int32Array(batchSize * width);
  const targets = new Int32Array(batchSize);
  const binaryBatch = new Float32Array(batchSize);

  for (let epoch = startEpoch; epoch <= epochs && !finished; epoch++) {
    optimizer.lr = options.lr / (1 + options.lrDecay * (epoch - 1));
    model.train();
    for (let i = 0; i < count; i++) order[i] = i;
    random.shuffle(order);
    const started = now();
    let lossSum = 0;
    let seen = 0;
    for (let b = 0; b < batches; b++) {
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
    const seconds = (now() - started) / 1000;

    const evaluationStarted = now();
    let devScores: DevScores | null = null;
    if (devSentences !== null && devSentences.length > 0) {
      devScores = evaluateTagger(evaluationTagger, devSentences, devScheme);
    }
    const evaluationSeconds = (now() - evaluationStarted) / 1000;

    // The best model: the highest dev F1 so far (the latest epoch without a dev set).
    const score = devScores === null ? epoch : devScores.f1;
    const improved = devScores === null || score > bestF1;
    if (improved) {
      bestF1 = score;
      bestEpoch = epoch;
      bestState = model.stateDict();
      epochsWithoutImprovement = 0;
    } else {
      epochsWithoutImprovement++;
      if (options.patience > 0 && epochsWithoutImprovement >= options.patience) finished = true;
    }
    const record: EpochRecord = {
      epoch,
      loss: lossSum / Math.max(1, seen),
      lr: optimizer.lr,
      examples: seen,
      seconds,
      examplesPerSecond: seconds > 0 ? seen / seconds : 0,
      evaluationSeconds,
      dev: devScores,
      best: improved,
    };
    history.push(record);
    if (improved && hooks.onImprovement !== undefined) {
      await hooks.onImprovement(
        NerTagger.create(model, {
          ...taggerParts,
          training: trainingInfo(options, history, record, false, pretrainedInfo),
        }),
        record,
      );
    }
    if (hooks.onCheckpoint !== undefined) {
      await hooks.onCheckpoint({
        state: {
          format: "chainrule-ner-checkpoint",
          version: 1,
          options,
          modelConfig,
          vocabulary: vocabulary.toJSON(),
          tags: tagSet === null ? null : tagSet.toJSON(),
          scheme,
          trainingScheme,
          dataFingerprint: fingerprint,
          epochsCompleted: epoch,
          bestEpoch,
          bestF1,
          epochsWithoutImprovement,
          finished,
          random: random.getState().map((v) => (Number.isNaN(v) ? null : v)),
          history: history.map((r) => ({ ...r })),
          pretrained: pretrainedInfo,
        },
        tensors: {
          ...prefixed(model.stateDict(), "model."),
          ...prefixed(bestState!, "best."),
          ...prefixed(optimizer.stateDict(), "optimizer."),
        },
      });
    }
    await hooks.onEpoch?.(record);
  }

  // --- the best model ---------------------------------------------------------------------------------------
  if (bestState !== null) model.loadStateDict(bestState);
  model.eval();
  const bestRecord = history.find((r) => r.epoch === bestEpoch);
  const stoppedEarly = finished && history.length > 0 && history[history.length - 1]!.epoch < epochs;
  const tagger = NerTagger.create(model, {
    ...taggerParts,
    training: trainingInfo(options, history, bestRecord ?? null, stoppedEarly, pretrainedInfo),
  });
  return {
    tagger,
    history,
    bestEpoch,
    best: bestRecord?.dev ?? null,
    stoppedEarly,
    pretrained: pretrainedInfo,
  };
}
