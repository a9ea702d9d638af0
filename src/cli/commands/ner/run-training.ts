/**
 * Training from the command line (`ner train` and `ner demo`): a progress bar and one line per epoch; in the
 * output directory the checkpoint after every epoch, the best model so far and the loss curves.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../../ner/conll-node.js";
import type { ConllCorpus } from "../../../ner/conll.js";
import type { EmbeddingTable } from "../../../ner/embeddings.js";
import { saveNerModel } from "../../../ner/tagger-node.js";
import {
  checkpointToBytes,
  trainNer,
  type EpochRecord,
  type NerTrainingOptions,
  type NerTrainingResult,
  type TrainingCheckpoint,
} from "../../../ner/trainer.js";
import { trainingCurveCsv, trainingCurveSvg } from "../../../viz/curves.js";
import { ProgressBar, type ProgressStream } from "../../progress.js";
import { describeScores, formatEpochLine, formatHistoryTable } from "./format.js";
import { write } from "./shared.js";

/** The checkpoint's file name in the output directory (removed when the run finishes). */
export const CHECKPOINT_FILE = "checkpoint.safetensors";

export interface RunTrainingArguments {
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
export async function runTraining(args: RunTrainingArguments): Promise<NerTrainingResult> {
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

/** The table of dev scores, the best epoch and the files written. */
export function reportTraining(result: NerTrainingResult, out: string | null, binary: string | null): void {
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
