import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ValueError } from "../../src/index.js";
import {
  FEATURE_PADDING_ID,
  FEATURE_UNKNOWN_ID,
  buildFeatureWindows,
  checkTokenFeatures,
  collectFeatureValues,
  featureTableSize,
  tokenFeatureValue,
  wordShape,
} from "../../src/ner/char-features.js";

describe("wordShape", () => {
  it("maps capitals to X, lower case to x, digits to d, keeps other characters, cuts runs to two", () => {
    expect(wordShape("Washington")).toBe("Xxx");
    expect(wordShape("McDonald")).toBe("XxXxx");
    expect(wordShape("EU")).toBe("XX");
    expect(wordShape("U.S.")).toBe("X.X.");
    expect(wordShape("1996-08-22")).toBe("dd-dd-dd");
    expect(wordShape("iPhone")).toBe("xXxx");
    expect(wordShape("a")).toBe("x");
    expect(wordShape("Ärzte")).toBe("Xxx");
    expect(wordShape("--")).toBe("--");
    expect(wordShape("X-ray-Xray-Xray", 5)).toBe("X-xx-");
  });
});

describe("tokenFeatureValue", () => {
  it("takes lower-cased prefixes and suffixes with digits as 0", () => {
    expect(tokenFeatureValue("prefix", 3, "Washington")).toBe("was");
    expect(tokenFeatureValue("suffix", 3, "Washington")).toBe("ton");
    expect(tokenFeatureValue("suffix", 3, "1996")).toBe("000");
    expect(tokenFeatureValue("suffix", 3, "Al")).toBe("al");
    expect(tokenFeatureValue("shape", 8, "Al")).toBe("Xx");
  });
});

describe("collectFeatureValues", () => {
  it("keeps values seen minCount times, most frequent first", () => {
    const sentences = [
      ["Paris", "Tunis", "is", "this"],
      ["Paris", "was"],
    ];
    expect(collectFeatureValues(sentences, "suffix", 2)).toEqual(["is", "as"]);
    expect(collectFeatureValues(sentences, "suffix", 2, 4)).toEqual(["is"]);
    expect(collectFeatureValues(sentences, "shape", 8)).toEqual(["Xxx", "xx"]);
    expect(() => collectFeatureValues(sentences, "infix" as never, 2)).toThrow(/kind must be one of/);
    expect(() => collectFeatureValues(sentences, "suffix", 0)).toThrow(/length must be a positive integer/);
  });
});

describe("buildFeatureWindows", () => {
  it("gives one [N, 2w + 1] id matrix per feature, padding beyond the sentences' edges", () => {
    const features = [{ kind: "suffix" as const, length: 2, dimension: 4, values: ["is", "ce"] }];
    const [ids] = buildFeatureWindows([["Paris", "in", "France"], ["Tunis"]], features, 1);
    const P = FEATURE_PADDING_ID;
    const U = FEATURE_UNKNOWN_ID;
    expect(Array.from(ids!)).toEqual([P, 2, U, 2, U, 3, U, 3, P, P, 2, P]);
    expect(featureTableSize(features[0]!)).toBe(4);
    expect(buildFeatureWindows([["a"]], [], 2)).toEqual([]);
    expect(() => buildFeatureWindows([["a"]], features, -1)).toThrow(ValueError);
  });
});

describe("checkTokenFeatures", () => {
  it("accepts valid descriptions and an absent list", () => {
    const valid = [{ kind: "prefix", length: 3, dimension: 5, values: ["par"] }];
    expect(checkTokenFeatures(valid)).toEqual(valid);
    expect(checkTokenFeatures(undefined)).toEqual([]);
  });

  it("refuses malformed descriptions with a message naming the field", () => {
    expect(() => checkTokenFeatures({})).toThrow(/expected an array/);
    expect(() => checkTokenFeatures([null])).toThrow(/feature 0 must be an object/);
    expect(() => checkTokenFeatures([{ kind: "prefix", length: 0, dimension: 5, values: [] }])).toThrow(
      /length must be a positive integer/,
    );
    expect(() =>
      checkTokenFeatures([{ kind: "prefix", length: 2, dimension: 5, values: ["a", "a"] }]),
    ).toThrow(/appears twice/);
    expect(() => checkTokenFeatures([{ kind: "prefix", length: 2, dimension: 5, values: [""] }])).toThrow(
      /non-empty strings/,
    );
  });

  it("never throws anything but a ValueError on random input", () => {
    fc.assert(
      fc.property(fc.anything(), (json) => {
        try {
          checkTokenFeatures(json);
        } catch (error) {
          expect(error).toBeInstanceOf(ValueError);
        }
      }),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom("prefix", "suffix", "shape", "other"),
            length: fc.integer({ min: -1, max: 4 }),
            dimension: fc.integer({ min: -1, max: 4 }),
            values: fc.array(fc.string()),
          }),
        ),
        (json) => {
          try {
            checkTokenFeatures(json);
          } catch (error) {
            expect(error).toBeInstanceOf(ValueError);
          }
        },
      ),
    );
  });
});
