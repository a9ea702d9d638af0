/**
 * `chainrule ner demo`: trains on the shipped Wikigold data, prints the dev scores and tags the lecture's
 * sentences.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { NerTrainingOptions, NerTrainingResult } from "../../../ner/trainer.js";
import { parseOptionText } from "../../../ner/train/options.js";
import { formatCount } from "../../progress.js";
import { describeRun, formatTaggedText } from "./format.js";
import { reportTraining, runTraining, shellQuote } from "./run-training.js";
import { checkTrainingOutput } from "./output-directory.js";
import { cardFiles } from "./model-card.js";
import { DEMO_OPTIONS } from "./demo-options.js";
import { DATA_DIRECTORY, readCorpus, readPretrained, write } from "./shared.js";

/** The lecture's sentences, tagged by `ner demo`. */
export const LECTURE_SENTENCES = [
  "Last night, Paris Hilton wowed in a sequin gown.",
  "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.",
];

export { DEMO_OPTIONS } from "./demo-options.js";

/** The shipped GloVe table (cut from GloVe 6B 100d for the shipped data's words), if present. */
export const DEMO_EMBEDDINGS = "glove/glove-wikigold-100d.safetensors";

interface DemoCommandOptions {
  out?: string;
  quiet?: boolean;
  epochs?: string;
  seed?: string;
  embeddings?: boolean;
  force?: boolean;
}

async function demoCommand(o: DemoCommandOptions): Promise<void> {
  const options: NerTrainingOptions = { ...DEMO_OPTIONS };
  if (o.out !== undefined) await checkTrainingOutput(o.out, { force: o.force === true, resume: false });
  if (o.epochs !== undefined) options.epochs = parseOptionText("epochs", o.epochs, "--epochs") as number;
  if (o.seed !== undefined) options.seed = parseOptionText("seed", o.seed, "--seed") as number;
  const embeddings = join(DATA_DIRECTORY, DEMO_EMBEDDINGS);
  await runDemo({
    train: join(DATA_DIRECTORY, "wikigold", "train.conll"),
    dev: join(DATA_DIRECTORY, "wikigold", "dev.conll"),
    embeddings: o.embeddings !== false && existsSync(embeddings) ? embeddings : null,
    options,
    out: o.out ?? null,
    quiet: o.quiet === true,
    force: o.force === true,
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
  force?: boolean;
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
    force: args.force === true,
    files: args.out === null ? [] : await cardFiles(train, dev, args.embeddings),
    resumeCommand:
      args.out === null
        ? null
        : [
            "chainrule",
            "ner",
            "train",
            "--train",
            args.train,
            "--dev",
            args.dev,
            "--out",
            args.out,
            "--resume",
          ]
            .map(shellQuote)
            .join(" "),
  });
  reportTraining(result, args.out, null);
  write("\nTagging the lecture's sentences:\n\n");
  for (const sentence of LECTURE_SENTENCES) write(formatTaggedText(result.tagger.tag(sentence)));
  return result;
}

export function registerDemo(ner: Command): void {
  ner
    .command("demo")
    .description(
      "train on the shipped Wikigold data (8 epochs, about 33 s of CPU time: under a minute on an idle " +
        "machine), print the dev scores and tag the lecture's sentences",
    )
    .option("--out <dir>", "also save the model, checkpoints and curves here (as ner train --out)")
    .option("--force", "replace a model already in --out")
    .option("--epochs <n>", `maximum epochs (default ${DEMO_OPTIONS.epochs})`)
    .option("--seed <n>", `seed (default ${DEMO_OPTIONS.seed})`)
    .option("--no-embeddings", "do not use the shipped GloVe table")
    .option("--quiet", "no progress bar: one plain line per epoch")
    .action((o: DemoCommandOptions) => demoCommand(o));
}
