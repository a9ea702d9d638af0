/**
 * Checks on what a model directory declares, before anything is built from it (browser-safe).
 *
 * A `config.json` is input like any other: its sizes are only claims until the weights file backs them.
 * {@link checkModelConfigSizes} bounds every size by itself (so that no product overflows and no size is
 * absurd), {@link checkWeightsFitConfig} compares the tables the sizes describe with the number of values the
 * weights file really holds, so that building the model never allocates more than the file justifies, and
 * {@link checkFiniteWeights} refuses NaN and infinite weights, which would otherwise tag everything with NaN
 * scores. Each problem is an error naming the field or tensor and quoting the value briefly.
 */
import { FormatError, ValueError, quoteInput } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import type { WindowModelConfig } from "./model.js";

/** The largest size a config may declare for any one dimension (the largest int32). */
export const MAX_MODEL_SIZE = 2 ** 31 - 1;

/** The size fields of a window model's config, and whether 0 is allowed. */
const SIZE_FIELDS: readonly [keyof WindowModelConfig, number][] = [
  ["vocabularySize", 1],
  ["outputSize", 1],
  ["windowSize", 0],
  ["wordDimension", 1],
  ["casingDimension", 0],
  ["casingClasses", 1],
  ["hiddenSize", 1],
];

function sizeOf(
  model: Record<string, unknown>,
  field: string,
  minimum: number,
  where: string,
  label = `model.${field}`,
): number {
  const value = model[field];
  if (value === undefined) return minimum;
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum || value > MAX_MODEL_SIZE) {
    throw new ValueError(
      `${where}: "${label}" must be an integer from ${minimum} to ${MAX_MODEL_SIZE}, got ${quoteInput(value)}`,
    );
  }
  return value;
}

/** What sizes a token feature's table: its row count (values + padding and unknown) and its dimension. */
interface FeatureSize {
  kind: string;
  rows: number;
  dimension: number;
}

/**
 * The sizes of the config's token features (`model.features`), each dimension checked like the other sizes;
 * their other fields are checked when the model is built. Missing or malformed lists give no sizes here.
 */
function featureSizes(model: Record<string, unknown>, where: string): FeatureSize[] {
  const features = model.features;
  if (!Array.isArray(features)) return [];
  return features.map((item: unknown, i) => {
    const feature = (item !== null && typeof item === "object" ? item : {}) as Record<string, unknown>;
    const kind = typeof feature.kind === "string" ? feature.kind.slice(0, 20) : `feature ${i}`;
    const dimension = sizeOf(feature, "dimension", 1, where, `model.features[${i}].dimension`);
    const rows = Array.isArray(feature.values) ? feature.values.length + 2 : 2;
    return { kind, rows, dimension };
  });
}

/** The tables a window model's config describes: name, the fields that size it, and its number of values. */
function tablesOf(
  model: Record<string, number>,
  features: readonly FeatureSize[],
): { name: string; fields: string; values: number }[] {
  const width = 2 * model.windowSize! + 1;
  const featureDimensions = features.reduce((sum, f) => sum + f.dimension, 0);
  const inputSize = width * (model.wordDimension! + model.casingDimension! + featureDimensions);
  return [
    ...features.map((f) => ({
      name: `the ${f.kind} vectors`,
      fields: `(${f.kind} values + 2) × ${f.kind} dimension`,
      values: f.rows * f.dimension,
    })),
    {
      name: "the word vectors",
      fields: "vocabularySize × wordDimension",
      values: model.vocabularySize! * model.wordDimension!,
    },
    {
      name: "the casing vectors",
      fields: "casingClasses × casingDimension",
      values: model.casingClasses! * model.casingDimension!,
    },
    {
      name: "the hidden layer",
      fields:
        features.length === 0
          ? "hiddenSize × (2·windowSize + 1)(wordDimension + casingDimension)"
          : "hiddenSize × (2·windowSize + 1)(wordDimension + casingDimension + the features' dimensions)",
      values: model.hiddenSize! * inputSize,
    },
    {
      name: "the output layer",
      fields: "outputSize × hiddenSize",
      values: model.outputSize! * model.hiddenSize!,
    },
  ];
}

/**
 * Checks that every size in a config's `model` section is an integer in [0 or 1, 2³¹ − 1] and that no table it
 * describes has more than 2³¹ − 1 values (what one typed array can hold here); fields left out take the
 * minimum, as `windowModelConfig` fills them in later. Throws a {@link ValueError} naming the field.
 */
export function checkModelConfigSizes(model: unknown, where = "NER model config"): void {
  if (model === null || typeof model !== "object" || Array.isArray(model)) {
    throw new ValueError(`${where}: "model" must be an object, got ${quoteInput(model)}`);
  }
  const sizes: Record<string, number> = {};
  for (const [field, minimum] of SIZE_FIELDS) {
    sizes[field] = sizeOf(model as Record<string, unknown>, field, minimum, where);
  }
  const features = featureSizes(model as Record<string, unknown>, where);
  for (const table of tablesOf(sizes, features)) {
    if (table.values > MAX_MODEL_SIZE) {
      throw new ValueError(
        `${where}: ${table.name} would have ${table.fields} = ${table.values} values, more than ${MAX_MODEL_SIZE}`,
      );
    }
  }
}

/**
 * Checks, before the model is built, that each table the config describes fits in the weights file: no table
 * may need more values than the file holds in all. (Loading then checks each tensor's exact shape.) Throws a
 * {@link FormatError} naming the fields.
 */
export function checkWeightsFitConfig(
  model: WindowModelConfig,
  tensors: Record<string, Tensor>,
  file = "model.safetensors",
): void {
  checkModelConfigSizes(model);
  let valueCount = 0;
  for (const tensor of Object.values(tensors)) valueCount += tensor.size;
  const features = featureSizes(model as unknown as Record<string, unknown>, "NER model config");
  for (const table of tablesOf(model as unknown as Record<string, number>, features)) {
    if (table.values > valueCount) {
      throw new FormatError(
        `NER model: config.json declares ${table.name} as ${table.fields} = ${table.values} values, but ${file} holds only ${valueCount} values in all`,
        0,
        file,
      );
    }
  }
}

/** Options of the model loaders' weight checks. */
export interface FiniteWeightsOptions {
  /** Accept NaN and infinite weights (default false: refuse them). */
  allowNonFinite?: boolean;
  /** The weights file's name, for messages. */
  file?: string;
}

/**
 * Refuses weights holding NaN or ±Infinity (they tag every token with a NaN score): a {@link FormatError}
 * naming the tensor, the first bad value and its index, and how many there are. With `allowNonFinite`, accepts
 * them.
 */
export function checkFiniteWeights(
  tensors: Record<string, Tensor>,
  options: FiniteWeightsOptions = {},
): void {
  if (options.allowNonFinite === true) return;
  const file = options.file ?? "model.safetensors";
  for (const [name, tensor] of Object.entries(tensors)) {
    if (tensor.dtype === "int32") continue;
    const data = tensor.data;
    let first = -1;
    let count = 0;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        if (first < 0) first = i;
        count++;
      }
    }
    if (count > 0) {
      throw new FormatError(
        `${file}: the tensor ${quoteInput(name)} holds ${count} non-finite value${count === 1 ? "" : "s"} ` +
          `(the first, at index ${first}, is ${data[first]}); weights must be finite numbers ` +
          `(pass allowNonFinite to load them anyway)`,
        0,
        file,
      );
    }
  }
}
