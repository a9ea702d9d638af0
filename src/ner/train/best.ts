/**
 * Stage 3 of an epoch: choose the best model. The best is the highest dev F1 so far (the latest epoch
 * without a dev set); training stops early after `patience` epochs without a better one.
 */
import type { Tensor } from "../../tensor/tensor.js";
import type { WindowModel } from "../model.js";
import type { ResolvedTrainingOptions } from "./options.js";
import type { DevScores, EpochRecord } from "./types.js";

/** Where a run stands after its completed epochs. */
export interface TrainingProgress {
  history: EpochRecord[];
  /** The epoch of the best model so far (0: none yet). */
  bestEpoch: number;
  /** Its dev F1 (its epoch number without a dev set; −∞ before the first epoch). */
  bestF1: number;
  epochsWithoutImprovement: number;
  /** True once early stopping triggered. */
  finished: boolean;
  /** The best model's weights (null before the first epoch). */
  bestState: Record<string, Tensor> | null;
  /**
   * Whether `bestState` is a copy this run made (see {@link chooseBest}), which nothing outside the run holds,
   * so that a later best can be copied into it; false for the weights a resumed run took from its checkpoint.
   */
  ownsBestState: boolean;
}

/** The progress of a run that has not started. */
export function startProgress(): TrainingProgress {
  return {
    history: [],
    bestEpoch: 0,
    bestF1: -Infinity,
    epochsWithoutImprovement: 0,
    finished: false,
    bestState: null,
    ownsBestState: false,
  };
}

/**
 * Updates the progress with an epoch's dev scores: keeps a copy of the model's weights if they are the best
 * so far, or counts an epoch without improvement (and finishes the run when patience runs out). Returns
 * true if the epoch's model is the new best.
 *
 * With `reuse`, a new best is copied into the arrays of the previous best copy, when the run made that copy
 * (`ownsBestState`), instead of into new ones: the previous copy is not garbage left beside the new one until
 * the collector runs (about 4 MB at `ner train`'s defaults). Only where nothing else holds the previous copy's
 * tensors: the trainer reuses it unless a checkpoint hook may keep checkpoints, whose best weights are views
 * of it.
 */
export function chooseBest(
  progress: TrainingProgress,
  epoch: number,
  devScores: DevScores | null,
  model: WindowModel,
  options: ResolvedTrainingOptions,
  reuse = false,
): boolean {
  const score = devScores === null ? epoch : devScores.f1;
  const improved = devScores === null || score > progress.bestF1;
  if (improved) {
    progress.bestF1 = score;
    progress.bestEpoch = epoch;
    if (reuse && progress.ownsBestState && progress.bestState !== null) {
      copyInto(progress.bestState, model.stateDict({ copy: false }));
    } else {
      progress.bestState = model.stateDict();
      progress.ownsBestState = true;
    }
    progress.epochsWithoutImprovement = 0;
  } else {
    progress.epochsWithoutImprovement++;
    if (options.patience > 0 && progress.epochsWithoutImprovement >= options.patience) {
      progress.finished = true;
    }
  }
  return improved;
}

/** Copies each tensor of `source` into the tensor of the same name in `target` (the same model's weights). */
function copyInto(target: Record<string, Tensor>, source: Record<string, Tensor>): void {
  for (const [name, tensor] of Object.entries(source)) target[name]!._data.set(tensor._data);
}

/** True if the run ended because the dev F1 stopped improving before the last epoch. */
export function stoppedEarly(progress: TrainingProgress, epochs: number): boolean {
  const { history } = progress;
  return progress.finished && history.length > 0 && history[history.length - 1]!.epoch < epochs;
}
