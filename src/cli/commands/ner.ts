/**
 * `chainrule ner …`: the lecture's window-based named-entity classifier from the command line. One file per
 * subcommand in `ner/`:
 *
 *     chainrule ner train --train eng.train --dev eng.testa --out model/      (ner/train.ts)
 *     chainrule ner eval --model model/ --data eng.testa [--output p.conll]   (ner/eval.ts)
 *     chainrule ner tag --model model/ "Samuel Quinn was arrested in the Hilton Hotel in Paris."  (ner/tag.ts)
 *     chainrule ner demo                                                      (ner/demo.ts)
 */
import type { Command } from "commander";
import { registerTrain } from "./ner/train.js";
import { registerEval } from "./ner/eval.js";
import { registerTag } from "./ner/tag.js";
import { registerDemo } from "./ner/demo.js";

export { DATA_DIRECTORY, readPretrained } from "./ner/shared.js";
export { formatEpochLine, formatHistoryTable, formatTaggedText, formatTaggedConll } from "./ner/format.js";
export { CHECKPOINT_FILE } from "./ner/run-training.js";
export { LECTURE_SENTENCES, DEMO_OPTIONS, DEMO_EMBEDDINGS, runDemo } from "./ner/demo.js";

/** The `ner` subcommands, in the order the help lists them. */
const SUBCOMMANDS: ((ner: Command) => void)[] = [registerTrain, registerEval, registerTag, registerDemo];

export function register(program: Command): void {
  const ner = program
    .command("ner")
    .description("the lecture's window-based named-entity classifier: train, evaluate, tag, demo");
  for (const registerSubcommand of SUBCOMMANDS) registerSubcommand(ner);
  // Usage errors inside `ner …` are reported like the top-level ones (main turns them into exit codes).
  for (const command of [ner, ...ner.commands]) command.exitOverride();
}
