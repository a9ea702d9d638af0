/**
 * Training from the command line (`ner train` and `ner demo`): a progress bar and one line per epoch; in the
 * output directory the checkpoint after every epoch, the best model so far and the loss curves.
 *
 * Nothing is lost on the way: the directory is locked against a second training, leftovers of a killed run
 * are removed first, every save is atomic (the directory holds a loadable model at every instant), Ctrl-C
 * (SIGINT) or SIGTERM abandons the epoch under way, keeps the last checkpoint, says how to resume and exits
 * with 130, and a write that fails (a full disk) is one line that names the file, the previous model and
 * checkpoint being kept.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../../ner/conll-node.js";
import type { CompactCorpus } from "../../../ner/conll-compact.js";
import type { EmbeddingTable } from "../../../ner/embeddings.js";
import { saveNerModel } from "../../../ner/tagger-node.js";
import {
  TrainingInterrupted,
  checkpointToParts,
  resolveTrainingOptions,
  trainNer,
  type EpochRecord,
  type NerTrainingOptions,
  type NerTrainingResult,
  type TrainingCheckpoint,
} from "../../../ner/trainer.js";
import { trainingCurveCsv, trainingCurveSvg } from "../../../viz/curves.js";
import { ProgressBar, type ProgressStream } from "../../progress.js";
import { CommandExit, INTERRUPTED_EXIT_CODE } from "../../exit.js";
import { describeScores, formatEpochLine, formatHistoryTable } from "./format.js";
import { modelCard, type CardFile } from "./model-card.js";
import {
  CHECKPOINT_FILE,
  TrainingLock,
  checkTrainingOutput,
  cleanLeftovers,
  guardWrite,
} from "./output-directory.js";
import { write } from "./shared.js";
import { keepYoungGenerationSmall, youngGenerationKeeper } from "./memory.js";

export { CHECKPOINT_FILE };

export interface RunTrainingArguments {
  train: CompactCorpus;
  dev: CompactCorpus | null;
  options: NerTrainingOptions;
  pretrained: EmbeddingTable | null;
  out: string | null;
  resume: TrainingCheckpoint | null;
  quiet: boolean;
  stream: ProgressStream;
  /** Replace a model already in `out` (checked again once the directory is locked). */
  force?: boolean;
  /** The command that resumes this run, printed after an interruption. */
  resumeCommand?: string | null;
  /** The data files, for the model card (`README.md` in `out`). */
  files?: readonly CardFile[];
  /** Write the per-epoch figures as JSON here (after every epoch). */
  metrics?: string | null;
}

/** The per-epoch figures of `ner train --metrics FILE`. */
export interface TrainingMetrics {
  /** False while the run goes on (the file is rewritten after every epoch). */
  finished: boolean;
  stoppedEarly: boolean;
  bestEpoch: number;
  best: EpochRecord["dev"];
  epochs: EpochRecord[];
}

/** A word quoted for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Aborts on SIGINT and SIGTERM while installed; a second signal ends the process at once. */
function interruptOnSignals(): { signal: AbortSignal; remove: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(INTERRUPTED_EXIT_CODE);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    remove: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** What to say after an interruption. */
function interruptionMessage(
  error: TrainingInterrupted,
  out: string | null,
  saved: boolean,
  resumeCommand: string | null,
): string {
  const during = `interrupted during epoch ${error.epochsCompleted + 1}`;
  if (out === null) return `${during}; nothing was saved (no --out)`;
  if (!saved) {
    return `${during}, before the first checkpoint: nothing was saved in ${out}; run the command again to start over`;
  }
  const resume = resumeCommand ?? "the same command with --resume";
  return (
    `${during}: the run is kept up to epoch ${error.epochsCompleted} in ${join(out, CHECKPOINT_FILE)} ` +
    `(the best model so far in ${out}); resume with: ${resume}`
  );
}

/** Trains with a progress bar and per-epoch lines; writes checkpoints, the best model and the curves to `out`. */
export async function runTraining(args: RunTrainingArguments): Promise<NerTrainingResult> {
  const { out, stream } = args;
  keepYoungGenerationSmall();
  const keepSmall = youngGenerationKeeper();
  const bar = new ProgressBar(stream, { live: !args.quiet && stream.isTTY === true });
  let lock: TrainingLock | null = null;
  if (out !== null) {
    await guardWrite(`the directory ${out}`, () => mkdir(out, { recursive: true }));
    lock = await TrainingLock.acquire(out);
  }
  const interrupt = interruptOnSignals();
  let saved = args.resume !== null;
  try {
    if (out !== null) {
      // Another run may have written here between the first check and the lock.
      await checkTrainingOutput(out, { force: args.force === true, resume: args.resume !== null });
      await cleanLeftovers(out);
      // Starting over: an older run's checkpoint must not be resumed by mistake later.
      if (args.resume === null) await rm(join(out, CHECKPOINT_FILE), { force: true });
    }
    let epochs = args.resume?.state.options.epochs ?? args.options.epochs ?? 10;
    const history: EpochRecord[] = [...(args.resume?.state.history ?? [])];
    const writeCurves = async (records: readonly EpochRecord[]) => {
      if (out === null || records.length === 0) return;
      const csv = join(out, "loss.csv");
      const svg = join(out, "loss.svg");
      await guardWrite(csv, () => writeFileAtomic(csv, trainingCurveCsv(records)));
      await guardWrite(svg, () =>
        writeFileAtomic(svg, trainingCurveSvg(records, { title: "Window NER training" })),
      );
    };
    const options = args.resume?.state.options ?? resolveTrainingOptions(args.options);
    const saveModel = async (
      tagger: NerTrainingResult["tagger"],
      records: readonly EpochRecord[],
      bestEpoch: number,
      finished: boolean,
    ) => {
      if (out === null) return;
      await guardWrite(`the model in ${out}`, () =>
        // Training waits for the save (an awaited hook), so the weights are written from the parameters.
        saveNerModel(out, tagger, { viewWeights: true }),
      );
      const card = join(out, "README.md");
      const text = modelCard({
        tagger,
        files: args.files ?? [],
        history: records,
        bestEpoch,
        options,
        finished,
      });
      await guardWrite(card, () => writeFileAtomic(card, text));
    };
    const writeMetrics = async (metrics: TrainingMetrics) => {
      const path = args.metrics;
      if (path === undefined || path === null) return;
      await guardWrite(path, () => writeFileAtomic(path, JSON.stringify(metrics, null, 2) + "\n"));
    };
    let best: { epoch: number; dev: EpochRecord["dev"] } = {
      epoch: args.resume?.state.bestEpoch ?? 0,
      dev: args.resume?.state.history.find((r) => r.epoch === args.resume?.state.bestEpoch)?.dev ?? null,
    };
    let result: NerTrainingResult;
    try {
      result = await trainNer(
        { train: args.train, dev: args.dev, pretrained: args.pretrained },
        args.options,
        {
          resume: args.resume,
          signal: interrupt.signal,
          // The checkpoint is written within the awaited hook: its tensors can be the run's own arrays.
          checkpointViews: true,
          onBatch: (p) => {
            keepSmall();
            epochs = p.epochs;
            bar.update(`epoch ${p.epoch}/${p.epochs}`, p.examples, p.totalExamples, {
              rate: p.seconds > 0 ? p.examples / p.seconds : 0,
              loss: p.loss,
            });
          },
          onCheckpoint: async (checkpoint) => {
            if (out === null) return;
            const path = join(out, CHECKPOINT_FILE);
            await guardWrite(path, () => writeFileAtomic(path, checkpointToParts(checkpoint)));
            saved = true;
          },
          onImprovement: async (tagger, record) => {
            best = { epoch: record.epoch, dev: record.dev };
            await saveModel(tagger, [...history, record], record.epoch, false);
          },
          onEpoch: async (record) => {
            bar.clear();
            history.push(record);
            write(formatEpochLine(record, epochs) + "\n");
            await writeCurves(history);
            await writeMetrics({
              finished: false,
              stoppedEarly: false,
              bestEpoch: best.epoch,
              best: best.dev,
              epochs: history,
            });
          },
        },
      );
    } catch (error) {
      bar.clear();
      if (error instanceof TrainingInterrupted) {
        throw new CommandExit(
          interruptionMessage(error, out, saved, args.resumeCommand ?? null),
          INTERRUPTED_EXIT_CODE,
        );
      }
      throw error;
    }
    bar.clear();
    if (out !== null) {
      await saveModel(result.tagger, result.history, result.bestEpoch, true);
      await writeCurves(result.history);
      await rm(join(out, CHECKPOINT_FILE), { force: true });
    }
    await writeMetrics({
      finished: true,
      stoppedEarly: result.stoppedEarly,
      bestEpoch: result.bestEpoch,
      best: result.best,
      epochs: result.history,
    });
    return result;
  } finally {
    interrupt.remove();
    await lock?.release();
  }
}

/** The table of dev scores, the best epoch and the files written. */
export function reportTraining(result: NerTrainingResult, out: string | null, binary: string | null): void {
  if (result.history.length === 0) return;
  write("\n" + formatHistoryTable(result.history, binary));
  const best = result.best;
  const stopped = result.stoppedEarly ? " (stopped early: the dev F1 stopped improving)" : "";
  if (best) write(`\nbest model: epoch ${result.bestEpoch}, dev ${describeScores(best)}${stopped}\n`);
  else write(`\nmodel: epoch ${result.bestEpoch} (no dev set)\n`);
  if (out !== null) {
    write(
      `saved: ${join(out, "model.safetensors")}, ${join(out, "config.json")}, ${join(out, "README.md")} (model card)\n`,
    );
    write(`curves: ${join(out, "loss.csv")}, ${join(out, "loss.svg")}\n`);
  }
}
