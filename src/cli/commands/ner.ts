/**
 * `chainrule ner …`: the lecture's window-based named-entity classifier from the command line.
 *
 *     chainrule ner train --train eng.train --dev eng.testa --out model/
 *     chainrule ner eval --model model/ --data eng.testa [--output predictions.conll]
 *     chainrule ner tag --model model/ "Samuel Quinn was arrested in the Hilton Hotel in Paris."
 *     chainrule ner demo
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ValueError } from "../../errors.js";
import { readConllFile, writeFileAtomic, writePredictionsFile } from "../../ner/conll-node.js";
import { readEmbeddingsFile } from "../../ner/embeddings-node.js";
import type { EmbeddingTable } from "../../ner/embeddings.js";
import { embeddingTableFromSafetensors } from "../../ner/embedding-table.js";
import type { ConllCorpus } from "../../ner/conll.js";
import { conlleval, formatConllevalReport } from "../../ner/conlleval.js";
import { detectScheme, entityTypes, type TagScheme } from "../../ner/tags.js";
import { ACTIVATIONS, type Activation } from "../../ner/model.js";
import { NerTagger, type TaggedText } from "../../ner/tagger.js";
import { saveNerModel } from "../../ner/tagger-node.js";
import {
  OPTIMIZERS,
  binaryScores,
  checkpointFromBytes,
  checkpointToBytes,
  resolveTrainingOptions,
  trainNer,
  type DevScores,
  type EpochRecord,
  type NerTrainingOptions,
  type NerTrainingResult,
  type OptimizerName,
  type TrainingCheckpoint,
} from "../../ner/trainer.js";
import { trainingCurveCsv, trainingCurveSvg } from "../../viz/curves.js";
import { ProgressBar, formatCount, type ProgressStream } from "../progress.js";

/** The package's shipped data folder (next to dist/ or src/), found from this file, not the working directory. */
export const DATA_DIRECTORY = fileURLToPath(new URL("../../../data/", import.meta.url));

/** The lecture's sentences, tagged by `ner demo`. */
export const LECTURE_SENTENCES = [
  "Last night, Paris Hilton wowed in a sequin gown.",
  "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.",
];

/**
 * The demo's hyperparameters (chosen by measurement on the shipped Wikigold split; see docs/ner.md).
 * The shipped GloVe table is used when data/glove/ holds it.
 */
export const DEMO_OPTIONS: NerTrainingOptions = {
  windowSize: 2,
  hiddenSize: 300,
  casingDimension: 5,
  optimizer: "sgd",
  lr: 0.1,
  batchSize: 32,
  epochs: 8,
  patience: 3,
  seed: 1,
};

/** The shipped GloVe table (cut from GloVe 6B 100d for the shipped data's words), if present. */
export const DEMO_EMBEDDINGS = "glove/glove-wikigold-100d.safetensors";

function write(text: string): void {
  process.stdout.write(text);
}

// ---------------------------------------------------------------------------------------------------------
// Option parsing: every bad value is one clear error line.

function integerOption(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(value.trim())) throw new ValueError(`${name} must be an integer, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new ValueError(`${name} must be an integer ≥ ${min}, got ${value}`);
  return n;
}

function numberOption(
  value: string | undefined,
  name: string,
  min: number,
  max = Infinity,
  maxOpen = false,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new ValueError(`${name} must be a number, got "${value}"`);
  if (n < min || (maxOpen ? n >= max : n > max)) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}${maxOpen ? ")" : "]"}`;
    throw new ValueError(`${name} must be ${range}, got ${value}`);
  }
  return n;
}

function choiceOption<T extends string>(
  value: string | undefined,
  name: string,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new ValueError(`${name} must be one of ${choices.join(", ")}, got "${value}"`);
  }
  return value as T;
}

async function requireFile(path: string, what: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ValueError(`${what} ${path}: no such file`);
  }
  if (!info.isFile()) throw new ValueError(`${what} ${path}: not a file`);
}

async function readCorpus(path: string, what: string): Promise<ConllCorpus> {
  await requireFile(path, what);
  return readConllFile(path);
}

/** Reads pretrained vectors: GloVe text, or a safetensors table (`words` in the metadata, `vectors` [n, d]). */
export async function readPretrained(path: string): Promise<EmbeddingTable> {
  await requireFile(path, "--embeddings");
  if (path.endsWith(".safetensors"))
    return embeddingTableFromSafetensors(new Uint8Array(await readFile(path)), path);
  return readEmbeddingsFile(path);
}

// ---------------------------------------------------------------------------------------------------------
// Reporting

function percent(value: number): string {
  return value.toFixed(2).padStart(6);
}

/** One plain line per epoch. */
export function formatEpochLine(record: EpochRecord, epochs: number): string {
  const width = String(epochs).length;
  const dev = record.dev
    ? `  dev P ${percent(record.dev.precision)}  R ${percent(record.dev.recall)}  F1 ${percent(record.dev.f1)}`
    : "";
  return (
    `epoch ${String(record.epoch).padStart(width)}/${epochs}  loss ${record.loss.toFixed(4)}  ` +
    `${formatCount(record.examplesPerSecond).padStart(7)} ex/s  ${record.seconds.toFixed(1).padStart(6)} s${dev}${record.best && record.dev ? "  *" : ""}`
  );
}

/** The table of dev scores per epoch. */
export function formatHistoryTable(history: readonly EpochRecord[], binary: string | null): string {
  const header = ["epoch", "loss", "precision", "recall", "F1", "accuracy", "examples/s", "seconds", ""];
  const rows = history.map((r) => [
    String(r.epoch),
    r.loss.toFixed(4),
    r.dev ? r.dev.precision.toFixed(2) : "-",
    r.dev ? r.dev.recall.toFixed(2) : "-",
    r.dev ? r.dev.f1.toFixed(2) : "-",
    r.dev ? r.dev.accuracy.toFixed(2) : "-",
    formatCount(r.examplesPerSecond),
    r.seconds.toFixed(1),
    r.best && r.dev ? "best" : "",
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padStart(widths[c]!)))
      .join("  ")
      .trimEnd();
  const title =
    binary === null
      ? "Dev scores per epoch (conlleval, entity level)"
      : `Dev scores per epoch (${binary} per token)`;
  return [title, line(header), ...rows.map(line)].join("\n") + "\n";
}

function describeScores(scores: DevScores): string {
  return `precision ${scores.precision.toFixed(2)}, recall ${scores.recall.toFixed(2)}, F1 ${scores.f1.toFixed(2)}`;
}

/** Tagged text for humans: each sentence's tokens with tags, then its entities with character offsets. */
export function formatTaggedText(tagged: TaggedText): string {
  const lines: string[] = [];
  for (const sentence of tagged.sentences) {
    const tokens = tagged.tokens.slice(sentence.tokenStart, sentence.tokenEnd);
    lines.push(tokens.map((t) => `${t.text}/${t.tag}`).join(" "));
    const entities = tagged.entities.filter(
      (e) => e.tokenStart >= sentence.tokenStart && e.tokenEnd <= sentence.tokenEnd,
    );
    if (entities.length === 0) lines.push("  (no entities)");
    const typeWidth = Math.max(0, ...entities.map((e) => e.type.length));
    const spanWidth = Math.max(0, ...entities.map((e) => `${e.start}-${e.end}`.length));
    for (const e of entities) {
      lines.push(`  ${e.type.padEnd(typeWidth)}  ${`${e.start}-${e.end}`.padEnd(spanWidth)}  ${e.text}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Tagged text in CoNLL format: `token tag start end` per line, a blank line after each sentence. */
export function formatTaggedConll(tagged: TaggedText): string {
  const lines: string[] = [];
  for (const sentence of tagged.sentences) {
    for (const t of tagged.tokens.slice(sentence.tokenStart, sentence.tokenEnd)) {
      lines.push(`${t.text} ${t.tag} ${t.start} ${t.end}`);
    }
    lines.push("");
  }
  return lines.join("\n") + (lines.length > 0 ? "\n" : "");
}

function describeRun(
  train: ConllCorpus,
  dev: ConllCorpus | null,
  options: NerTrainingOptions,
  resumed: TrainingCheckpoint | null,
): string {
  const scheme = detectScheme(train.sentences.map((s) => s.tags)).scheme;
  const lines = [
    `train: ${train.file}: ${formatCount(train.sentences.length)} sentences, ${formatCount(train.tokenCount)} tokens, ` +
      `${scheme} tags, entity types ${entityTypes(train.tagSet).join(", ") || "none"}`,
  ];
  if (dev)
    lines.push(
      `dev:   ${dev.file}: ${formatCount(dev.sentences.length)} sentences, ${formatCount(dev.tokenCount)} tokens`,
    );
  if (resumed) {
    const s = resumed.state;
    lines.push(
      `resuming after epoch ${s.epochsCompleted} of ${s.options.epochs} (best so far: epoch ${s.bestEpoch})`,
    );
  } else {
    const o = resolveTrainingOptions(options);
    const parts = [
      `window ${o.windowSize}`,
      `hidden ${o.hiddenSize} ${o.activation}`,
      o.binary !== null ? `binary ${o.binary}` : "softmax",
      `${o.optimizer} lr ${o.lr}`,
      `batch ${o.batchSize}`,
      `epochs ${o.epochs}`,
      `patience ${o.patience}`,
      `seed ${o.seed}`,
    ];
    if (o.dropout > 0) parts.push(`dropout ${o.dropout}`);
    if (o.inputDropout > 0) parts.push(`input dropout ${o.inputDropout}`);
    if (o.wordDropout > 0) parts.push(`word dropout ${o.wordDropout}`);
    lines.push(`model: ${parts.join(", ")}`);
  }
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------------------
// Training with progress, checkpoints and the model directory

export const CHECKPOINT_FILE = "checkpoint.safetensors";

interface RunTrainingArguments {
  train: ConllCorpus;
  dev: ConllCorpus | null;
  options: NerTrainingOptions;
  pretrained: EmbeddingTable | null;
  out: string | null;
  resume: TrainingCheckpoint | null;
  quiet: boolean;
  stream: ProgressStream;
}

/** Trains with a progress bar and per-epoch lines; writes checkpoints, the best model and the curves to `out`. */
async function runTraining(args: RunTrainingArguments): Promise<NerTrainingResult> {
  const { out, stream } = args;
  const bar = new ProgressBar(stream, { live: !args.quiet && stream.isTTY === true });
  if (out !== null) await mkdir(out, { recursive: true });
  let epochs = args.resume?.state.options.epochs ?? args.options.epochs ?? 10;
  const history: EpochRecord[] = [...(args.resume?.state.history ?? [])];
  const writeCurves = async (records: readonly EpochRecord[]) => {
    if (out === null || records.length === 0) return;
    await writeFileAtomic(join(out, "loss.csv"), trainingCurveCsv(records));
    await writeFileAtomic(join(out, "loss.svg"), trainingCurveSvg(records, { title: "Window NER training" }));
  };
  const result = await trainNer(
    { train: args.train.sentences, dev: args.dev?.sentences ?? null, pretrained: args.pretrained },
    args.options,
    {
      resume: args.resume,
      onBatch: (p) => {
        epochs = p.epochs;
        bar.update(`epoch ${p.epoch}/${p.epochs}`, p.examples, p.totalExamples, {
          rate: p.seconds > 0 ? p.examples / p.seconds : 0,
          loss: p.loss,
        });
      },
      onCheckpoint: async (checkpoint) => {
        if (out !== null) await writeFileAtomic(join(out, CHECKPOINT_FILE), checkpointToBytes(checkpoint));
      },
      onImprovement: async (tagger) => {
        if (out !== null) await saveNerModel(out, tagger);
      },
      onEpoch: async (record) => {
        bar.clear();
        history.push(record);
        write(formatEpochLine(record, epochs) + "\n");
        await writeCurves(history);
      },
    },
  );
  bar.clear();
  if (out !== null) {
    await saveNerModel(out, result.tagger);
    await writeCurves(result.history);
    await rm(join(out, CHECKPOINT_FILE), { force: true });
  }
  return result;
}

function reportTraining(result: NerTrainingResult, out: string | null, binary: string | null): void {
  if (result.history.length === 0) return;
  write("\n" + formatHistoryTable(result.history, binary));
  const best = result.best;
  const stopped = result.stoppedEarly ? " (stopped early: the dev F1 stopped improving)" : "";
  if (best) write(`\nbest model: epoch ${result.bestEpoch}, dev ${describeScores(best)}${stopped}\n`);
  else write(`\nmodel: epoch ${result.bestEpoch} (no dev set)\n`);
  if (out !== null) {
    write(`saved: ${join(out, "model.safetensors")}, ${join(out, "config.json")}\n`);
    write(`curves: ${join(out, "loss.csv")}, ${join(out, "loss.svg")}\n`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The commands

interface TrainCommandOptions {
  train: string;
  dev?: string;
  embeddings?: string;
  window?: string;
  hidden?: string;
  epochs?: string;
  lr?: string;
  lrDecay?: string;
  optimizer?: string;
  batchSize?: string;
  binary?: string;
  seed?: string;
  activation?: string;
  dropout?: string;
  inputDropout?: string;
  wordDropout?: string;
  patience?: string;
  wordDim?: string;
  casingDim?: string;
  minCount?: string;
  scheme?: string;
  decoding?: string;
  resume?: boolean;
  quiet?: boolean;
  out: string;
}

function trainingOptionsFrom(o: TrainCommandOptions): NerTrainingOptions {
  const options: NerTrainingOptions = {};
  const set = <K extends keyof NerTrainingOptions>(key: K, value: NerTrainingOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set("windowSize", integerOption(o.window, "--window", 0));
  set("hiddenSize", integerOption(o.hidden, "--hidden", 1));
  set("epochs", integerOption(o.epochs, "--epochs", 1));
  set("lr", numberOption(o.lr, "--lr", 0));
  set("lrDecay", numberOption(o.lrDecay, "--lr-decay", 0));
  set("optimizer", choiceOption<OptimizerName>(o.optimizer, "--optimizer", OPTIMIZERS));
  set("batchSize", integerOption(o.batchSize, "--batch-size", 1));
  set("seed", integerOption(o.seed, "--seed", 0));
  set("activation", choiceOption<Activation>(o.activation, "--activation", ACTIVATIONS));
  set("dropout", numberOption(o.dropout, "--dropout", 0, 1, true));
  set("inputDropout", numberOption(o.inputDropout, "--input-dropout", 0, 1, true));
  set("wordDropout", numberOption(o.wordDropout, "--word-dropout", 0, 1, true));
  set("patience", integerOption(o.patience, "--patience", 0));
  set("wordDimension", integerOption(o.wordDim, "--word-dim", 1));
  set("casingDimension", integerOption(o.casingDim, "--casing-dim", 0));
  set("minCount", integerOption(o.minCount, "--min-count", 1));
  set(
    "trainingScheme",
    choiceOption<TagScheme | "data">(o.scheme, "--scheme", ["IOBES", "IOB2", "IOB1", "data"]),
  );
  set("decoding", choiceOption(o.decoding, "--decoding", ["viterbi", "greedy"] as const));
  if (o.binary !== undefined) {
    if (!/^[^\s]+$/.test(o.binary))
      throw new ValueError(`--binary must be an entity type such as LOC, got "${o.binary}"`);
    options.binary = o.binary;
  }
  return options;
}

async function checkOutputDirectory(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) throw new ValueError(`--out ${path}: exists and is not a directory`);
  } catch (error) {
    if (error instanceof ValueError) throw error;
    // Absent: it will be created.
  }
}

async function trainCommand(o: TrainCommandOptions): Promise<void> {
  const options = trainingOptionsFrom(o);
  await checkOutputDirectory(o.out);
  let resume: TrainingCheckpoint | null = null;
  if (o.resume) {
    const path = join(o.out, CHECKPOINT_FILE);
    if (!existsSync(path)) {
      throw new ValueError(
        `--resume: ${path} not found (nothing to resume: a finished run removes its checkpoint)`,
      );
    }
    resume = checkpointFromBytes(new Uint8Array(await readFile(path)), path);
  }
  const train = await readCorpus(o.train, "--train");
  const dev = o.dev !== undefined ? await readCorpus(o.dev, "--dev") : null;
  if (options.binary !== undefined && options.binary !== null) {
    const types = entityTypes(train.tagSet);
    if (!types.includes(options.binary)) {
      throw new ValueError(
        `--binary ${options.binary}: not an entity type of ${train.file} (its types: ${types.join(", ") || "none"})`,
      );
    }
  }
  const pretrained =
    o.embeddings !== undefined && resume === null ? await readPretrained(o.embeddings) : null;
  write(describeRun(train, dev, options, resume));
  if (pretrained)
    write(
      `embeddings: ${o.embeddings}: ${formatCount(pretrained.words.length)} vectors of ${pretrained.dimension} dimensions\n`,
    );
  write("\n");
  const result = await runTraining({
    train,
    dev,
    options,
    pretrained,
    out: o.out,
    resume,
    quiet: o.quiet === true,
    stream: process.stdout,
  });
  reportTraining(result, o.out, result.tagger.binary);
}

async function loadTagger(directory: string): Promise<NerTagger> {
  let info;
  try {
    info = await stat(directory);
  } catch {
    throw new ValueError(`--model ${directory}: no such directory`);
  }
  if (!info.isDirectory()) throw new ValueError(`--model ${directory}: not a directory`);
  return NerTagger.load(directory);
}

async function evalCommand(o: { model: string; data: string; output?: string }): Promise<void> {
  const tagger = await loadTagger(o.model);
  const corpus = await readCorpus(o.data, "--data");
  const detected = detectScheme(corpus.sentences.map((s) => s.tags));
  const scheme = detected.certain ? detected.scheme : tagger.scheme;
  const sentences = corpus.sentences;
  const predicted = tagger.tagSentences(
    sentences.map((s) => s.tokens),
    { scheme },
  );
  if (tagger.binary !== null) {
    const type = tagger.binary;
    const gold: number[] = [];
    const guess: number[] = [];
    sentences.forEach((s, i) =>
      s.tags.forEach((tag, t) => {
        gold.push(tag.slice(tag.indexOf("-") + 1) === type && tag !== "O" ? 1 : 0);
        guess.push(predicted[i]![t] !== "O" ? 1 : 0);
      }),
    );
    const scores = binaryScores(gold, guess);
    write(
      `processed ${formatCount(gold.length)} tokens; binary classifier for ${type} (per token, positive class):\n` +
        `precision: ${scores.precision.toFixed(2)}%; recall: ${scores.recall.toFixed(2)}%; F1: ${scores.f1.toFixed(2)}; accuracy: ${scores.accuracy.toFixed(2)}%\n`,
    );
  } else {
    const result = conlleval(
      sentences.map((s, i) => ({ tokens: s.tokens, gold: s.tags, predicted: predicted[i]! })),
      { scheme },
    );
    write(formatConllevalReport(result));
  }
  if (o.output !== undefined) {
    await writePredictionsFile(
      o.output,
      sentences.map((s, i) => ({ tokens: s.tokens, gold: s.tags, predicted: predicted[i]! })),
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function tagCommand(
  texts: string[],
  o: { model: string; format?: string; scheme?: string },
): Promise<void> {
  const format = choiceOption(o.format ?? "text", "--format", ["text", "json", "conll"] as const)!;
  const scheme = choiceOption<TagScheme>(o.scheme ?? "IOB2", "--scheme", ["IOB2", "IOB1", "IOBES"])!;
  const tagger = await loadTagger(o.model);
  const text = texts.length > 0 ? texts.join(" ") : await readStdin();
  const tagged = tagger.tag(text, { scheme });
  if (format === "json") write(JSON.stringify(tagged, null, 2) + "\n");
  else if (format === "conll") write(formatTaggedConll(tagged));
  else write(formatTaggedText(tagged));
}

async function demoCommand(o: {
  out?: string;
  quiet?: boolean;
  epochs?: string;
  seed?: string;
  embeddings?: boolean;
}): Promise<void> {
  const options: NerTrainingOptions = { ...DEMO_OPTIONS };
  if (o.out !== undefined) await checkOutputDirectory(o.out);
  const epochs = integerOption(o.epochs, "--epochs", 1);
  if (epochs !== undefined) options.epochs = epochs;
  const seed = integerOption(o.seed, "--seed", 0);
  if (seed !== undefined) options.seed = seed;
  const embeddings = join(DATA_DIRECTORY, DEMO_EMBEDDINGS);
  await runDemo({
    train: join(DATA_DIRECTORY, "wikigold", "train.conll"),
    dev: join(DATA_DIRECTORY, "wikigold", "dev.conll"),
    embeddings: o.embeddings !== false && existsSync(embeddings) ? embeddings : null,
    options,
    out: o.out ?? null,
    quiet: o.quiet === true,
  });
}

/** The demo on given files: train with progress, print the dev scores, tag the lecture's sentences. */
export async function runDemo(args: {
  train: string;
  dev: string;
  embeddings: string | null;
  options: NerTrainingOptions;
  out: string | null;
  quiet: boolean;
}): Promise<NerTrainingResult> {
  const train = await readCorpus(args.train, "demo data");
  const dev = await readCorpus(args.dev, "demo data");
  const pretrained = args.embeddings !== null ? await readPretrained(args.embeddings) : null;
  write(
    "The lecture's window classifier: x = [x_{t-2}; ...; x_{t+2}] (word + casing vectors), h = tanh(Wx + b),\n" +
      "softmax over the tags; trained on Wikigold (shipped in data/wikigold, CC-BY 4.0).\n\n",
  );
  write(describeRun(train, dev, args.options, null));
  if (pretrained) {
    write(
      `embeddings: ${args.embeddings} (GloVe 6B 100d, ${formatCount(pretrained.words.length)} words, PDDL)\n`,
    );
  }
  write("\n");
  const result = await runTraining({
    train,
    dev,
    options: args.options,
    pretrained,
    out: args.out,
    resume: null,
    quiet: args.quiet,
    stream: process.stdout,
  });
  reportTraining(result, args.out, null);
  write("\nTagging the lecture's sentences:\n\n");
  for (const sentence of LECTURE_SENTENCES) write(formatTaggedText(result.tagger.tag(sentence)));
  return result;
}

export function register(program: Command): void {
  const ner = program
    .command("ner")
    .description("the lecture's window-based named-entity classifier: train, evaluate, tag, demo");

  ner
    .command("train")
    .description(
      "train the window classifier on a CoNLL file (progress per epoch, dev scores, best model saved)",
    )
    .requiredOption("--train <file>", "training data in CoNLL format (token first, tag last)")
    .option("--dev <file>", "dev data for early stopping and the per-epoch scores")
    .option(
      "--embeddings <file>",
      "pretrained word vectors (GloVe text: word v1 … vd; or a .safetensors table)",
    )
    .option("--window <w>", "words on each side of the centre word (windows of 2w + 1)", undefined)
    .option("--hidden <n>", "hidden units (default 300)")
    .option("--epochs <n>", "maximum epochs (default 10)")
    .option("--lr <rate>", "learning rate (default 0.1 for sgd, 0.001 for adam, 0.05 for adagrad)")
    .option("--lr-decay <d>", "per-epoch decay: lr / (1 + d·(epoch − 1)) (default 0)")
    .option("--optimizer <name>", "sgd (the lecture's update), adam or adagrad (default sgd)")
    .option("--batch-size <n>", "windows per minibatch (default 32)")
    .option(
      "--binary <type>",
      "train the lecture's binary classifier s = uᵀh, J = σ(s) for one entity type, e.g. LOC",
    )
    .option("--seed <n>", "seed of initialisation, shuffling and dropout (default 0)")
    .option("--activation <f>", "tanh, relu, sigmoid or hardtanh (default tanh)")
    .option("--dropout <p>", "dropout on the hidden layer (default 0)")
    .option("--input-dropout <p>", "dropout on the window vector (default 0)")
    .option("--word-dropout <p>", "replace training words by <unk> with this probability (default 0)")
    .option("--patience <n>", "stop after n epochs without a better dev F1; 0: never (default 3)")
    .option("--word-dim <d>", "word vector length without --embeddings (default 50)")
    .option("--casing-dim <c>", "casing vector length; 0 turns the casing features off (default 5)")
    .option("--min-count <n>", "keep words seen at least n times (default 1)")
    .option(
      "--scheme <scheme>",
      "tag scheme the model is trained in: IOBES, IOB2, IOB1 or data (default IOBES)",
    )
    .option("--decoding <d>", "viterbi (best valid sequence) or greedy (default viterbi)")
    .option("--resume", "continue an interrupted run from DIR/checkpoint.safetensors")
    .option("--quiet", "no progress bar: one plain line per epoch")
    .requiredOption("--out <dir>", "model directory: model.safetensors, config.json, loss.csv, loss.svg")
    .action((o: TrainCommandOptions) => trainCommand(o));

  ner
    .command("eval")
    .description("score a model on a CoNLL file, printing conlleval's report")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .requiredOption("--data <file>", "CoNLL file with gold tags")
    .option("--output <file>", "write predictions (token gold predicted) for the conlleval script")
    .action((o: { model: string; data: string; output?: string }) => evalCommand(o));

  ner
    .command("tag")
    .description("tag English text (arguments, or standard input) with a trained model")
    .argument("[text...]", "the text to tag (default: read standard input)")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .option("--format <format>", "text, json or conll", "text")
    .option("--scheme <scheme>", "tag scheme of the output: IOB2, IOB1 or IOBES", "IOB2")
    .action((texts: string[], o: { model: string; format?: string; scheme?: string }) =>
      tagCommand(texts, o),
    );

  ner
    .command("demo")
    .description(
      "train on the shipped Wikigold data (about a minute), print the dev scores and tag the lecture's sentences",
    )
    .option("--out <dir>", "also save the model, checkpoints and curves here")
    .option("--epochs <n>", `maximum epochs (default ${DEMO_OPTIONS.epochs})`)
    .option("--seed <n>", `seed (default ${DEMO_OPTIONS.seed})`)
    .option("--no-embeddings", "do not use the shipped GloVe table")
    .option("--quiet", "no progress bar: one plain line per epoch")
    .action((o: { out?: string; quiet?: boolean; epochs?: string; seed?: string; embeddings?: boolean }) =>
      demoCommand(o),
    );

  // Usage errors inside `ner …` are reported like the top-level ones (main turns them into exit codes).
  for (const command of [ner, ...ner.commands]) command.exitOverride();
}
