/** Messages between the NER tab and its training worker. */
import type { BatchProgress, EpochRecord, NerTrainingOptions } from "../lib.js";

export interface StartMessage {
  type: "start";
  urls: { train: string; dev: string; glove: string };
  options: NerTrainingOptions;
  /** Safetensors bytes of a checkpoint to continue from. */
  resume: Uint8Array | null;
}

export type WorkerMessage =
  | { type: "status"; text: string }
  | {
      type: "data";
      train: { sentences: number; tokens: number };
      dev: { sentences: number; tokens: number };
      vectors: number;
      backend: string;
    }
  | { type: "batch"; progress: BatchProgress }
  | { type: "epoch"; record: EpochRecord }
  | { type: "model"; config: string; weights: Uint8Array; epoch: number }
  | { type: "checkpoint"; bytes: Uint8Array; epoch: number }
  | { type: "done"; bestEpoch: number; stoppedEarly: boolean; epochs: number }
  | { type: "error"; message: string };
