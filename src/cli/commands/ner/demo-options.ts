/**
 * The settings of `chainrule ner demo`, in a file of their own that imports nothing from Node, so that the web
 * playground's NER tab starts from the same settings (its other fields take the defaults of the training
 * options table, src/ner/train/options.ts).
 */
import type { NerTrainingOptions } from "../../../ner/train/options.js";

/**
 * The demo's hyperparameters (chosen by measurement on the shipped Wikigold split; see docs/ner.md).
 * The shipped GloVe table is used when data/glove/ holds it.
 */
export const DEMO_OPTIONS: NerTrainingOptions = {
  windowSize: 2,
  hiddenSize: 300,
  casingDimension: 5,
  optimizer: "sgd",
  lr: 0.1,
  batchSize: 32,
  epochs: 8,
  patience: 3,
  seed: 1,
  // The lecture's model: word and casing vectors only (ner train's defaults add prefix, suffix and shape
  // features and frequency-aware word dropout).
  prefixDimension: 0,
  suffixDimension: 0,
  shapeDimension: 0,
  rareWordDropout: 0,
};
