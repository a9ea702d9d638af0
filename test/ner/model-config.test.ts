import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ChainruleError, FormatError, ValueError } from "../../src/errors.js";
import { WindowModel } from "../../src/ner/model.js";
import { checkFiniteWeights, checkModelConfigSizes } from "../../src/ner/model-config.js";
import { NerTagger, checksumOf, parseNerModelConfig } from "../../src/ner/tagger.js";
import { TagSet, Vocabulary } from "../../src/ner/vocab.js";
import { parse, serialize } from "../../src/nn/safetensors.js";

// A small untrained tagger: what matters here is the model directory's two files.
const vocabulary = Vocabulary.build([["Paris", "is", "in", "France"]]);
const tagSet = new TagSet(["O", "B-LOC", "I-LOC"]);
const model = new WindowModel({
  vocabularySize: vocabulary.size,
  tagCount: tagSet.size,
  wordDimension: 4,
  casingDimension: 2,
  hiddenSize: 5,
});
const tagger = NerTagger.create(model, {
  vocabulary,
  tagSet,
  scheme: "IOB2",
  trainingScheme: "IOB2",
  binary: null,
  decoding: "greedy",
});
const { config, weights } = tagger.toBytes();
const json = JSON.parse(config);

/** config.json with `model` changed and the checksum of `weightBytes`, as a crafted directory would have. */
function crafted(change: Record<string, unknown>, weightBytes = weights): string {
  return JSON.stringify({
    ...json,
    model: { ...json.model, ...change },
    weights: { ...json.weights, checksum: checksumOf(weightBytes) },
  });
}

describe("config.json sizes are checked before anything is allocated", () => {
  it("refuses absurd sizes with a ValueError naming the field (was a RangeError)", () => {
    for (const [field, value] of [
      ["hiddenSize", 1e308],
      ["casingDimension", 1e38],
      ["wordDimension", 2 ** 31],
      ["windowSize", -1],
      ["hiddenSize", 2.5],
      ["hiddenSize", "300"],
      ["hiddenSize", {}],
    ] as const) {
      expect(() => NerTagger.fromBytes(crafted({ [field]: value }), weights), `${field} ${value}`).toThrow(
        new RegExp(`"model\\.${field}" must be an integer`),
      );
    }
    expect(() => NerTagger.fromBytes(crafted({ hiddenSize: {} }), weights)).not.toThrow(/object Object/);
    expect(() => checkModelConfigSizes({ hiddenSize: 100_000, wordDimension: 100_000 })).toThrow(
      /the hidden layer would have .* values, more than 2147483647/,
    );
    expect(() => checkModelConfigSizes(null)).toThrow(ValueError);
  });

  it("bounds the token features' dimensions and the tables they make (was a RangeError on resume)", () => {
    const feature = (dimension: unknown, values = ["ab", "cd"]) => ({
      features: [{ kind: "suffix", length: 3, dimension, values }],
    });
    for (const dimension of [1e308, 2 ** 31, 0, -1, 2.5, "10"]) {
      expect(() => checkModelConfigSizes(feature(dimension)), String(dimension)).toThrow(
        /"model\.features\[0\]\.dimension" must be an integer from 1 to 2147483647/,
      );
    }
    expect(() => checkModelConfigSizes(feature(10))).not.toThrow();
    expect(() => checkModelConfigSizes(feature(2 ** 30, ["a", "b", "c"]))).toThrow(
      /the suffix vectors would have .* values, more than 2147483647/,
    );
    // The features widen the hidden layer's input: 300 × 5 × (50 + 5 + 2,000,000) is too many.
    expect(() =>
      checkModelConfigSizes({
        windowSize: 2,
        hiddenSize: 300,
        wordDimension: 50,
        casingDimension: 5,
        ...feature(2_000_000),
      }),
    ).toThrow(/the hidden layer would have .* the features' dimensions/);
  });

  it("refuses sizes the weights file cannot hold, before building the model", () => {
    // Sane on their own, but 40,000 × 30,000 hidden weights are not in a file of a few hundred values.
    expect(() => NerTagger.fromBytes(crafted({ hiddenSize: 40_000, wordDimension: 6_000 }), weights)).toThrow(
      FormatError,
    );
    expect(() => NerTagger.fromBytes(crafted({ hiddenSize: 40_000 }), weights)).toThrow(
      /declares the hidden layer as .* values, but model\.safetensors holds only \d+ values in all/,
    );
    // Sizes that fit the file's total but not its tensors still fail cleanly, when the weights are loaded.
    expect(() => NerTagger.fromBytes(crafted({ hiddenSize: 6 }), weights)).toThrow(ChainruleError);
  });

  it("arbitrary values in the model section: a tagger or a ChainruleError (property)", () => {
    const field = fc.constantFrom(
      "vocabularySize",
      "outputSize",
      "windowSize",
      "wordDimension",
      "casingDimension",
      "casingClasses",
      "hiddenSize",
    );
    const value = fc.oneof(
      fc.integer({ min: -2, max: 50 }),
      fc.constantFrom(1e308, 1e38, 2 ** 31, 2 ** 53, Number.NaN, 0.5, null, "7", [], {}),
    );
    fc.assert(
      fc.property(fc.dictionary(field, value, { maxKeys: 3 }), (change) => {
        try {
          NerTagger.fromBytes(crafted(change), weights);
        } catch (error) {
          expect(error).toBeInstanceOf(ChainruleError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("parseNerModelConfig checks the sizes too", () => {
    expect(() => parseNerModelConfig({ ...json, model: { ...json.model, hiddenSize: 1e308 } })).toThrow(
      /"model\.hiddenSize" must be an integer from 1 to 2147483647, got 1e\+308/,
    );
  });
});

describe("non-finite weights are refused unless allowed", () => {
  const { tensors } = parse(weights);
  const withValue = (value: number): Uint8Array => {
    const copy = parse(weights).tensors;
    copy["hidden.weight"]!.data[3] = value;
    return serialize(copy, { format: "chainrule-ner" });
  };

  it("NaN or an infinity in a tensor is a FormatError naming it (was: NaN scores)", () => {
    for (const value of [Number.NaN, Infinity, -Infinity]) {
      const bytes = withValue(value);
      expect(() => NerTagger.fromBytes(crafted({}, bytes), bytes)).toThrow(
        `model.safetensors: the tensor "hidden.weight" holds 1 non-finite value (the first, at index 3, is ${value}); weights must be finite numbers (pass allowNonFinite to load them anyway)`,
      );
    }
  });

  it("loads them with allowNonFinite, and then tags with NaN scores", () => {
    const bytes = withValue(Number.NaN);
    const loaded = NerTagger.fromBytes(crafted({}, bytes), bytes, { allowNonFinite: true });
    expect(Number.isNaN(loaded.tag("Paris is in France").tokens[0]!.score)).toBe(true);
  });

  it("finite weights load as before", () => {
    const loaded = NerTagger.fromBytes(config, weights);
    expect(loaded.tagTokens(["Paris", "is"])).toEqual(tagger.tagTokens(["Paris", "is"]));
    expect(() => checkFiniteWeights(tensors)).not.toThrow();
  });
});
