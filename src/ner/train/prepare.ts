/**
 * Stage 1 of a training run: check the data, resolve the options, build the vocabulary, the tag set, the
 * training windows, the model and its optimiser, fresh or from a checkpoint.
 */
import { ValueError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { Random } from "../../tensor/random.js";
import type { Optimizer } from "../../nn/optim.js";
import { WindowModel, windowModelConfig, type WindowModelConfig } from "../model.js";
import { Vocabulary, TagSet, SPECIAL_WORDS } from "../vocab.js";
import { buildWindows, type Windows } from "../windows.js";
import { buildFeatureWindows, tokenFeaturesFor } from "../char-features.js";
import { transitionTable, type TransitionTable } from "../decode.js";
import { checkTagScheme, convertTags, detectScheme, entityTypes, splitTag, type TagScheme } from "../tags.js";
import { checksumOf, type NerTaggerParts } from "../tagger.js";
import type { EmbeddingTable } from "../embeddings.js";
import { resolveTrainingOptions, type NerTrainingOptions, type ResolvedTrainingOptions } from "./options.js";
import type { LabelledSentence, NerTrainingData, PretrainedInfo } from "./types.js";
import type { TrainingCheckpoint } from "./checkpoint.js";
import { startProgress, type TrainingProgress } from "./best.js";
import { makeOptimizer } from "./optimizer.js";

/** Everything an epoch needs, fixed for the run. */
export interface TrainingRun {
  readonly options: ResolvedTrainingOptions;
  /** The scheme of the training data's tags. */
  readonly scheme: TagScheme;
  /** The scheme of the model's outputs. */
  readonly trainingScheme: TagScheme;
  /** The scheme the dev data is scored in. */
  readonly devScheme: TagScheme;
  readonly vocabulary: Vocabulary;
  /** The tags of the softmax model (null for the binary classifier). */
  readonly tagSet: TagSet | null;
  readonly windows: Windows;
  /** The token features' id matrices, one per feature of the model, rows as in `windows`. */
  readonly featureWindows: Int32Array[];
  /** For the sentence objective with Viterbi decoding: the transitions the training scheme allows. */
  readonly allowed: TransitionTable | null;
  /** Per window, 1 if the centre word has the binary classifier's type (all zeros for the softmax model). */
  readonly binaryTargets: Float32Array;
  readonly devSentences: readonly LabelledSentence[] | null;
  readonly modelConfig: WindowModelConfig;
  readonly model: WindowModel;
  readonly optimizer: Optimizer;
  /** The run's one random generator (initialisation, shuffling, dropout). */
  readonly random: Random;
  /** A checksum of the training sentences. */
  readonly fingerprint: string;
  readonly pretrained: PretrainedInfo | null;
  /** The parts of a tagger over the model besides the model itself. */
  readonly taggerParts: Omit<NerTaggerParts, "training">;
}

export function checkSentences(sentences: unknown, name: string): readonly LabelledSentence[] {
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

/** The entity type of a tag, or null for `O`. */
export function typeOf(tag: string): string | null {
  const { prefix, type } = splitTag(tag);
  return prefix === "O" || type === "" ? null : type;
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

/** The tensors of a checkpoint whose names start with `prefix`, without it. */
export function unprefixed(tensors: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(tensors)) {
    if (name.startsWith(prefix)) out[name.slice(prefix.length)] = value;
  }
  return out;
}

/**
 * Prepares a run: the data checked, the options resolved (or taken from the checkpoint), the model built and,
 * when resuming, its weights, the optimiser's state and the random generator restored. Returns the run, the
 * progress so far (empty for a fresh run) and the first epoch to train.
 */
export function prepareRun(
  data: NerTrainingData,
  trainingOptions: NerTrainingOptions,
  resume: TrainingCheckpoint | null,
): { run: TrainingRun; progress: TrainingProgress; startEpoch: number } {
  if (data === null || typeof data !== "object") throw new ValueError("trainNer: expected { train, dev? }");
  const train = checkSentences(data.train, "train");
  const dev = data.dev === undefined || data.dev === null ? null : checkSentences(data.dev, "dev");
  const nonEmptyTrain = train.filter((s) => s.tokens.length > 0);
  if (nonEmptyTrain.length === 0) throw new ValueError("trainNer: the training data has no tokens");
  const fingerprint = fingerprintSentences(train);

  // Options, schemes and entity types.
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
  let devScheme = scheme;
  if (dev !== null) {
    const d = detectScheme(dev.map((s) => s.tags));
    if (d.certain) devScheme = d.scheme;
  }
  if (options.objective === "sentence" && options.binary !== null) {
    throw new ValueError("trainNer: the sentence objective trains the softmax over all tags, not binary");
  }
  const types = entityTypes(train.flatMap((s) => s.tags));
  if (options.binary !== null && !types.includes(options.binary)) {
    throw new ValueError(
      `trainNer: the entity type ${JSON.stringify(options.binary)} does not occur in the training data (its types: ${types.join(", ") || "none"})`,
    );
  }

  // Vocabulary, tags and the training windows.
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

  // The model and its optimiser.
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
          objective: options.objective,
          features: tokenFeaturesFor(
            options,
            nonEmptyTrain.map((s) => s.tokens),
          ),
        });
  const featureWindows = buildFeatureWindows(
    nonEmptyTrain.map((s) => s.tokens),
    modelConfig.features,
    modelConfig.windowSize,
  );
  const allowed =
    modelConfig.objective === "sentence" && options.decoding === "viterbi" && tagSet !== null
      ? transitionTable(tagSet.tags, trainingScheme)
      : null;
  const random = new Random(options.seed);
  const model = new WindowModel(modelConfig, { random, embeddingScale: options.embeddingScale });
  let pretrainedInfo: PretrainedInfo | null = resume?.state.pretrained ?? null;
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

  // The state of a resumed run.
  let progress = startProgress();
  let startEpoch = 1;
  if (resume !== null) {
    model.loadStateDict(unprefixed(resume.tensors, "model."));
    optimizer.loadStateDict(unprefixed(resume.tensors, "optimizer."));
    const best = unprefixed(resume.tensors, "best.");
    const state = resume.state;
    random.setState(state.random.map((v) => (v === null ? NaN : v)));
    progress = {
      history: state.history.map((r) => ({ ...r, dev: r.dev === null ? null : { ...r.dev } })),
      bestEpoch: state.bestEpoch,
      bestF1: state.bestF1 ?? -Infinity,
      epochsWithoutImprovement: state.epochsWithoutImprovement,
      finished: state.finished,
      bestState: Object.keys(best).length > 0 ? best : null,
    };
    startEpoch = state.epochsCompleted + 1;
  }

  const run: TrainingRun = {
    options,
    scheme,
    trainingScheme,
    devScheme,
    vocabulary,
    tagSet,
    windows,
    featureWindows,
    allowed,
    binaryTargets,
    devSentences,
    modelConfig,
    model,
    optimizer,
    random,
    fingerprint,
    pretrained: pretrainedInfo,
    taggerParts: {
      vocabulary,
      tagSet,
      scheme,
      trainingScheme,
      binary: options.binary,
      decoding: options.decoding,
    },
  };
  return { run, progress, startEpoch };
}
