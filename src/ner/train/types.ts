/**
 * The data, records and hooks of a training run (shared by the stages in this folder).
 */
import { ChainruleError } from "../../errors.js";
import type { EmbeddingTable } from "../embeddings.js";
import type { CompactCorpus } from "../conll-compact.js";
import type { TagScheme } from "../tags.js";
import type { NerTagger } from "../tagger.js";
import type { TrainingCheckpoint } from "./checkpoint.js";

/** A sentence with gold tags (e.g. a `ConllSentence`). */
export interface LabelledSentence {
  /** The words, in order. */
  readonly tokens: readonly string[];
  /** One gold tag per token (`B-LOC`, `I-PER`, `O`, …). */
  readonly tags: readonly string[];
}

/** Scores on the dev set after an epoch (percentages, 0–100). */
export interface DevScores {
  /** Entity-level (conlleval) for the softmax model; per token, of the positive class, for the binary one. */
  precision: number;
  /** Recall, on the same basis as `precision`. */
  recall: number;
  /** The harmonic mean of precision and recall: what picks the best epoch. */
  f1: number;
  /** Token accuracy (whole tags for the softmax model, positive/negative for the binary one). */
  accuracy: number;
}

/** What happened in one epoch. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's windows. */
  loss: number;
  /** The learning rate used in the epoch. */
  lr: number;
  /** Training windows seen. */
  examples: number;
  /** Training time (seconds), without the dev evaluation. */
  seconds: number;
  /** Training windows per second of training time. */
  examplesPerSecond: number;
  /** Time of the dev evaluation (seconds). */
  evaluationSeconds: number;
  /** Dev scores, or null without a dev set. */
  dev: DevScores | null;
  /** True if this epoch's model is the best so far (and is the one kept). */
  best: boolean;
}

/** Progress within an epoch, reported after each minibatch. */
export interface BatchProgress {
  /** The epoch under way (1-based). */
  epoch: number;
  /** The number of epochs planned. */
  epochs: number;
  /** Minibatches done in this epoch. */
  batch: number;
  /** Minibatches in an epoch. */
  batches: number;
  /** Windows done in this epoch. */
  examples: number;
  /** Windows in an epoch. */
  totalExamples: number;
  /** Mean loss so far in this epoch. */
  loss: number;
  /** Seconds since the epoch started. */
  seconds: number;
}

/** Callbacks and controls of a training run (the third argument of `trainNer`). */
export interface TrainingHooks {
  /** Called after each minibatch. */
  onBatch?: (progress: BatchProgress) => void;
  /** Called after each epoch (after its dev evaluation). */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /**
   * Called when an epoch gives the best dev F1 so far (every epoch without a dev set), with a tagger over the
   * model as it is now: the place to save the best model.
   */
  onImprovement?: (tagger: NerTagger, record: EpochRecord) => void | Promise<void>;
  /** Called after each epoch with a checkpoint to store (awaited before the next epoch starts). */
  onCheckpoint?: (checkpoint: TrainingCheckpoint) => void | Promise<void>;
  /**
   * With true, a checkpoint's tensors are not copies but the run's own arrays (the model's weights, the
   * optimiser's buffers, the best weights so far), valid until `onCheckpoint`'s promise settles: write them out
   * within the hook (`checkpointToParts`), and keep the bytes, not the checkpoint. No copy of the model (and of
   * the optimiser's state) is made at every epoch, and the best weights are copied into the same arrays at each
   * improvement. Default false: a checkpoint stays as it was made, for as long as it is kept.
   */
  checkpointViews?: boolean;
  /** Continue from this checkpoint (its options and vocabulary are used; the data must be the same). */
  resume?: TrainingCheckpoint | null;
  /** A clock in milliseconds (default `performance.now`). */
  now?: () => number;
  /**
   * Stops training when aborted: the epoch under way is abandoned (the last checkpoint stays the state to
   * resume from) and `trainNer` rejects with a {@link TrainingInterrupted}. With a signal, training yields
   * to the event loop every few tenths of a second so that the abort can arrive.
   */
  signal?: AbortSignal;
}

/** The sentences a model is trained on and evaluated on after each epoch. */
export interface NerTrainingData {
  /**
   * The training sentences (each gives one window per token): an array, or a {@link CompactCorpus} (e.g. from
   * `readCompactCorpus`), which holds a big file in a fraction of the memory and trains identically.
   */
  train: readonly LabelledSentence[] | CompactCorpus;
  /** The dev sentences, scored after each epoch to keep the best model and stop early; none by default. */
  dev?: readonly LabelledSentence[] | CompactCorpus | null;
  /** The scheme of the data's tags (detected from the training tags when absent). */
  scheme?: TagScheme;
  /** Pretrained word vectors (e.g. from `readEmbeddingsFile`); words missing from them keep a random initialisation. */
  pretrained?: EmbeddingTable | null;
}

/** Pretrained vectors used: vocabulary words, those found in the table, and its dimension. */
export interface PretrainedInfo {
  /** Words in the vocabulary. */
  words: number;
  /** Of those, the words the pretrained table has a vector for. */
  found: number;
  /** The vectors' length. */
  dimension: number;
}

/** What `trainNer` returns. */
export interface NerTrainingResult {
  /** The best model (by dev F1; the last one without a dev set), ready to tag. */
  tagger: NerTagger;
  /** One record per epoch run, in order. */
  history: EpochRecord[];
  /** The epoch whose model was kept (1-based; 0 if no epoch ran). */
  bestEpoch: number;
  /** Its dev scores (null without a dev set). */
  best: DevScores | null;
  /** True if training stopped because the dev F1 stopped improving. */
  stoppedEarly: boolean;
  /** Pretrained vectors used: vocabulary words found in the table. */
  pretrained: PretrainedInfo | null;
}

/** Training was stopped through {@link TrainingHooks.signal}; `epochsCompleted` epochs were finished. */
export class TrainingInterrupted extends ChainruleError {
  /** The number of epochs finished before the interruption. */
  readonly epochsCompleted: number;
  constructor(epochsCompleted: number) {
    super(
      `trainNer: interrupted during epoch ${epochsCompleted + 1} (${epochsCompleted} epoch${epochsCompleted === 1 ? "" : "s"} completed)`,
    );
    this.epochsCompleted = epochsCompleted;
  }
}
