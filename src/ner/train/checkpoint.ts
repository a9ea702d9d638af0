/**
 * Stage 4 of an epoch: the checkpoint, a snapshot from which training continues bit for bit (options,
 * vocabulary, tags, the random generator's state, the history, and the current weights, the best weights
 * and the optimiser's state as tensors). As bytes it is a safetensors file with the state as JSON in the
 * metadata; every field is checked when it is read back, so a damaged or crafted file gives a clear error
 * rather than a crash, a hang or an absurd allocation.
 */
import { ChainruleError, FormatError, quoteInput } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { parse, serialize, serializeParts } from "../../nn/safetensors.js";
import { windowModelConfig, type WindowModelConfig } from "../model.js";
import { TagSet, Vocabulary, type TagSetJSON, type VocabularyJSON } from "../vocab.js";
import { checkTagScheme, type TagScheme } from "../tags.js";
import { checkResolvedOptions, type ResolvedTrainingOptions } from "./options.js";
import { optimizerStateFields } from "./optimizer.js";
import { checkModelConfigSizes } from "../model-config.js";
import type { TrainingRun } from "./prepare.js";
import type { TrainingProgress } from "./best.js";
import type { DevScores, EpochRecord, PretrainedInfo } from "./types.js";

/** A snapshot from which training continues exactly: JSON-able state plus named tensors. */
export interface TrainingCheckpoint {
  /** Everything but the tensors, as JSON-safe data. */
  state: CheckpointState;
  /** `model.<name>` (current weights), `best.<name>` (best weights so far), `optimizer.<name>`. */
  tensors: Record<string, Tensor>;
}

/** The JSON part of a training checkpoint: where the run stands and what it was started with. */
export interface CheckpointState {
  /** Always "chainrule-ner-checkpoint". */
  format: "chainrule-ner-checkpoint";
  /** The checkpoint format's version. */
  version: 1;
  /** The run's training options, every default filled in. */
  options: ResolvedTrainingOptions;
  /** The network's hyperparameters. */
  modelConfig: WindowModelConfig;
  /** The word vocabulary. */
  vocabulary: VocabularyJSON;
  /** The output tags (null for the binary classifier). */
  tags: TagSetJSON | null;
  /** The tag scheme of the training data. */
  scheme: TagScheme;
  /** The scheme the model's output tags are written in. */
  trainingScheme: TagScheme;
  /** A checksum of the training sentences, to refuse resuming on other data. */
  dataFingerprint: string;
  /** Epochs finished. */
  epochsCompleted: number;
  /** The epoch with the best dev F1 so far (1-based; 0 before the first). */
  bestEpoch: number;
  /** The best dev F1 so far (null, as JSON writes −∞, before the first epoch). */
  bestF1: number | null;
  /** Epochs since the dev F1 last improved (for early stopping). */
  epochsWithoutImprovement: number;
  /** True once early stopping triggered: there is nothing left to do. */
  finished: boolean;
  /** The random generator's state after the last completed epoch. */
  random: (number | null)[];
  /** One record per finished epoch. */
  history: EpochRecord[];
  /** Pretrained vector statistics of the run (informational). */
  pretrained: PretrainedInfo | null;
}

export const CHECKPOINT_FORMAT = "chainrule-ner-checkpoint";

function prefixed(tensors: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(tensors)) out[`${prefix}${name}`] = value;
  return out;
}

/**
 * The checkpoint after `epoch` completed epochs. Its model and optimiser tensors are copies, or with `views`
 * the live parameters and optimiser buffers themselves (see `TrainingHooks.checkpointViews`); its best weights
 * are the run's best copy (`progress.bestState`) either way.
 */
export function makeCheckpoint(
  run: TrainingRun,
  progress: TrainingProgress,
  epoch: number,
  views = false,
): TrainingCheckpoint {
  return {
    state: {
      format: CHECKPOINT_FORMAT,
      version: 1,
      options: run.options,
      modelConfig: run.modelConfig,
      vocabulary: run.vocabulary.toJSON(),
      tags: run.tagSet === null ? null : run.tagSet.toJSON(),
      scheme: run.scheme,
      trainingScheme: run.trainingScheme,
      dataFingerprint: run.fingerprint,
      epochsCompleted: epoch,
      bestEpoch: progress.bestEpoch,
      bestF1: progress.bestF1,
      epochsWithoutImprovement: progress.epochsWithoutImprovement,
      finished: progress.finished,
      random: run.random.getState().map((v) => (Number.isNaN(v) ? null : v)),
      history: progress.history.map((r) => ({ ...r })),
      pretrained: run.pretrained,
    },
    tensors: {
      ...prefixed(run.model.stateDict({ copy: !views }), "model."),
      ...prefixed(progress.bestState!, "best."),
      ...prefixed(run.optimizer.stateDict({ copy: !views }), "optimizer."),
    },
  };
}

/** A checkpoint as safetensors bytes (the state as JSON in the metadata): browser-safe. */
export function checkpointToBytes(checkpoint: TrainingCheckpoint): Uint8Array {
  return serialize(checkpoint.tensors, { state: JSON.stringify(checkpoint.state) });
}

/**
 * {@link checkpointToBytes} in pieces (see `serializeParts`): the same bytes, the tensors' as views of the
 * checkpoint's tensors rather than one more copy of every weight (a checkpoint holds the model twice).
 */
export function checkpointToParts(checkpoint: TrainingCheckpoint): Uint8Array[] {
  return serializeParts(checkpoint.tensors, { state: JSON.stringify(checkpoint.state) });
}

// ---------------------------------------------------------------------------------------------------------
// Reading a checkpoint back: every field checked

/** Checks the fields of a parsed checkpoint; `fail` throws with the file's name. */
class StateReader {
  constructor(
    private readonly file: string,
    private readonly offset: number,
  ) {}

  fail(message: string): never {
    throw new FormatError(`${this.file}: damaged checkpoint: ${message}`, this.offset, this.file);
  }

  object(value: unknown, name: string): Record<string, unknown> {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.fail(`"${name}" must be an object`);
    }
    return value as Record<string, unknown>;
  }

  field(record: Record<string, unknown>, key: string, name = key): unknown {
    if (!Object.prototype.hasOwnProperty.call(record, key)) this.fail(`"${name}" is missing`);
    return record[key];
  }

  integer(value: unknown, name: string, min: number, max: number): number {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(`"${name}" must be an integer in [${min}, ${max}], got ${shortText(value)}`);
    }
    return value;
  }

  number(value: unknown, name: string): number {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.fail(`"${name}" must be a finite number, got ${shortText(value)}`);
    }
    return value;
  }

  boolean(value: unknown, name: string): boolean {
    if (typeof value !== "boolean") this.fail(`"${name}" must be true or false, got ${shortText(value)}`);
    return value;
  }

  string(value: unknown, name: string): string {
    if (typeof value !== "string") this.fail(`"${name}" must be a string, got ${shortText(value)}`);
    return value;
  }

  /** Runs a check that throws a ChainruleError of its own, re-throwing it as this file's FormatError. */
  wrap<T>(name: string, check: () => T): T {
    try {
      return check();
    } catch (error) {
      if (error instanceof FormatError || !(error instanceof ChainruleError)) throw error;
      this.fail(`"${name}": ${error.message}`);
    }
  }
}

/** A value as a message shows it (see `quoteInput`), with a missing one as "nothing". */
function shortText(value: unknown): string {
  return value === undefined ? "nothing" : quoteInput(value);
}

function checkScores(reader: StateReader, value: unknown, name: string): DevScores | null {
  if (value === null) return null;
  const record = reader.object(value, name);
  const scores = {} as DevScores;
  for (const key of ["precision", "recall", "f1", "accuracy"] as const) {
    scores[key] = reader.number(reader.field(record, key, `${name}.${key}`), `${name}.${key}`);
  }
  return scores;
}

function checkHistory(reader: StateReader, value: unknown, epochsCompleted: number): EpochRecord[] {
  if (!Array.isArray(value)) reader.fail(`"history" must be an array of epoch records`);
  if (value.length !== epochsCompleted) {
    reader.fail(`"history" has ${value.length} records but "epochsCompleted" is ${epochsCompleted}`);
  }
  return value.map((item: unknown, i) => {
    const name = `history[${i}]`;
    const r = reader.object(item, name);
    const number = (key: string) => reader.number(reader.field(r, key, `${name}.${key}`), `${name}.${key}`);
    const record: EpochRecord = {
      epoch: reader.integer(reader.field(r, "epoch", `${name}.epoch`), `${name}.epoch`, i + 1, i + 1),
      loss: number("loss"),
      lr: number("lr"),
      examples: reader.integer(
        reader.field(r, "examples", `${name}.examples`),
        `${name}.examples`,
        0,
        Number.MAX_SAFE_INTEGER,
      ),
      seconds: number("seconds"),
      examplesPerSecond: number("examplesPerSecond"),
      evaluationSeconds: number("evaluationSeconds"),
      dev: checkScores(reader, reader.field(r, "dev", `${name}.dev`), `${name}.dev`),
      best: reader.boolean(reader.field(r, "best", `${name}.best`), `${name}.best`),
    };
    return record;
  });
}

/**
 * The number of weights a window model of this configuration holds at least (the word and casing tables,
 * W, b, U and its bias): checked against the file before a model is built, so that a config asking for more
 * than the file holds is refused without allocating it.
 */
function minimumParameterCount(config: WindowModelConfig): number {
  const width = 2 * config.windowSize + 1;
  const inputSize = width * (config.wordDimension + config.casingDimension);
  return (
    config.vocabularySize * config.wordDimension +
    (config.casingDimension > 0 ? config.casingClasses * config.casingDimension : 0) +
    config.hiddenSize * inputSize +
    config.hiddenSize +
    config.outputSize * config.hiddenSize +
    (config.binary ? 0 : config.outputSize)
  );
}

/**
 * The optimiser's entries are `optimizer.lr` and `optimizer.<i>.<field>`, for a parameter index i of the model
 * and a field the run's optimiser saves (`step` and its buffers: `momentum` for SGD, …). Their shapes and
 * values are checked again when the optimiser loads them.
 */
function checkOptimizerTensors(
  reader: StateReader,
  tensors: Record<string, Tensor>,
  options: ResolvedTrainingOptions,
  parameterCount: number,
): void {
  const fields = optimizerStateFields(options);
  for (const name of Object.keys(tensors)) {
    if (!name.startsWith("optimizer.") || name === "optimizer.lr") continue;
    const match = /^optimizer\.(0|[1-9][0-9]{0,8})\.(.+)$/.exec(name);
    if (match === null || Number(match[1]) >= parameterCount || !fields.has(match[2]!)) {
      reader.fail(
        `unexpected optimizer tensor ${shortText(name)}: the ${options.optimizer} optimizer of a model with ` +
          `${parameterCount} parameters saves "optimizer.lr" and "optimizer.<0 to ${parameterCount - 1}>.<name>" ` +
          `with <name> one of ${[...fields].map((f) => `"${f}"`).join(", ")}`,
      );
    }
  }
}

function checkTensors(
  reader: StateReader,
  tensors: Record<string, Tensor>,
  config: WindowModelConfig,
  options: ResolvedTrainingOptions,
): void {
  const model = Object.entries(tensors).filter(([name]) => name.startsWith("model."));
  const best = Object.entries(tensors).filter(([name]) => name.startsWith("best."));
  for (const name of Object.keys(tensors)) {
    if (!/^(model|best|optimizer)\./.test(name)) reader.fail(`unexpected tensor ${shortText(name)}`);
  }
  if (model.length === 0) reader.fail("no model weights (tensors named model.*)");
  if (best.length === 0) reader.fail("no best weights (tensors named best.*)");
  if (tensors["optimizer.lr"] === undefined) reader.fail("no optimizer state (optimizer.lr)");
  checkOptimizerTensors(reader, tensors, options, model.length);
  const held = model.reduce((sum, [, t]) => sum + t.size, 0);
  const needed = minimumParameterCount(config);
  if (needed > held) {
    reader.fail(`"modelConfig" needs at least ${needed} weights but the file holds ${held}`);
  }
  // The best weights have the model's names and shapes.
  const shapes = new Map(model.map(([name, t]) => [name.slice("model.".length), t.shape.join("x")]));
  if (best.length !== model.length) reader.fail("the best weights do not match the model's");
  for (const [name, t] of best) {
    if (shapes.get(name.slice("best.".length)) !== t.shape.join("x")) {
      reader.fail(`${shortText(name)} does not match the model's weights`);
    }
  }
}

/** Checks a checkpoint's state field by field (see {@link checkpointFromBytes}). */
function checkState(reader: StateReader, value: unknown, tensors: Record<string, Tensor>): CheckpointState {
  const s = reader.object(value, "state");
  if (s.format !== CHECKPOINT_FORMAT || s.version !== 1) {
    reader.fail(`not a chainrule NER training checkpoint of version 1`);
  }
  const options = reader.wrap("options", () =>
    checkResolvedOptions(reader.field(s, "options"), "checkpoint"),
  );
  const vocabularyJson = reader.field(s, "vocabulary");
  const vocabulary = reader.wrap("vocabulary", () => Vocabulary.fromJSON(vocabularyJson));
  const tagsJson = reader.field(s, "tags");
  const tags = tagsJson === null ? null : reader.wrap("tags", () => TagSet.fromJSON(tagsJson));
  if ((tags === null) !== (options.binary !== null)) {
    reader.fail(`"tags" must be null exactly for a binary classifier`);
  }
  const rawConfig = reader.object(reader.field(s, "modelConfig"), "modelConfig");
  // The sizes are bounded as a model directory's config.json's are, before anything is computed from them.
  reader.wrap("modelConfig", () => checkModelConfigSizes(rawConfig, "sizes"));
  const modelConfig = reader.wrap("modelConfig", () => windowModelConfig(rawConfig as never));
  if (modelConfig.vocabularySize !== vocabulary.size) {
    reader.fail(
      `"modelConfig.vocabularySize" is ${modelConfig.vocabularySize} but the vocabulary has ${vocabulary.size} entries`,
    );
  }
  if (modelConfig.binary !== (options.binary !== null)) {
    reader.fail(`"modelConfig.binary" does not match "options.binary"`);
  }
  if (tags !== null && modelConfig.outputSize !== tags.size) {
    reader.fail(`"modelConfig.outputSize" is ${modelConfig.outputSize} but there are ${tags.size} tags`);
  }
  checkTensors(reader, tensors, modelConfig, options);
  const scheme = reader.wrap("scheme", () => checkTagScheme(reader.field(s, "scheme"), "scheme"));
  const trainingScheme = reader.wrap("trainingScheme", () =>
    checkTagScheme(reader.field(s, "trainingScheme"), "trainingScheme"),
  );
  const dataFingerprint = reader.string(reader.field(s, "dataFingerprint"), "dataFingerprint");
  const epochsCompleted = reader.integer(
    reader.field(s, "epochsCompleted"),
    "epochsCompleted",
    1,
    options.epochs,
  );
  const bestEpoch = reader.integer(reader.field(s, "bestEpoch"), "bestEpoch", 1, epochsCompleted);
  const bestF1Value = reader.field(s, "bestF1");
  const bestF1 = bestF1Value === null ? null : reader.number(bestF1Value, "bestF1");
  const epochsWithoutImprovement = reader.integer(
    reader.field(s, "epochsWithoutImprovement"),
    "epochsWithoutImprovement",
    0,
    epochsCompleted - bestEpoch,
  );
  const finished = reader.boolean(reader.field(s, "finished"), "finished");
  const randomValue = reader.field(s, "random");
  if (
    !Array.isArray(randomValue) ||
    randomValue.length !== 5 ||
    !randomValue.slice(0, 4).every((v) => Number.isInteger(v) && Math.abs(v as number) <= 2 ** 32) ||
    !(randomValue[4] === null || Number.isFinite(randomValue[4]))
  ) {
    reader.fail(`"random" must be a generator state of 4 integers and a number or null`);
  }
  const history = checkHistory(reader, reader.field(s, "history"), epochsCompleted);
  const pretrainedValue = reader.field(s, "pretrained");
  let pretrained: PretrainedInfo | null = null;
  if (pretrainedValue !== null) {
    const p = reader.object(pretrainedValue, "pretrained");
    const count = (key: string) =>
      reader.integer(
        reader.field(p, key, `pretrained.${key}`),
        `pretrained.${key}`,
        0,
        Number.MAX_SAFE_INTEGER,
      );
    pretrained = { words: count("words"), found: count("found"), dimension: count("dimension") };
  }
  return {
    format: CHECKPOINT_FORMAT,
    version: 1,
    options,
    modelConfig,
    vocabulary: vocabulary.toJSON(),
    tags: tags === null ? null : tags.toJSON(),
    scheme,
    trainingScheme,
    dataFingerprint,
    epochsCompleted,
    bestEpoch,
    bestF1,
    epochsWithoutImprovement,
    finished,
    random: randomValue as (number | null)[],
    history,
    pretrained,
  };
}

/**
 * Reads {@link checkpointToBytes}' output back, checking every field: a damaged or crafted file gives a
 * FormatError naming the field.
 */
export function checkpointFromBytes(bytes: Uint8Array, file = "checkpoint"): TrainingCheckpoint {
  const { tensors, metadata } = parse(bytes, { file });
  const text = metadata.state;
  if (text === undefined)
    throw new FormatError(`${file}: not a training checkpoint (no "state" metadata)`, 8, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FormatError(`${file}: the checkpoint's state is not valid JSON`, 8, file);
  }
  if (
    parsed === null ||
    typeof parsed !== "object" ||
    (parsed as { format?: unknown }).format !== CHECKPOINT_FORMAT ||
    (parsed as { version?: unknown }).version !== 1
  ) {
    throw new FormatError(`${file}: not a chainrule NER training checkpoint of version 1`, 8, file);
  }
  const state = checkState(new StateReader(file, 8), parsed, tensors);
  return { state, tensors };
}
