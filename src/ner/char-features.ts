/**
 * Token features that reach words the vocabulary has never seen: the first and last characters of a word
 * (prefix and suffix, e.g. `-ville`, `-ese`, `Mc-`) and its shape (`Xxxx` → `Xxx`, `U.S.` → `X.X.`,
 * `1996-08-22` → `dd-dd-dd`), each fed to the window network as a small learned embedding next to the word
 * and casing vectors, for every word of the window.
 *
 * Each feature has its own table of values, collected from the training words (values seen fewer than
 * `minCount` times are left out), with two reserved ids: 0 for the padding beyond a sentence's edges and 1 for
 * a value missing from the table.
 */
import { ValueError } from "../errors.js";

/** A token feature beside the word vector: its first letters, its last letters, or its shape (`Xxx` for "Paris", `dd` for "1989"). */
export type TokenFeatureKind = "prefix" | "suffix" | "shape";

export const TOKEN_FEATURE_KINDS: readonly TokenFeatureKind[] = ["prefix", "suffix", "shape"];

/** The id of the padding positions beyond a sentence's edges. */
export const FEATURE_PADDING_ID = 0;
/** The id of a value the feature's table does not have. */
export const FEATURE_UNKNOWN_ID = 1;
const RESERVED = 2;

/** One token feature as stored in a model's configuration. */
export interface TokenFeatureConfig {
  /** Which feature. */
  kind: TokenFeatureKind;
  /** prefix and suffix: the number of characters; shape: the longest shape string kept. */
  length: number;
  /** The length of the feature's embedding vectors. */
  dimension: number;
  /** The values with ids 2, 3, …, in order (ids 0 and 1 are padding and unknown). */
  values: string[];
}

const UPPER = /\p{Lu}/u;
const LOWER = /\p{Ll}/u;
const DIGIT = /\p{Nd}/gu;
const DIGIT_ONE = /\p{Nd}/u;

/**
 * A word's shape: capitals become `X`, lower-case letters `x`, digits `d`, other characters stay; a run of
 * one class longer than two is cut to two (`Washington` → `Xxx`, `McDonald` → `XxXxx`, `EU` → `XX`,
 * `1996` → `dd`), and the result to `maxLength` characters.
 */
export function wordShape(word: string, maxLength = 8): string {
  let out = "";
  let previous = "";
  let run = 0;
  for (const character of word) {
    const symbol = UPPER.test(character)
      ? "X"
      : LOWER.test(character)
        ? "x"
        : DIGIT_ONE.test(character)
          ? "d"
          : character;
    run = symbol === previous ? run + 1 : 1;
    previous = symbol;
    if (run <= 2) out += symbol;
    if (out.length >= maxLength) break;
  }
  return [...out].slice(0, maxLength).join("");
}

/** The value of a token feature for one word (affixes lower-cased, digits as 0). */
export function tokenFeatureValue(kind: TokenFeatureKind, length: number, word: string): string {
  switch (kind) {
    case "shape":
      return wordShape(word, length);
    case "prefix":
    case "suffix": {
      const characters = [...word.toLowerCase().replace(DIGIT, "0")];
      const part = kind === "prefix" ? characters.slice(0, length) : characters.slice(-length);
      return part.join("");
    }
  }
}

/** The values of a feature seen at least `minCount` times in the words, most frequent first (ties by code point). */
export function collectFeatureValues(
  sentences: Iterable<readonly string[]>,
  kind: TokenFeatureKind,
  length: number,
  minCount = 1,
): string[] {
  checkKind(kind, "collectFeatureValues");
  if (!Number.isInteger(length) || length < 1) {
    throw new ValueError(`collectFeatureValues: length must be a positive integer, got ${String(length)}`);
  }
  const counts = new Map<string, number>();
  for (const words of sentences) {
    for (const word of words) {
      const value = tokenFeatureValue(kind, length, word);
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
  }
  return [...counts]
    .filter(([value, count]) => count >= minCount && value.length > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([value]) => value);
}

function checkKind(kind: unknown, where: string): TokenFeatureKind {
  if (!(TOKEN_FEATURE_KINDS as readonly unknown[]).includes(kind)) {
    throw new ValueError(
      `${where}: a token feature's kind must be one of ${TOKEN_FEATURE_KINDS.join(", ")}, got ${JSON.stringify(kind)}`,
    );
  }
  return kind as TokenFeatureKind;
}

/** Checks token feature descriptions (e.g. from a model's `config.json`) and returns clean copies. */
export function checkTokenFeatures(json: unknown, where = "token features"): TokenFeatureConfig[] {
  if (json === undefined || json === null) return [];
  if (!Array.isArray(json)) throw new ValueError(`${where}: expected an array of token features`);
  const kinds = new Set<unknown>();
  return json.map((item: unknown, i) => {
    const feature = item as Partial<TokenFeatureConfig> | null;
    if (feature === null || typeof feature !== "object") {
      throw new ValueError(`${where}: feature ${i} must be an object`);
    }
    const kind = checkKind(feature.kind, `${where}: feature ${i}`);
    if (kinds.has(kind)) throw new ValueError(`${where}: the ${kind} feature appears twice`);
    kinds.add(kind);
    for (const field of ["length", "dimension"] as const) {
      const value = feature[field];
      if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
        throw new ValueError(
          `${where}: feature ${i} (${kind}): ${field} must be a positive integer, got ${String(value)}`,
        );
      }
    }
    const values = feature.values;
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string" || v.length === 0)) {
      throw new ValueError(`${where}: feature ${i} (${kind}): values must be an array of non-empty strings`);
    }
    if (new Set(values).size !== values.length) {
      throw new ValueError(`${where}: feature ${i} (${kind}): a value appears twice`);
    }
    return { kind, length: feature.length!, dimension: feature.dimension!, values: [...values] };
  });
}

/** The number of rows of a feature's embedding table: its values plus padding and unknown. */
export function featureTableSize(feature: TokenFeatureConfig): number {
  return feature.values.length + RESERVED;
}

/**
 * For each feature, the [N, 2w + 1] row-major matrix of value ids of the windows of `sentences` (the same
 * rows as `buildWindows`: one per token, sentences one after another), padding beyond the sentences' edges.
 */
export function buildFeatureWindows(
  sentences: readonly (readonly string[])[],
  features: readonly TokenFeatureConfig[],
  windowSize: number,
): Int32Array[] {
  if (!Number.isInteger(windowSize) || windowSize < 0) {
    throw new ValueError(`buildFeatureWindows: windowSize must be a non-negative integer, got ${windowSize}`);
  }
  const width = 2 * windowSize + 1;
  let count = 0;
  for (const tokens of sentences) count += tokens.length;
  return features.map((feature) => {
    const ids = new Map<string, number>(feature.values.map((v, i) => [v, i + RESERVED]));
    const cache = new Map<string, number>();
    const out = new Int32Array(count * width);
    let row = 0;
    for (const tokens of sentences) {
      const n = tokens.length;
      const padded = new Int32Array(n + 2 * windowSize); // padding (0) at both ends
      for (let i = 0; i < n; i++) {
        const token = tokens[i]!;
        let id = cache.get(token);
        if (id === undefined) {
          id = ids.get(tokenFeatureValue(feature.kind, feature.length, token)) ?? FEATURE_UNKNOWN_ID;
          cache.set(token, id);
        }
        padded[windowSize + i] = id;
      }
      for (let i = 0; i < n; i++) out.set(padded.subarray(i, i + width), (row + i) * width);
      row += n;
    }
    return out;
  });
}

/** Training options that choose the token features (a dimension of 0 leaves a feature out). */
export interface TokenFeatureOptions {
  /** Length of the prefix vectors (0: no prefix feature). */
  prefixDimension: number;
  /** Length of the suffix vectors (0: no suffix feature). */
  suffixDimension: number;
  /** Length of the word shape vectors (0: no shape feature). */
  shapeDimension: number;
  /** Characters of a prefix or suffix. */
  affixLength: number;
  /** Keep the feature values seen at least this often in the training words. */
  featureMinCount: number;
}

/** The longest shape string kept by the shape feature. */
export const SHAPE_LENGTH = 8;

/** The token features the options ask for, with their values collected from the training sentences. */
export function tokenFeaturesFor(
  options: TokenFeatureOptions,
  sentences: Iterable<readonly string[]>,
): TokenFeatureConfig[] {
  const features: TokenFeatureConfig[] = [];
  const add = (kind: TokenFeatureKind, dimension: number, length: number) => {
    if (dimension <= 0) return;
    const values = collectFeatureValues(sentences, kind, length, options.featureMinCount);
    features.push({ kind, length, dimension, values });
  };
  add("prefix", options.prefixDimension, options.affixLength);
  add("suffix", options.suffixDimension, options.affixLength);
  add("shape", options.shapeDimension, SHAPE_LENGTH);
  return features;
}
