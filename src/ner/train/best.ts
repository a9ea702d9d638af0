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
  };
}

/**
 * Updates the progress with an epoch's dev scores: keeps a copy of the model's weights if they are the best
 * so far, or counts an epoch without improvement (and finishes the run when patience runs out). Returns
 * true if the epoch's model is the new best.
 */
export function chooseBest(
  progress: TrainingProgress,
  epoch: number,
  devScores: DevScores | null,
  model: WindowModel,
  options: ResolvedTrainingOptions,
): boolean {
  const score = devScores === null ? epoch : devScores.f1;
  const improved = devScores === null || score > progress.bestF1;
  if (improved) {
    progress.bestF1 = score;
    progress.bestEpoch = epoch;
    progress.bestState = model.stateDict();
    progress.epochsWithoutImprovement = 0;
  } else {
    progress.epochsWithoutImprovement++;
    if (options.patience > 0 && progress.epochsWithoutImprovement >= options.patience) {
      progress.finished = true;
    }
  }
  return improved;
}

/** True if the run ended because the dev F1 stopped improving before the last epoch. */
export function stoppedEarly(progress: TrainingProgress, epochs: number): boolean {
  const { history } = progress;
  return progress.finished && history.length > 0 && history[history.length - 1]!.epoch < epochs;
}
