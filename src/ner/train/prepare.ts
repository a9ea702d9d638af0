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
import { buildTokenWindows, unknownTagError, type TokenWindows } from "../windows.js";
import { buildFeatureWindows, tokenFeaturesFor, FEATURE_PADDING_ID } from "../char-features.js";
import { sortTags } from "../conll.js";
import { CompactCorpus, SentenceChecksum } from "../conll-compact.js";
import { transitionTable, type TransitionTable } from "../decode.js";
import { checkTagScheme, convertTags, detectScheme, entityTypes, splitTag, type TagScheme } from "../tags.js";
import type { NerTaggerParts } from "../tagger.js";
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
  /** The training windows: words, casing, then one id matrix per token feature of the model, and the tags. */
  readonly windows: TokenWindows;
  /** For the sentence objective with Viterbi decoding: the transitions the training scheme allows. */
  readonly allowed: TransitionTable | null;
  /** Per window, 1 if the centre word has the binary classifier's type (empty for the softmax model). */
  readonly binaryTargets: Float32Array;
  /** The dev sentences (null without a dev set). */
  readonly dev: CompactCorpus | null;
  /** The dev set's windows, as `windows` (null without a dev set). */
  readonly devWindows: TokenWindows | null;
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
  if (!Array.isArray(sentences)) {
    throw new ValueError(`trainNer: ${name} must be an array of sentences or a CompactCorpus`);
  }
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

/** The training data as a {@link CompactCorpus} (sentences in an array are checked, then stored as one). */
function compactOf(data: unknown, name: string): CompactCorpus {
  if (data instanceof CompactCorpus) return data;
  return CompactCorpus.fromSentences(checkSentences(data, name), `trainNer: ${name}`);
}

/** A checksum of sentences' tokens and tags (to check that a resumed run sees the same data). */
export function fingerprintSentences(sentences: readonly LabelledSentence[]): string {
  const checksum = new SentenceChecksum();
  for (const s of sentences) checksum.add(s.tokens, s.tags);
  return checksum.result();
}

/** The entity type of a tag, or null for `O`. */
export function typeOf(tag: string): string | null {
  const { prefix, type } = splitTag(tag);
  return prefix === "O" || type === "" ? null : type;
}

/** The vocabulary: training words, then (with pretrained vectors) words of the table, in file order. */
function buildVocabulary(
  train: CompactCorpus,
  options: ResolvedTrainingOptions,
  pretrained: EmbeddingTable | null,
): Vocabulary {
  const counts = train.tokenTable.map((word, i) => [word, train.tokenCounts[i]!] as const);
  const base = Vocabulary.fromCounts(counts, {
    minCount: options.minCount,
    lowercase: options.lowercase,
    normalizeDigits: options.normalizeDigits,
  });
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

/**
 * The tag set of the softmax model (the converted training tags', or the checkpoint's when resuming) and the
 * tag id of every training token. Tags are converted from the data's scheme one sentence at a time.
 */
function trainingTags(
  train: CompactCorpus,
  scheme: TagScheme,
  trainingScheme: TagScheme,
  stored: TagSet | null,
): { tagSet: TagSet; ids: Int32Array } {
  // Per token, an index into `table`: the data's own tags, or the converted ones.
  let table: readonly string[] = train.tagTable;
  let local = train.tagIds;
  if (trainingScheme !== scheme) {
    const converted: string[] = [];
    const convertedIds = new Map<string, number>();
    local = new Int32Array(train.tokenCount);
    for (let s = 0; s < train.sentenceCount; s++) {
      const tags = convertTags(train.tagsOf(s), scheme, trainingScheme);
      const first = train.offsets[s]!;
      for (let i = 0; i < tags.length; i++) {
        let id = convertedIds.get(tags[i]!);
        if (id === undefined) {
          id = converted.length;
          converted.push(tags[i]!);
          convertedIds.set(tags[i]!, id);
        }
        local[first + i] = id;
      }
    }
    table = converted;
  }
  const tagSet = stored ?? new TagSet(sortTags(table));
  const remap = Int32Array.from(table, (tag) => tagSet.idOf(tag));
  const ids = new Int32Array(train.tokenCount);
  let s = 0;
  for (let t = 0; t < ids.length; t++) {
    const id = remap[local[t]!]!;
    if (id < 0) {
      while (train.offsets[s + 1]! <= t) s++;
      throw unknownTagError(table[local[t]!]!, s, t - train.offsets[s]!, tagSet);
    }
    ids[t] = id;
  }
  return { tagSet, ids };
}

/**
 * The windows of a corpus for a model: words (ids in `vocabulary`), casing and the ids of each of the model's
 * token features, as lookups per distinct token (see {@link TokenWindows}); `tags`: the tokens' tag ids or null.
 */
export function corpusWindows(
  corpus: CompactCorpus,
  vocabulary: Vocabulary,
  modelConfig: WindowModelConfig,
  tags: Int32Array | null,
): TokenWindows {
  // The value id of each distinct token: its window of width 1, as a sentence of its own.
  const lookups = buildFeatureWindows(
    corpus.tokenTable.map((token) => [token]),
    modelConfig.features,
    0,
  );
  return buildTokenWindows(corpus, {
    vocabulary,
    windowSize: modelConfig.windowSize,
    tags,
    extra: lookups.map((lookup) => ({ lookup, padding: FEATURE_PADDING_ID })),
  });
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
  const train = compactOf(data.train, "train");
  const devData =
    data.dev === undefined || data.dev === null
      ? null
      : data.dev instanceof CompactCorpus
        ? data.dev
        : checkSentences(data.dev, "dev");
  if (train.tokenCount === 0) throw new ValueError("trainNer: the training data has no tokens");
  const fingerprint = train.fingerprint;

  // Options, schemes and entity types.
  const options = resume !== null ? resume.state.options : resolveTrainingOptions(trainingOptions);
  if (resume !== null && resume.state.dataFingerprint !== fingerprint) {
    throw new ValueError(
      "trainNer: the checkpoint was made on other training data (resume with the same --train file)",
    );
  }
  const detected = train.schemeDetection;
  const scheme = resume?.state.scheme ?? checkTagScheme(data.scheme ?? detected.scheme, "trainNer: scheme");
  const trainingScheme: TagScheme =
    resume?.state.trainingScheme ?? (options.trainingScheme === "data" ? scheme : options.trainingScheme);
  let devScheme = scheme;
  if (devData !== null) {
    const d =
      devData instanceof CompactCorpus ? devData.schemeDetection : detectScheme(devData.map((s) => s.tags));
    if (d.certain) devScheme = d.scheme;
  }
  // The dev sentences are held as ids, like the training data (empty sentences, which score nothing, left out).
  const dev =
    devData === null || devData instanceof CompactCorpus
      ? devData
      : CompactCorpus.fromSentences(devData, "trainNer: dev");
  if (options.objective === "sentence" && options.binary !== null) {
    throw new ValueError("trainNer: the sentence objective trains the softmax over all tags, not binary");
  }
  const types = entityTypes(train.tagTable);
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
      : buildVocabulary(train, options, pretrained);
  const tags =
    options.binary !== null
      ? null
      : trainingTags(
          train,
          scheme,
          trainingScheme,
          resume !== null && resume.state.tags !== null ? TagSet.fromJSON(resume.state.tags) : null,
        );
  const tagSet = tags?.tagSet ?? null;

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
          features: tokenFeaturesFor(options, train.tokenLists()),
        });
  const windows = corpusWindows(train, vocabulary, modelConfig, tags?.ids ?? null);
  const binaryTargets = new Float32Array(options.binary !== null ? windows.count : 0);
  if (options.binary !== null) {
    const positive = train.tagTable.map((tag) => (typeOf(tag) === options.binary ? 1 : 0));
    for (let t = 0; t < binaryTargets.length; t++) binaryTargets[t] = positive[train.tagIds[t]!]!;
  }
  const devWindows = dev === null ? null : corpusWindows(dev, vocabulary, modelConfig, null);
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
      ownsBestState: false,
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
    allowed,
    binaryTargets,
    dev,
    devWindows,
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
