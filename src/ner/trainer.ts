/**
 * Training the window classifier: minibatch SGD (the lecture's θ_new = θ_old − α ∇_θ J) by default, Adam or
 * AdaGrad on request; seeded shuffling; epochs with early stopping on the dev F1 and the best model kept;
 * per-epoch records through callbacks; checkpoints from which an interrupted run resumes bit for bit.
 *
 * The stages live in `train/`: the options and their checks (`options.ts`, shared with the CLI), preparing
 * the run (`prepare.ts`), one epoch (`epoch.ts`), scoring (`evaluate.ts`), choosing the best model
 * (`best.ts`) and the checkpoint (`checkpoint.ts`). This file runs them in order.
 *
 * Browser-safe: data comes in as sentences and pretrained vectors as a table; checkpoints go out as objects
 * (or bytes, {@link checkpointToBytes}) through a callback. The CLI writes them to files.
 *
 * One seed fixes everything random: the initialisation, the order of the examples in every epoch, word
 * dropout and the dropout masks all draw from one generator, whose state is part of a checkpoint.
 */
import { NerTagger } from "./tagger.js";
import type { NerTrainingOptions, ResolvedTrainingOptions } from "./train/options.js";
import { prepareRun, type TrainingRun } from "./train/prepare.js";
import { trainEpoch } from "./train/epoch.js";
import { evaluateCorpus } from "./train/evaluate.js";
import { chooseBest, stoppedEarly, type TrainingProgress } from "./train/best.js";
import { makeCheckpoint } from "./train/checkpoint.js";
import type {
  DevScores,
  EpochRecord,
  NerTrainingData,
  NerTrainingResult,
  TrainingHooks,
} from "./train/types.js";

export {
  OPTIMIZERS,
  DEFAULT_LEARNING_RATES,
  TRAINING_OPTIONS,
  resolveTrainingOptions,
  type OptimizerName,
  type NerTrainingOptions,
  type ResolvedTrainingOptions,
  type OptionSpec,
} from "./train/options.js";
export { fingerprintSentences } from "./train/prepare.js";
export { BinaryScoreCounter, binaryScores, evaluateTagger, evaluateCorpus } from "./train/evaluate.js";
export {
  checkpointToBytes,
  checkpointToParts,
  checkpointFromBytes,
  type TrainingCheckpoint,
  type CheckpointState,
} from "./train/checkpoint.js";
export {
  TrainingInterrupted,
  type LabelledSentence,
  type DevScores,
  type EpochRecord,
  type BatchProgress,
  type TrainingHooks,
  type NerTrainingData,
  type NerTrainingResult,
  type PretrainedInfo,
} from "./train/types.js";

/** What a saved model's config records about its training. */
function trainingInfo(
  options: ResolvedTrainingOptions,
  history: readonly EpochRecord[],
  best: EpochRecord | null,
  stopped: boolean,
  pretrained: NerTrainingResult["pretrained"],
): Record<string, unknown> {
  return {
    options: { ...options },
    epochs: history.length,
    bestEpoch: best?.epoch ?? 0,
    dev: best?.dev ?? null,
    stoppedEarly: stopped,
    pretrained,
  };
}

/** A tagger over the run's model as it is now. */
function taggerOf(run: TrainingRun, progress: TrainingProgress, best: EpochRecord | null, stopped: boolean) {
  return NerTagger.create(run.model, {
    ...run.taggerParts,
    training: trainingInfo(run.options, progress.history, best, stopped, run.pretrained),
  });
}

/** Scores the model on the dev sentences (null without a dev set), timing it. */
function evaluateDev(
  run: TrainingRun,
  evaluationTagger: NerTagger,
  now: () => number,
): { dev: DevScores | null; seconds: number } {
  const started = now();
  const dev =
    run.dev !== null && run.devWindows !== null && run.dev.sentenceCount > 0
      ? evaluateCorpus(evaluationTagger, run.dev, run.devScheme, run.devWindows, {
          compile: run.options.compile,
        })
      : null;
  return { dev, seconds: (now() - started) / 1000 };
}

/**
 * Trains the window classifier on `data.train`, scoring each epoch on `data.dev`, and returns the best
 * model as a {@link NerTagger} with the history of the run.
 */
export async function trainNer(
  data: NerTrainingData,
  trainingOptions: NerTrainingOptions = {},
  hooks: TrainingHooks = {},
): Promise<NerTrainingResult> {
  const now = hooks.now ?? (() => performance.now());
  const { run, progress, startEpoch } = prepareRun(data, trainingOptions, hooks.resume ?? null);
  const { options, model } = run;
  const evaluationTagger = NerTagger.create(model, run.taggerParts);

  for (let epoch = startEpoch; epoch <= options.epochs && !progress.finished; epoch++) {
    const trained = await trainEpoch(run, epoch, epoch - 1, {
      now,
      ...(hooks.onBatch !== undefined ? { onBatch: hooks.onBatch } : {}),
      ...(hooks.signal !== undefined ? { signal: hooks.signal } : {}),
    });
    const evaluation = evaluateDev(run, evaluationTagger, now);
    // The best copy is reused unless checkpoints, which hold views of it, may be kept.
    const views = hooks.checkpointViews === true;
    const improved = chooseBest(
      progress,
      epoch,
      evaluation.dev,
      model,
      options,
      hooks.onCheckpoint === undefined || views,
    );
    const record: EpochRecord = {
      epoch,
      loss: trained.loss,
      lr: trained.lr,
      examples: trained.examples,
      seconds: trained.seconds,
      examplesPerSecond: trained.seconds > 0 ? trained.examples / trained.seconds : 0,
      evaluationSeconds: evaluation.seconds,
      dev: evaluation.dev,
      best: improved,
    };
    progress.history.push(record);
    if (improved && hooks.onImprovement !== undefined) {
      await hooks.onImprovement(taggerOf(run, progress, record, false), record);
    }
    if (hooks.onCheckpoint !== undefined)
      await hooks.onCheckpoint(makeCheckpoint(run, progress, epoch, views));
    await hooks.onEpoch?.(record);
  }

  // The best model.
  if (progress.bestState !== null) model.loadStateDict(progress.bestState);
  model.eval();
  const bestRecord = progress.history.find((r) => r.epoch === progress.bestEpoch) ?? null;
  const stopped = stoppedEarly(progress, options.epochs);
  return {
    tagger: taggerOf(run, progress, bestRecord, stopped),
    history: progress.history,
    bestEpoch: progress.bestEpoch,
    best: bestRecord?.dev ?? null,
    stoppedEarly: stopped,
    pretrained: run.pretrained,
  };
}
