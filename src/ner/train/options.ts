/**
 * The training options in one table: each option's kind, bounds, default and (when the CLI offers it) its
 * flag and help line. `resolveTrainingOptions` (the library) and `chainrule ner train` (the CLI) both read
 * their defaults and checks from here, so the two never disagree.
 *
 * Adding an option: a field in {@link NerTrainingOptions} and an entry in {@link TRAINING_OPTIONS} (the
 * compiler refuses the one without the other); give it a `flag` to offer it on the command line.
 */
import { ValueError, quoteInput } from "../../errors.js";
import { ACTIVATIONS, OBJECTIVES, type Activation, type Objective } from "../model.js";
import { DECODINGS, type Decoding } from "../decode.js";
import type { TagScheme } from "../tags.js";

/** The optimisers a training run can use: SGD (θ ← θ − α∇θJ, as in the lecture), Adam or AdaGrad. */
export type OptimizerName = "sgd" | "adam" | "adagrad";

/** Every optimiser name, for option checks and help texts. */
export const OPTIMIZERS: readonly OptimizerName[] = ["sgd", "adam", "adagrad"];

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
  pretrainedWords?: number | null;
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
  /**
   * α of frequency-aware word dropout: a training word seen c times is replaced by `<unk>` with probability
   * α / (α + c), so rare words teach the `<unk>` vector what unseen words look like (default 1; 0: off).
   */
  rareWordDropout?: number;
  /**
   * "window": each window on its own with a softmax (the lecture's model); "sentence": whole sentences with
   * a CRF over the window network's tag scores (Collobert's sentence-level log-likelihood).
   */
  objective?: Objective;
  /** Length of each word's prefix vector (default 10; 0: no prefix feature). */
  prefixDimension?: number;
  /** Length of each word's suffix vector (default 10; 0: no suffix feature). */
  suffixDimension?: number;
  /** Length of each word's shape vector (default 5; 0: no shape feature). */
  shapeDimension?: number;
  /**
   * Run each training step through `compile` (default true): traced once, then replayed as a plan of kernels
   * over fixed buffers. `false` trains eagerly, one op at a time; both give the same losses.
   */
  compile?: boolean;
  /** Characters of the prefix and suffix features (default 3). */
  affixLength?: number;
  /** Prefixes, suffixes and shapes seen fewer times in the training words count as unknown (default 2). */
  featureMinCount?: number;
}

/** The options with every default filled in (stored in checkpoints and in the model's config). */
export type ResolvedTrainingOptions = {
  [K in keyof NerTrainingOptions]-?: Exclude<NerTrainingOptions[K], undefined>;
};

/** The default learning rate of each optimiser. */
export const DEFAULT_LEARNING_RATES: Readonly<Record<OptimizerName, number>> = {
  sgd: 0.1,
  adam: 0.001,
  adagrad: 0.05,
};

/** How an option is offered on the command line. */
export interface OptionFlag {
  /** The flag with its argument, e.g. `--hidden <n>`. */
  flag: string;
  /** The help line (the default is appended from the table). */
  help: string;
  /** The default as the help shows it, when it is not simply the table's default. */
  shownDefault?: string;
}

interface SpecBase<T> {
  /** The default, or a function of the options resolved before this one (in table order). */
  default: T | ((resolved: Partial<ResolvedTrainingOptions>) => T);
  cli?: OptionFlag;
  /** Added after checkpoints were first written: a checkpoint without it gets the default. */
  addedLater?: boolean;
  /**
   * With `addedLater`: the value a run written before the option existed trained with, when it differs from
   * today's default (a resumed run carries on as it began).
   */
  legacy?: T;
}

/** An integer in [min, max] (`nullable`: null is allowed too, meaning "not set"). */
export interface IntegerSpec extends SpecBase<number | null> {
  kind: "integer";
  min: number;
  max: number;
  nullable?: boolean;
}

/** A finite number in [min, max] or [min, max). */
export interface NumberSpec extends SpecBase<number | null> {
  kind: "number";
  min: number;
  max: number;
  maxOpen?: boolean;
  nullable?: boolean;
}

export interface ChoiceSpec extends SpecBase<string> {
  kind: "choice";
  choices: readonly string[];
}

export interface BooleanSpec extends SpecBase<boolean> {
  kind: "boolean";
}

/** An entity type such as `LOC` (a non-empty word), or null. */
export interface EntityTypeSpec extends SpecBase<null> {
  kind: "entityType";
}

export type OptionSpec = IntegerSpec | NumberSpec | ChoiceSpec | BooleanSpec | EntityTypeSpec;

/** Upper bounds that keep a crafted checkpoint or a typo from asking for an absurd allocation. */
const MAX_SIZE = 1_000_000;
const MAX_EPOCHS = 1_000_000;

/**
 * Every training option, in the order they are resolved, checked and listed by `ner train --help`: the model,
 * the data, then the optimisation (the optimiser before the learning rate, whose default depends on it).
 */
export const TRAINING_OPTIONS: { readonly [K in keyof NerTrainingOptions]-?: OptionSpec } = {
  windowSize: {
    kind: "integer",
    min: 0,
    max: 100,
    default: 2,
    cli: { flag: "--window <w>", help: "words on each side of the centre word (windows of 2w + 1)" },
  },
  wordDimension: {
    kind: "integer",
    min: 1,
    max: MAX_SIZE,
    default: 50,
    cli: { flag: "--word-dim <d>", help: "word vector length without --embeddings" },
  },
  casingDimension: {
    kind: "integer",
    min: 0,
    max: MAX_SIZE,
    default: 5,
    cli: { flag: "--casing-dim <c>", help: "casing vector length; 0 turns the casing features off" },
  },
  hiddenSize: {
    kind: "integer",
    min: 1,
    max: MAX_SIZE,
    default: 300,
    cli: { flag: "--hidden <n>", help: "hidden units" },
  },
  activation: {
    kind: "choice",
    choices: ACTIVATIONS,
    default: "tanh",
    cli: { flag: "--activation <f>", help: "tanh, relu, sigmoid or hardtanh" },
  },
  dropout: {
    kind: "number",
    min: 0,
    max: 1,
    maxOpen: true,
    default: 0,
    cli: { flag: "--dropout <p>", help: "dropout on the hidden layer" },
  },
  inputDropout: {
    kind: "number",
    min: 0,
    max: 1,
    maxOpen: true,
    default: 0,
    cli: { flag: "--input-dropout <p>", help: "dropout on the window vector" },
  },
  wordDropout: {
    kind: "number",
    min: 0,
    max: 1,
    maxOpen: true,
    default: 0,
    cli: { flag: "--word-dropout <p>", help: "replace training words by <unk> with this probability" },
  },
  rareWordDropout: {
    kind: "number",
    min: 0,
    max: Number.MAX_VALUE,
    default: 1,
    addedLater: true,
    legacy: 0,
    cli: {
      flag: "--rare-word-dropout <alpha>",
      help: "replace a training word seen c times by <unk> with probability alpha / (alpha + c); 0: off",
    },
  },
  objective: {
    kind: "choice",
    choices: OBJECTIVES,
    default: "window",
    cli: {
      flag: "--objective <o>",
      help: "window (softmax per window) or sentence (a CRF over the sentence: learned tag transitions, Viterbi)",
    },
  },
  prefixDimension: {
    kind: "integer",
    min: 0,
    max: MAX_SIZE,
    default: 10,
    cli: { flag: "--prefix-dim <n>", help: "length of each word's prefix vector; 0: no prefix feature" },
  },
  suffixDimension: {
    kind: "integer",
    min: 0,
    max: MAX_SIZE,
    default: 10,
    cli: { flag: "--suffix-dim <n>", help: "length of each word's suffix vector; 0: no suffix feature" },
  },
  shapeDimension: {
    kind: "integer",
    min: 0,
    max: MAX_SIZE,
    default: 5,
    cli: { flag: "--shape-dim <n>", help: "length of each word's shape vector (Xxx, X.X., dd-dd); 0: none" },
  },
  affixLength: {
    kind: "integer",
    min: 1,
    max: 100,
    default: 3,
    cli: { flag: "--affix-length <n>", help: "characters of the prefix and suffix features" },
  },
  featureMinCount: {
    kind: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    default: 2,
    cli: {
      flag: "--feature-min-count <n>",
      help: "keep prefixes, suffixes and shapes seen at least n times",
    },
  },
  embeddingScale: {
    kind: "number",
    min: 0,
    max: MAX_SIZE,
    default: 0.1,
    cli: { flag: "--embedding-scale <s>", help: "standard deviation of random word vectors" },
  },
  binary: {
    kind: "entityType",
    default: null,
    cli: {
      flag: "--binary <type>",
      help: "train the lecture's binary classifier s = uᵀh, J = σ(s) for one entity type, e.g. LOC",
    },
  },
  minCount: {
    kind: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    default: 1,
    cli: { flag: "--min-count <n>", help: "keep words seen at least n times" },
  },
  lowercase: { kind: "boolean", default: true },
  normalizeDigits: { kind: "boolean", default: true },
  pretrainedWords: {
    kind: "integer",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    nullable: true,
    default: null,
    cli: {
      flag: "--pretrained-words <n>",
      help: "with --embeddings, add at most n words of the table to the vocabulary",
      shownDefault: "all",
    },
  },
  trainingScheme: {
    kind: "choice",
    choices: ["IOBES", "IOB2", "IOB1", "data"],
    default: "IOBES",
    cli: { flag: "--scheme <scheme>", help: "tag scheme the model is trained in: IOBES, IOB2, IOB1 or data" },
  },
  decoding: {
    kind: "choice",
    choices: [...DECODINGS].reverse(),
    default: "viterbi",
    cli: { flag: "--decoding <d>", help: "viterbi (best valid sequence) or greedy" },
  },
  optimizer: {
    kind: "choice",
    choices: OPTIMIZERS,
    default: "sgd",
    cli: { flag: "--optimizer <name>", help: "sgd (the lecture's update), adam or adagrad" },
  },
  lr: {
    kind: "number",
    min: 0,
    max: Number.MAX_VALUE,
    default: (resolved) => DEFAULT_LEARNING_RATES[resolved.optimizer ?? "sgd"],
    cli: {
      flag: "--lr <rate>",
      help: "learning rate",
      shownDefault: "0.1 for sgd, 0.001 for adam, 0.05 for adagrad",
    },
  },
  lrDecay: {
    kind: "number",
    min: 0,
    max: Number.MAX_VALUE,
    default: 0,
    cli: { flag: "--lr-decay <d>", help: "per-epoch decay: lr / (1 + d·(epoch − 1))" },
  },
  momentum: {
    kind: "number",
    min: 0,
    max: 1,
    maxOpen: true,
    default: 0,
    cli: { flag: "--momentum <m>", help: "momentum of sgd" },
  },
  weightDecay: {
    kind: "number",
    min: 0,
    max: Number.MAX_VALUE,
    default: 0,
    cli: { flag: "--weight-decay <l2>", help: "L2 penalty" },
  },
  clipNorm: {
    kind: "number",
    min: 0,
    max: Number.MAX_VALUE,
    nullable: true,
    default: null,
    cli: {
      flag: "--clip-norm <n>",
      help: "rescale the gradients to a joint norm of at most n",
      shownDefault: "no clipping",
    },
  },
  batchSize: {
    kind: "integer",
    min: 1,
    max: MAX_SIZE,
    default: 32,
    cli: { flag: "--batch-size <n>", help: "windows per minibatch" },
  },
  epochs: {
    kind: "integer",
    min: 1,
    max: MAX_EPOCHS,
    default: 10,
    cli: { flag: "--epochs <n>", help: "maximum epochs" },
  },
  patience: {
    kind: "integer",
    min: 0,
    max: MAX_EPOCHS,
    default: 3,
    cli: { flag: "--patience <n>", help: "stop after n epochs without a better dev F1; 0: never" },
  },
  seed: {
    kind: "integer",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: 0,
    cli: { flag: "--seed <n>", help: "seed of initialisation, shuffling and dropout" },
  },
  compile: {
    kind: "boolean",
    default: true,
    addedLater: true,
    cli: {
      flag: "--no-compile",
      help: "train eagerly, one op at a time, instead of replaying a compiled step",
      shownDefault: "compiled",
    },
  },
};

/** The option names in resolution order. */
export const TRAINING_OPTION_NAMES = Object.keys(TRAINING_OPTIONS) as (keyof NerTrainingOptions)[];

function rangeText(spec: NumberSpec): string {
  if (spec.max >= Number.MAX_VALUE) return `≥ ${spec.min}`;
  return `in [${spec.min}, ${spec.max}${spec.maxOpen ? ")" : "]"}`;
}

/** A value as an error message shows it: short and readable, strings quoted, never `[object Object]`. */
function shown(value: unknown): string {
  return quoteInput(value);
}

/**
 * Checks one option's value against its spec; `name` is how messages call it (`trainNer: batchSize`, or
 * `--batch-size` from the CLI). Returns the value; throws a ValueError naming it.
 */
export function checkOptionValue(key: keyof NerTrainingOptions, value: unknown, name: string): unknown {
  const spec = TRAINING_OPTIONS[key];
  switch (spec.kind) {
    case "integer": {
      if (value === null && spec.nullable) return null;
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
        // Name the bound that is broken: the lower one for a small or non-integer value.
        const bound = typeof value === "number" && value > spec.max ? `≤ ${spec.max}` : `≥ ${spec.min}`;
        throw new ValueError(`${name} must be an integer ${bound}, got ${shown(value)}`);
      }
      return value;
    }
    case "number": {
      if (value === null && spec.nullable) return null;
      const ok =
        typeof value === "number" &&
        Number.isFinite(value) &&
        value >= spec.min &&
        (spec.maxOpen ? value < spec.max : value <= spec.max);
      if (!ok) throw new ValueError(`${name} must be a number ${rangeText(spec)}, got ${shown(value)}`);
      return value;
    }
    case "choice":
      if (typeof value !== "string" || !spec.choices.includes(value)) {
        throw new ValueError(`${name} must be one of ${spec.choices.join(", ")}, got ${shown(value)}`);
      }
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw new ValueError(`${name} must be a boolean, got ${shown(value)}`);
      return value;
    case "entityType":
      if (value === null) return null;
      if (typeof value !== "string" || !/^[^\s]+$/.test(value)) {
        throw new ValueError(`${name} must be an entity type such as "LOC", got ${shown(value)}`);
      }
      return value;
  }
}

/** The default of one option, given the options resolved before it. */
export function defaultOption(
  key: keyof NerTrainingOptions,
  resolved: Partial<ResolvedTrainingOptions> = {},
): unknown {
  const spec = TRAINING_OPTIONS[key];
  return typeof spec.default === "function" ? spec.default(resolved) : spec.default;
}

/**
 * Fills in the defaults and checks every option (a ValueError names the first bad one). `where` prefixes
 * the names in messages.
 */
export function resolveTrainingOptions(
  options: NerTrainingOptions = {},
  where = "trainNer",
): ResolvedTrainingOptions {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ValueError(`${where}: expected options`);
  }
  const resolved: Record<string, unknown> = {};
  for (const key of TRAINING_OPTION_NAMES) {
    const given = (options as Record<string, unknown>)[key];
    const value =
      given === undefined ? defaultOption(key, resolved as Partial<ResolvedTrainingOptions>) : given;
    resolved[key] = checkOptionValue(key, value, `${where}: ${key}`);
  }
  return resolved as ResolvedTrainingOptions;
}

/**
 * Checks options read back from a file (a checkpoint): every field present and valid, nothing else.
 * Unlike {@link resolveTrainingOptions} nothing is defaulted.
 */
export function checkResolvedOptions(value: unknown, where: string): ResolvedTrainingOptions {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ValueError(`${where}: "options" must be an object`);
  }
  const record = value as Record<string, unknown>;
  const resolved: Record<string, unknown> = {};
  for (const key of TRAINING_OPTION_NAMES) {
    if (!(key in record) && TRAINING_OPTIONS[key].addedLater === true) {
      const spec: { legacy?: unknown } = TRAINING_OPTIONS[key];
      resolved[key] =
        spec.legacy !== undefined
          ? spec.legacy
          : defaultOption(key, resolved as Partial<ResolvedTrainingOptions>);
      continue;
    }
    if (!(key in record)) throw new ValueError(`${where}: "options" has no "${key}"`);
    resolved[key] = checkOptionValue(key, record[key], `${where}: options.${key}`);
  }
  return resolved as ResolvedTrainingOptions;
}

// ---------------------------------------------------------------------------------------------------------
// Reading options from command-line text

/**
 * Converts a flag's text to the option's value and checks it (messages name the flag). Integers must be
 * written as integers, numbers as numbers; choices and entity types are taken as written.
 */
export function parseOptionText(key: keyof NerTrainingOptions, text: string, flag: string): unknown {
  const spec = TRAINING_OPTIONS[key];
  let value: unknown = text;
  if (spec.kind === "integer") {
    if (!/^[+-]?\d+$/.test(text.trim())) throw new ValueError(`${flag} must be an integer, got "${text}"`);
    value = Number(text);
  } else if (spec.kind === "number") {
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n)) {
      throw new ValueError(`${flag} must be a number, got "${text}"`);
    }
    value = n;
  } else if (spec.kind === "boolean") {
    if (text !== "true" && text !== "false")
      throw new ValueError(`${flag} must be true or false, got "${text}"`);
    value = text === "true";
  }
  return checkOptionValue(key, value, flag);
}

/** The help line of an option's flag, with its default. */
export function optionHelp(key: keyof NerTrainingOptions): string {
  const spec = TRAINING_OPTIONS[key];
  const cli = spec.cli;
  if (cli === undefined) return "";
  const shownDefault =
    cli.shownDefault ??
    (typeof spec.default === "function" || spec.default === null ? undefined : String(spec.default));
  return shownDefault === undefined ? cli.help : `${cli.help} (default ${shownDefault})`;
}
