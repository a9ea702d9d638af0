/**
 * A trained window classifier ready to tag text: the model, its vocabulary, casing features and tags, and the
 * model directory's `config.json`. Browser-safe: {@link NerTagger.fromBytes} builds a tagger from the bytes of
 * `config.json` and `model.safetensors`. Reading a directory (`NerTagger.load`) is Node's: the class of
 * `tagger-node.ts`, which the Node entry points export under the same name, adds it.
 *
 * ```ts
 * const tagger = NerTagger.fromBytes(configText, weightBytes);
 * tagger.tag("Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.").entities;
 * // [{ type: "PER", text: "Samuel Quinn", start: 0, end: 12, … }, …]
 * ```
 */
import { FormatError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { VERSION } from "../version.js";
import { parse, serialize, serializeParts } from "../nn/safetensors.js";
import { checkFiniteWeights, checkModelConfigSizes, checkWeightsFitConfig } from "./model-config.js";
import type { FiniteWeightsOptions } from "./model-config.js";
import { WindowModel, windowModelConfig, type WindowModelConfig } from "./model.js";
import { Vocabulary, TagSet, type VocabularyJSON, type TagSetJSON } from "./vocab.js";
import { casingFromJSON, casingToJSON, type CasingJSON } from "./features.js";
import { buildWindows, copyWindowRows, type TokenWindows, type Windows } from "./windows.js";
import {
  checkTagScheme,
  encodeEntities,
  extractEntities,
  convertTags,
  type EntitySpan,
  type TagScheme,
} from "./tags.js";
import { tokenizeSentences, type Token } from "./tokenizer.js";
import { buildFeatureWindows } from "./char-features.js";
import { crfMarginals, crfViterbi } from "./crf.js";
import {
  checkDecoding,
  greedyDecode,
  logSoftmaxRows,
  transitionTable,
  viterbiDecode,
  type Decoding,
  type TransitionTable,
} from "./decode.js";

/** The identifier of the model directory format, in `config.json`'s `format`. */
export const NER_MODEL_FORMAT = "chainrule-ner";
/** The version of the model directory format this code writes and reads. */
export const NER_MODEL_VERSION = 1;
/** The weights' file name inside a model directory. */
export const MODEL_WEIGHTS_FILE = "model.safetensors";
/** The configuration's file name inside a model directory. */
export const MODEL_CONFIG_FILE = "config.json";

/** The contents of a model directory's `config.json`. */
export interface NerModelConfig {
  /** Always {@link NER_MODEL_FORMAT}: what makes the file recognisable. */
  format: typeof NER_MODEL_FORMAT;
  /** The format version the directory was written in (see {@link NER_MODEL_VERSION}). */
  version: number;
  /** The chainrule version that wrote the model. */
  chainrule: string;
  /** The network's hyperparameters. */
  model: WindowModelConfig;
  /** The word vocabulary (row i of the embedding table is word i). */
  vocabulary: VocabularyJSON;
  /** The casing classes (row i of the casing embedding is class i). */
  casing: CasingJSON;
  /** The model's output tags (in `trainingScheme`); null for the binary classifier. */
  tags: TagSetJSON | null;
  /** The tag scheme of the training data: evaluation output is written in it. */
  scheme: TagScheme;
  /** The scheme the model's output tags are written in (the data's tags were converted to it for training). */
  trainingScheme: TagScheme;
  /** For the binary classifier, the entity type it detects (e.g. "LOC"); otherwise null. */
  binary: string | null;
  /** How per-token scores become tags: "greedy" (argmax) or "viterbi" (the best sequence the scheme allows). */
  decoding: Decoding;
  /** The weights file and a checksum of its bytes, so a directory left half-written is detected. */
  weights: {
    /** The weights' file name in the directory (`model.safetensors`). */
    file: string;
    /** FNV-1a (32-bit) of the weights file's bytes, as 8 hex digits. */
    checksum: string;
  };
  /** How the model was trained (informational: hyperparameters, epochs, dev scores). */
  training?: Record<string, unknown>;
}

/** A token of tagged text, with its character offsets `[start, end)` into the text. */
export interface TaggedToken {
  /** The token as it appears in the text. */
  readonly text: string;
  /** Offset of its first character. */
  readonly start: number;
  /** Offset just past its last character. */
  readonly end: number;
  /** Its tag in the requested scheme (`B-LOC`, `O`, …). */
  readonly tag: string;
  /** The model's probability of the tag it gave (σ(s) of the positive class for the binary classifier). */
  readonly score: number;
}

/** An entity found in tagged text: its type, its text and character offsets, and its tokens `[tokenStart, tokenEnd)`. */
export interface TaggedEntity {
  /** The entity type (`PER`, `LOC`, `ORG`, `MISC`, …). */
  readonly type: string;
  /** The entity's text, from its first token's start to its last token's end. */
  readonly text: string;
  /** Offset of its first character. */
  readonly start: number;
  /** Offset just past its last character. */
  readonly end: number;
  /** Index of its first token. */
  readonly tokenStart: number;
  /** Index just past its last token. */
  readonly tokenEnd: number;
}

/** The result of {@link NerTagger.tag}. */
export interface TaggedText {
  /** The text as given. */
  readonly text: string;
  /** Every token of the text with its tag, in order. */
  readonly tokens: TaggedToken[];
  /** The entities found, in order. */
  readonly entities: TaggedEntity[];
  /** Each sentence's token range `[tokenStart, tokenEnd)` and character range `[start, end)`. */
  readonly sentences: {
    /** Index of the sentence's first token. */
    tokenStart: number;
    /** Index just past its last token. */
    tokenEnd: number;
    /** Offset of its first character. */
    start: number;
    /** Offset just past its last character. */
    end: number;
  }[];
}

/** Options of the tagging methods of {@link NerTagger}. */
export interface TagOptions {
  /** The scheme of the returned tags (default IOB2: every entity starts with `B-`). */
  scheme?: TagScheme;
}

/** Tag ids and their probabilities for one sentence. */
export interface SentencePrediction {
  /** Tag ids in the model's output tags (for the binary classifier: 1 positive, 0 not). */
  readonly ids: Int32Array;
  /** Probability of each chosen id. */
  readonly scores: Float64Array;
}

/**
 * Windows scored per forward pass when predicting a large set: memory holds the activations of this many
 * windows (and the scores of the sentences they belong to). Each window's scores do not depend on the others
 * in its pass, so any size gives the same predictions, bit for bit, as long as the products run the same
 * kernels: eagerly, one of fewer than `wasmThresholds.matmulFlops` (512) multiply-adds runs in JavaScript,
 * which rounds otherwise (a tiny model's output layer on a pass of very few windows).
 */
const PREDICTION_CHUNK = 512;

/** The model's input for some windows: word, casing and token feature ids, `rows × (2w + 1)` each. */
export interface WindowRows {
  /** Word ids, row-major. */
  readonly words: Int32Array;
  /** Casing class ids, row-major. */
  readonly casing: Int32Array;
  /** One id matrix per token feature of the model, row-major. */
  readonly features: readonly Int32Array[];
}

/**
 * Windows to predict, read a chunk at a time by {@link forEachPrediction}: their count, the sentences' row
 * offsets, and the id matrices of any range of rows.
 */
export interface WindowRowSource {
  /** Number of windows (one per token). */
  readonly count: number;
  /** [sentences + 1] row offsets: the windows of sentence s are rows offsets[s] … offsets[s + 1] − 1. */
  readonly offsets: Int32Array;
  /** The ids of rows [first, first + rows) (512 rows at most; valid until the next call). */
  rows(first: number, rows: number): WindowRows;
}

/** A {@link WindowRowSource} over window matrices already built (`buildWindows`, `buildFeatureWindows`). */
export function windowMatrixSource(windows: Windows, features: readonly Int32Array[] = []): WindowRowSource {
  const { width } = windows;
  return {
    count: windows.count,
    offsets: windows.offsets,
    rows: (first, rows) => ({
      words: windows.words.subarray(first * width, (first + rows) * width),
      casing: windows.casing.subarray(first * width, (first + rows) * width),
      features: features.map((ids) => ids.subarray(first * width, (first + rows) * width)),
    }),
  };
}

/**
 * A {@link WindowRowSource} over {@link TokenWindows} (words, casing, then the token features): each chunk's
 * rows are assembled into buffers reused from chunk to chunk.
 */
export function tokenWindowSource(windows: TokenWindows): WindowRowSource {
  const size = PREDICTION_CHUNK * windows.width;
  const buffers = windows.lookups.map(() => new Int32Array(size));
  return {
    count: windows.count,
    offsets: windows.offsets,
    rows: (first, rows) => {
      const views = buffers.map((buffer) => buffer.subarray(0, rows * windows.width));
      copyWindowRows(windows, null, first, rows, views);
      return { words: views[0]!, casing: views[1]!, features: views.slice(2) };
    },
  };
}

/**
 * From this many windows on, {@link forEachPrediction} scores its chunks through a compiled plan
 * ({@link WindowModel.predictLogitsPadded}): the plan takes a trace and some planning once, and saves the
 * allocation of every op's output in each chunk after (a dev set's 50,000 windows allocated about 250 MB of
 * short-lived arrays a pass, which the C allocator then kept).
 */
const COMPILED_PREDICTION_WINDOWS = 4 * PREDICTION_CHUNK;

/** How {@link forEachPrediction} decodes scores into tags. */
export interface PredictionOptions {
  /**
   * Score a large set of windows (2,048 or more) through a compiled forward pass, a fixed chunk at a time
   * (default true; the same scores, see {@link WindowModel.predictLogitsPadded}). `false` runs each chunk's
   * ops eagerly.
   */
  compile?: boolean;
  /** "greedy" (argmax per token) or "viterbi" (the best sequence `transitions` allows). */
  decoding: Decoding;
  /** The transitions the training scheme allows (null: any). */
  transitions: TransitionTable | null;
}

/**
 * Runs the model over the windows of `source` (in evaluation mode, without recording), a chunk of whole
 * sentences at a time, and decodes each sentence: for the softmax model, greedy or Viterbi decoding over the
 * log probabilities; for the binary classifier, s > 0; for the sentence objective, the CRF's best path.
 * Calls `each` with every sentence's prediction, in order. Memory holds one chunk's activations and scores
 * (or one sentence's, for a sentence longer than a chunk), whatever the number of windows.
 */
export function forEachPrediction(
  model: WindowModel,
  source: WindowRowSource,
  options: PredictionOptions,
  each: (prediction: SentencePrediction, sentence: number) => void,
): void {
  const binary = model.config.binary;
  const size = binary ? 1 : model.config.outputSize;
  const crf = model.crf;
  // The sentence objective: the CRF's best path (within the scheme's transitions for "viterbi" decoding);
  // each token's score is its tag's marginal probability.
  const crfScores =
    crf === null
      ? null
      : {
          size,
          transitions: crf.transitions.data,
          start: crf.start.data,
          end: crf.end.data,
          allowed: options.decoding === "viterbi" ? options.transitions : null,
        };
  const { offsets } = source;
  const sentenceCount = offsets.length - 1;
  // Many chunks: each through one compiled plan (a chunk padded to full size), which allocates nothing per op.
  const compiled = options.compile !== false && source.count >= COMPILED_PREDICTION_WINDOWS;
  let scores = new Float64Array(PREDICTION_CHUNK * size);
  for (let from = 0; from < sentenceCount;) {
    // Whole sentences up to a chunk's windows (at least one sentence).
    const base = offsets[from]!;
    let to = from + 1;
    while (to < sentenceCount && offsets[to + 1]! - base <= PREDICTION_CHUNK) to++;
    const total = offsets[to]! - base;
    if (total * size > scores.length) scores = new Float64Array(total * size);
    for (let done = 0; done < total; done += PREDICTION_CHUNK) {
      const rows = Math.min(PREDICTION_CHUNK, total - done);
      const ids = source.rows(base + done, rows);
      const logits = compiled
        ? model.predictLogitsPadded(ids.words, ids.casing, ids.features, PREDICTION_CHUNK)
        : model.predictLogits(ids.words, ids.casing, ids.features).data;
      if (binary || crf !== null) scores.set(logits, done * size);
      else scores.set(logSoftmaxRows(logits, rows, size), done * size);
    }
    for (let s = from; s < to; s++) {
      const first = offsets[s]! - base;
      const length = offsets[s + 1]! - offsets[s]!;
      const probabilities = new Float64Array(length);
      let ids: Int32Array;
      if (binary) {
        ids = new Int32Array(length);
        for (let t = 0; t < length; t++) {
          const score = scores[first + t]!;
          ids[t] = score > 0 ? 1 : 0;
          const positive = 1 / (1 + Math.exp(-score));
          probabilities[t] = score > 0 ? positive : 1 - positive;
        }
      } else if (crfScores !== null) {
        ids = crfViterbi(scores, first, length, crfScores);
        const marginals = crfMarginals(
          scores.subarray(first * size, (first + length) * size),
          [0, length],
          crfScores,
        );
        for (let t = 0; t < length; t++) probabilities[t] = marginals[t * size + ids[t]!]!;
      } else {
        ids =
          options.decoding === "viterbi" && options.transitions !== null
            ? viterbiDecode(scores, first, length, options.transitions)
            : greedyDecode(scores, first, length, size);
        for (let t = 0; t < length; t++) probabilities[t] = Math.exp(scores[(first + t) * size + ids[t]!]!);
      }
      each({ ids, scores: probabilities }, s);
    }
    from = to;
  }
}

/**
 * Runs the model over windows (in evaluation mode, without recording) and decodes each sentence: for the
 * softmax model, greedy or Viterbi decoding over the log probabilities; for the binary classifier, s > 0.
 */
export function predictWindows(
  model: WindowModel,
  windows: Windows,
  options: PredictionOptions & {
    /** The token features' id matrices (`buildFeatureWindows`), when the model has token features. */
    features?: readonly Int32Array[];
  },
): SentencePrediction[] {
  const out: SentencePrediction[] = [];
  forEachPrediction(model, windowMatrixSource(windows, options.features), options, (prediction) => {
    out.push(prediction);
  });
  return out;
}

/**
 * FNV-1a (32-bit) of some bytes (or of pieces of bytes one after the other), as 8 hex digits: a cheap check
 * that two files belong together.
 */
export function checksumOf(bytes: Uint8Array | readonly Uint8Array[]): string {
  let hash = 0x811c9dc5;
  for (const piece of bytes instanceof Uint8Array ? [bytes] : bytes) {
    for (let i = 0; i < piece.length; i++) {
      hash ^= piece[i]!;
      hash = Math.imul(hash, 0x01000193);
    }
  }
  return `fnv1a32:${(hash >>> 0).toString(16).padStart(8, "0")}`;
}

function fail(message: string): never {
  throw new ValueError(`NER model config: ${message}`);
}

/** Checks a parsed `config.json` and returns it typed; every problem is a ValueError naming the field. */
export function parseNerModelConfig(json: unknown): NerModelConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail("expected a JSON object");
  const config = json as Partial<NerModelConfig>;
  if (config.format !== NER_MODEL_FORMAT) {
    fail(`"format" must be "${NER_MODEL_FORMAT}", got ${JSON.stringify(config.format)}`);
  }
  if (config.version !== NER_MODEL_VERSION) {
    fail(
      `"version" ${JSON.stringify(config.version)} is not supported (this chainrule reads version ${NER_MODEL_VERSION})`,
    );
  }
  checkModelConfigSizes(config.model);
  const model = windowModelConfig(config.model as WindowModelConfig);
  const vocabulary = Vocabulary.fromJSON(config.vocabulary);
  if (vocabulary.size !== model.vocabularySize) {
    fail(
      `the vocabulary has ${vocabulary.size} entries but the model's table has ${model.vocabularySize} rows`,
    );
  }
  if (casingFromJSON(config.casing) !== model.casingClasses) {
    fail(`the casing table has ${model.casingClasses} rows, not one per casing class`);
  }
  const scheme = checkTagScheme(config.scheme, "NER model config");
  const trainingScheme = checkTagScheme(config.trainingScheme, "NER model config");
  const binary = config.binary ?? null;
  if (binary !== null && (typeof binary !== "string" || binary === "")) {
    fail(`"binary" must be an entity type or null, got ${JSON.stringify(binary)}`);
  }
  if ((binary !== null) !== model.binary) fail(`"binary" and "model.binary" disagree`);
  let tags: TagSetJSON | null = null;
  if (binary === null) {
    const tagSet = TagSet.fromJSON(config.tags);
    if (tagSet.size !== model.outputSize) {
      fail(`${tagSet.size} tags but the model has ${model.outputSize} outputs`);
    }
    tags = tagSet.toJSON();
  }
  const decoding = checkDecoding(config.decoding ?? "greedy", "NER model config");
  const weights = config.weights;
  if (
    weights === null ||
    typeof weights !== "object" ||
    typeof weights.file !== "string" ||
    typeof weights.checksum !== "string"
  ) {
    fail(`"weights" must be an object with "file" and "checksum" strings`);
  }
  return {
    format: NER_MODEL_FORMAT,
    version: NER_MODEL_VERSION,
    chainrule: typeof config.chainrule === "string" ? config.chainrule : "unknown",
    model,
    vocabulary: vocabulary.toJSON(),
    casing: casingToJSON(),
    tags,
    scheme,
    trainingScheme,
    binary,
    decoding,
    weights: { file: weights.file, checksum: weights.checksum },
    ...(config.training !== undefined ? { training: config.training } : {}),
  };
}

/** What {@link NerTagger.create} needs besides the model. */
export interface NerTaggerParts {
  /** The word vocabulary the model's embedding table was built on. */
  vocabulary: Vocabulary;
  /** The output tags (null for the binary classifier). */
  tagSet: TagSet | null;
  /** The tag scheme of the training data. */
  scheme: TagScheme;
  /** The scheme the model's output tags are written in. */
  trainingScheme: TagScheme;
  /** For the binary classifier, the entity type it detects; otherwise null. */
  binary: string | null;
  /** How per-token scores become tags. */
  decoding: Decoding;
  /** How the model was trained (informational, kept in `config.json`). */
  training?: Record<string, unknown>;
}

/** A trained window classifier with everything needed to tag tokens or raw text. */
export class NerTagger {
  /** The window classifier. */
  readonly model: WindowModel;
  /** The word vocabulary the model's embedding table was built on. */
  readonly vocabulary: Vocabulary;
  /** The output tags, in `trainingScheme` (null for the binary classifier). */
  readonly tagSet: TagSet | null;
  /** The scheme of the training data. */
  readonly scheme: TagScheme;
  /** The scheme the model's output tags are written in. */
  readonly trainingScheme: TagScheme;
  /** For the binary classifier, the entity type it detects (e.g. "LOC"); otherwise null. */
  readonly binary: string | null;
  /** How per-token scores become tags: "greedy" (argmax) or "viterbi". */
  readonly decoding: Decoding;
  /** How the model was trained (informational), when known. */
  readonly training: Record<string, unknown> | undefined;
  private readonly transitions: TransitionTable | null;

  /** Use {@link NerTagger.create} or {@link NerTagger.fromBytes}, which check the parts. */
  protected constructor(model: WindowModel, parts: NerTaggerParts) {
    this.model = model;
    this.vocabulary = parts.vocabulary;
    this.tagSet = parts.tagSet;
    this.scheme = parts.scheme;
    this.trainingScheme = parts.trainingScheme;
    this.binary = parts.binary;
    this.decoding = parts.decoding;
    this.training = parts.training;
    this.transitions =
      parts.tagSet === null ? null : transitionTable(parts.tagSet.tags, parts.trainingScheme);
  }

  /** A tagger around a model (e.g. one just trained); checks that the parts fit the model. */
  static create(model: WindowModel, parts: NerTaggerParts): NerTagger {
    if (!(model instanceof WindowModel)) throw new ValueError("NerTagger.create: expected a WindowModel");
    if (parts.vocabulary.size !== model.config.vocabularySize) {
      throw new ValueError(
        `NerTagger.create: the vocabulary has ${parts.vocabulary.size} entries but the model's table has ${model.config.vocabularySize} rows`,
      );
    }
    if ((parts.binary !== null) !== model.config.binary) {
      throw new ValueError("NerTagger.create: `binary` must be set exactly for a binary model");
    }
    if (parts.tagSet !== null && parts.tagSet.size !== model.config.outputSize) {
      throw new ValueError(
        `NerTagger.create: ${parts.tagSet.size} tags but the model has ${model.config.outputSize} outputs`,
      );
    }
    checkTagScheme(parts.scheme, "NerTagger.create");
    checkTagScheme(parts.trainingScheme, "NerTagger.create");
    checkDecoding(parts.decoding, "NerTagger.create");
    return new NerTagger(model, parts);
  }

  /**
   * A tagger from the contents of a model directory: the text (or bytes, or parsed object) of `config.json`
   * and the bytes of `model.safetensors`. Works in a browser.
   */
  static fromBytes(
    configJson: string | Uint8Array | object,
    safetensorsBytes: Uint8Array,
    options: FiniteWeightsOptions = {},
  ): NerTagger {
    let json: unknown = configJson;
    if (configJson instanceof Uint8Array) json = new TextDecoder("utf-8").decode(configJson);
    if (typeof json === "string") {
      try {
        json = JSON.parse(json);
      } catch (error) {
        throw new ValueError(`NER model config: not valid JSON (${(error as Error).message})`);
      }
    }
    const config = parseNerModelConfig(json);
    if (!(safetensorsBytes instanceof Uint8Array)) {
      throw new ValueError("NerTagger.fromBytes: the weights must be a Uint8Array");
    }
    const checksum = checksumOf(safetensorsBytes);
    if (checksum !== config.weights.checksum) {
      throw new FormatError(
        `NER model: ${config.weights.file} does not match config.json (checksum ${checksum}, config.json expects ${config.weights.checksum}); the directory was perhaps left half-written`,
        0,
        config.weights.file,
      );
    }
    const { tensors } = parse(safetensorsBytes, { file: config.weights.file });
    checkWeightsFitConfig(config.model, tensors, config.weights.file);
    checkFiniteWeights(tensors, { ...options, file: config.weights.file });
    const model = new WindowModel(config.model);
    model.loadStateDict(tensors);
    model.eval();
    return new NerTagger(model, {
      vocabulary: Vocabulary.fromJSON(config.vocabulary),
      tagSet: config.tags === null ? null : TagSet.fromJSON(config.tags),
      scheme: config.scheme,
      trainingScheme: config.trainingScheme,
      binary: config.binary,
      decoding: config.decoding,
      ...(config.training !== undefined ? { training: config.training } : {}),
    });
  }

  /** The contents of a model directory: `config.json`'s text and `model.safetensors`' bytes. */
  toBytes(): {
    /** The text of `config.json`. */
    config: string;
    /** The bytes of `model.safetensors`. */
    weights: Uint8Array;
    /** `config` as an object. */
    configObject: NerModelConfig;
  } {
    const weights = serialize(this.model, { format: NER_MODEL_FORMAT });
    const configObject = this.configObject(checksumOf(weights));
    return { config: JSON.stringify(configObject, null, 2) + "\n", weights, configObject };
  }

  /**
   * {@link NerTagger.toBytes} with `model.safetensors` in pieces (see `serializeParts`): the weights' bytes are
   * views of the model's parameters, not a copy, so they must be written before the model trains on.
   */
  toParts(): {
    /** `model.safetensors`' bytes in pieces, in order. */
    weights: Uint8Array[];
    /** `config.json` as an object. */
    configObject: NerModelConfig;
  } {
    const weights = serializeParts(this.model, { format: NER_MODEL_FORMAT });
    return { weights, configObject: this.configObject(checksumOf(weights)) };
  }

  private configObject(checksum: string): NerModelConfig {
    return {
      format: NER_MODEL_FORMAT,
      version: NER_MODEL_VERSION,
      chainrule: VERSION,
      model: { ...this.model.config },
      vocabulary: this.vocabulary.toJSON(),
      casing: casingToJSON(),
      tags: this.tagSet === null ? null : this.tagSet.toJSON(),
      scheme: this.scheme,
      trainingScheme: this.trainingScheme,
      binary: this.binary,
      decoding: this.decoding,
      weights: { file: MODEL_WEIGHTS_FILE, checksum },
      ...(this.training !== undefined ? { training: this.training } : {}),
    };
  }

  /** The entity types the tagger can find. */
  get entityTypes(): string[] {
    if (this.binary !== null) return [this.binary];
    const types = new Set<string>();
    for (const tag of this.tagSet!.tags) {
      const hyphen = tag.indexOf("-");
      if (hyphen > 0) types.add(tag.slice(hyphen + 1));
    }
    return [...types].sort();
  }

  /** Predicted tag ids (and probabilities) for tokenised sentences. */
  predict(sentences: readonly (readonly string[])[]): SentencePrediction[] {
    const nonEmpty = sentences.filter((s) => s.length > 0);
    const { windowSize, features } = this.model.config;
    const windows = buildWindows(
      nonEmpty.map((tokens) => ({ tokens })),
      { vocabulary: this.vocabulary, windowSize },
    );
    const predicted: SentencePrediction[] = [];
    this.forEachPrediction(
      windowMatrixSource(windows, buildFeatureWindows(nonEmpty, features, windowSize)),
      (prediction) => predicted.push(prediction),
    );
    let next = 0;
    return sentences.map((s) =>
      s.length === 0 ? { ids: new Int32Array(0), scores: new Float64Array(0) } : predicted[next++]!,
    );
  }

  /**
   * Predicts the sentences of windows built beforehand (a dev set's, built once for a whole training run),
   * calling `each` with every sentence's prediction in order; memory holds one chunk of windows at a time.
   * {@link NerTagger.tagsOfPrediction} turns a prediction into tags.
   */
  forEachPrediction(
    source: WindowRowSource,
    each: (prediction: SentencePrediction, sentence: number) => void,
    options: { compile?: boolean } = {},
  ): void {
    forEachPrediction(
      this.model,
      source,
      { decoding: this.decoding, transitions: this.transitions, compile: options.compile },
      each,
    );
  }

  /** The tags of one predicted sentence in `scheme` (default IOB2), as {@link NerTagger.tagSentences} gives them. */
  tagsOfPrediction(prediction: SentencePrediction, scheme: TagScheme = "IOB2"): string[] {
    return this.tagsOf(prediction, checkTagScheme(scheme, "NerTagger.tagsOfPrediction"));
  }

  /** The entities of one predicted sentence, as token spans. */
  private entitiesOf(prediction: SentencePrediction): EntitySpan[] {
    if (this.binary !== null) {
      const spans: EntitySpan[] = [];
      const { ids } = prediction;
      for (let t = 0; t < ids.length; t++) {
        if (ids[t] !== 1) continue;
        const start = t;
        while (t + 1 < ids.length && ids[t + 1] === 1) t++;
        spans.push({ type: this.binary, start, end: t + 1 });
      }
      return spans;
    }
    const tags = Array.from(prediction.ids, (id) => this.tagSet!.tagOf(id));
    return extractEntities(tags, this.trainingScheme);
  }

  /** Tags for tokenised sentences, in `scheme` (default IOB2). */
  tagSentences(sentences: readonly (readonly string[])[], options: TagOptions = {}): string[][] {
    const scheme = checkTagScheme(options.scheme ?? "IOB2", "NerTagger.tagSentences");
    return this.predict(sentences).map((prediction) => this.tagsOf(prediction, scheme));
  }

  /** Tags of one predicted sentence in `scheme`. */
  private tagsOf(prediction: SentencePrediction, scheme: TagScheme): string[] {
    if (this.binary === null && scheme === this.trainingScheme && this.decoding === "viterbi") {
      // Viterbi output is already well formed in the training scheme.
      return Array.from(prediction.ids, (id) => this.tagSet!.tagOf(id));
    }
    if (this.binary === null) {
      const tags = Array.from(prediction.ids, (id) => this.tagSet!.tagOf(id));
      return convertTags(tags, this.trainingScheme, scheme);
    }
    return encodeEntities(this.entitiesOf(prediction), prediction.ids.length, scheme);
  }

  /** Tags for one tokenised sentence, in `scheme` (default IOB2). */
  tagTokens(tokens: readonly string[], options: TagOptions = {}): string[] {
    if (!Array.isArray(tokens)) throw new ValueError("NerTagger.tagTokens: expected an array of tokens");
    return this.tagSentences([tokens], options)[0]!;
  }

  /**
   * Tokenizes English text, splits it into sentences, tags every token and collects the entities, all with
   * character offsets into `text`.
   */
  tag(text: string, options: TagOptions = {}): TaggedText {
    if (typeof text !== "string")
      throw new ValueError(`NerTagger.tag: expected a string, got ${typeof text}`);
    const scheme = checkTagScheme(options.scheme ?? "IOB2", "NerTagger.tag");
    const sentences = tokenizeSentences(text);
    const predictions = this.predict(sentences.map((s) => s.tokens.map((token) => token.text)));
    const tokens: TaggedToken[] = [];
    const entities: TaggedEntity[] = [];
    const ranges: TaggedText["sentences"] = [];
    sentences.forEach((sentence, s) => {
      const prediction = predictions[s]!;
      const offset = tokens.length;
      const tags = this.tagsOf(prediction, scheme);
      sentence.tokens.forEach((token: Token, t) => {
        tokens.push({ ...token, tag: tags[t]!, score: prediction.scores[t]! });
      });
      for (const span of this.entitiesOf(prediction)) {
        const first = sentence.tokens[span.start]!;
        const last = sentence.tokens[span.end - 1]!;
        entities.push({
          type: span.type,
          text: text.slice(first.start, last.end),
          start: first.start,
          end: last.end,
          tokenStart: offset + span.start,
          tokenEnd: offset + span.end,
        });
      }
      ranges.push({
        tokenStart: offset,
        tokenEnd: tokens.length,
        start: sentence.start,
        end: sentence.end,
      });
    });
    return { text, tokens, entities, sentences: ranges };
  }

  /** A copy of the weights as named tensors. */
  stateDict(): Record<string, Tensor> {
    return this.model.stateDict();
  }
}
