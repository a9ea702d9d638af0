import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValueError } from "../../src/errors.js";
import { CASING_CLASSES, TagSet, Vocabulary, casingOf } from "../../src/ner/index.js";
import { CASING_PADDING_ID, casingFromJSON, casingId, casingToJSON } from "../../src/ner/features.js";

const sentences = [
  ["Paris", "Hilton", "wowed", "in", "Paris", "in", "1989", "."],
  ["Samuel", "Quinn", "was", "in", "PARIS", "in", "2001", "."],
];

describe("Vocabulary", () => {
  it("counts normalised words (lower case, digits as 0), most frequent first, specials at 0–2", () => {
    const vocabulary = Vocabulary.build(sentences);
    // in ×4, paris ×3, 0000 ×2 (1989, 2001), . ×2, then the singletons in code-point order
    expect(vocabulary.words).toEqual([
      "<unk>",
      "<s>",
      "</s>",
      "in",
      "paris",
      ".",
      "0000",
      "hilton",
      "quinn",
      "samuel",
      "was",
      "wowed",
    ]);
    expect([vocabulary.unknownId, vocabulary.startId, vocabulary.endId]).toEqual([0, 1, 2]);
    expect(vocabulary.idOf("PaRiS")).toBe(4);
    expect(vocabulary.idOf("1776")).toBe(6);
    expect(vocabulary.idOf("London")).toBe(0);
    expect(vocabulary.has("hilton")).toBe(true);
    expect(vocabulary.has("London")).toBe(false);
    expect(vocabulary.wordOf(7)).toBe("hilton");
  });

  it("applies minCount and maxSize", () => {
    expect(Vocabulary.build(sentences, { minCount: 2 }).words.slice(3)).toEqual(["in", "paris", ".", "0000"]);
    expect(Vocabulary.build(sentences, { maxSize: 2 }).words.slice(3)).toEqual(["in", "paris"]);
  });

  it("can keep case and digits", () => {
    const vocabulary = Vocabulary.build(sentences, { lowercase: false, normalizeDigits: false });
    expect(vocabulary.idOf("Paris")).not.toBe(vocabulary.idOf("PARIS"));
    expect(vocabulary.has("1989")).toBe(true);
    expect(vocabulary.has("paris")).toBe(false);
  });

  it("never maps text to a padding id", () => {
    const vocabulary = Vocabulary.build([["<s>", "</s>", "<unk>", "x"]]);
    expect(vocabulary.size).toBe(4);
    expect(vocabulary.idOf("<s>")).toBe(vocabulary.unknownId);
    expect(vocabulary.idOf("</s>")).toBe(vocabulary.unknownId);
  });

  it("round trips through JSON", () => {
    const vocabulary = Vocabulary.build(sentences, { minCount: 1, lowercase: true });
    const restored = Vocabulary.fromJSON(JSON.parse(JSON.stringify(vocabulary)));
    expect(restored.words).toEqual(vocabulary.words);
    expect(restored.idOf("Quinn")).toBe(vocabulary.idOf("Quinn"));
    expect(restored.lowercase).toBe(true);
    expect(restored.normalizeDigits).toBe(true);
  });

  it("rejects bad JSON and bad options with clear errors", () => {
    expect(() => Vocabulary.fromJSON(null)).toThrow(ValueError);
    expect(() => Vocabulary.fromJSON({ words: "x", lowercase: true, normalizeDigits: true })).toThrow(
      /array/,
    );
    expect(() => Vocabulary.fromJSON({ words: ["<s>"], lowercase: true, normalizeDigits: true })).toThrow(
      'Vocabulary: entry 0 must be "<unk>", got "<s>"',
    );
    expect(() =>
      Vocabulary.fromJSON({
        words: ["<unk>", "<s>", "</s>", "a", "a"],
        lowercase: true,
        normalizeDigits: true,
      }),
    ).toThrow(/appears twice/);
    expect(() =>
      Vocabulary.fromJSON({
        words: ["<unk>", "<s>", "</s>", "Paris"],
        lowercase: true,
        normalizeDigits: true,
      }),
    ).toThrow(/not normalised/);
    expect(() => Vocabulary.fromJSON({ words: ["<unk>", "<s>", "</s>"], lowercase: "yes" })).toThrow(
      /booleans/,
    );
    expect(() => Vocabulary.build(sentences, { minCount: 0 })).toThrow(/minCount/);
    expect(() => new Vocabulary(["<unk>", "<s>", "</s>"]).wordOf(3)).toThrow(/outside \[0, 3\)/);
  });

  it("every training word maps to its own entry, or to <unk> below minCount (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.stringMatching(/^[A-Za-z0-9]{1,5}$/), { maxLength: 10 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 3 }),
        (input, minCount) => {
          const vocabulary = Vocabulary.build(input, { minCount });
          const counts = new Map<string, number>();
          for (const word of input.flat()) {
            const key = vocabulary.normalize(word);
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          for (const word of input.flat()) {
            const id = vocabulary.idOf(word);
            if (counts.get(vocabulary.normalize(word))! >= minCount)
              expect(vocabulary.wordOf(id)).toBe(vocabulary.normalize(word));
            else expect(id).toBe(0);
          }
          expect(Vocabulary.fromJSON(vocabulary.toJSON()).words).toEqual(vocabulary.words);
        },
      ),
    );
  });
});

describe("Vocabulary.fromCounts", () => {
  it("gives what build gives on the words counted, however the counts are split (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.stringMatching(/^[A-Za-zÉé0-9<>/]{1,5}$/), { maxLength: 8 }), { maxLength: 8 }),
        fc.record({
          minCount: fc.integer({ min: 1, max: 3 }),
          lowercase: fc.boolean(),
          normalizeDigits: fc.boolean(),
          maxSize: fc.integer({ min: 0, max: 20 }),
        }),
        (input, options) => {
          const built = Vocabulary.build(input, options);
          // Each occurrence counted on its own: a word may come many times.
          const pairs = input.flat().map((word) => [word, 1] as const);
          expect(Vocabulary.fromCounts(pairs, options).toJSON()).toEqual(built.toJSON());
          const counts = new Map<string, number>();
          for (const word of input.flat()) counts.set(word, (counts.get(word) ?? 0) + 1);
          expect(Vocabulary.fromCounts(counts, options).toJSON()).toEqual(built.toJSON());
        },
      ),
    );
  });

  it("refuses counts that are not counts, and bad options, naming itself", () => {
    expect(() => Vocabulary.fromCounts([["a", -1]])).toThrow(
      'Vocabulary.fromCounts: expected [word, count] pairs of a string and a non-negative integer, got ["a", -1]',
    );
    expect(() => Vocabulary.fromCounts([[3 as never, 1]])).toThrow(ValueError);
    expect(() => Vocabulary.fromCounts([["a", 1.5]])).toThrow(ValueError);
    expect(() => Vocabulary.fromCounts([], { minCount: 0 })).toThrow(/Vocabulary.fromCounts: minCount/);
    expect(() => Vocabulary.build([], { maxSize: -1 })).toThrow(/Vocabulary.build: maxSize/);
  });
});

describe("TagSet", () => {
  it("puts O first and sorts the rest", () => {
    const tags = TagSet.fromSentences([{ tags: ["I-PER", "O", "B-LOC"] }, { tags: ["I-LOC", "O"] }]);
    expect(tags.tags).toEqual(["O", "B-LOC", "I-LOC", "I-PER"]);
    expect(tags.idOf("I-LOC")).toBe(2);
    expect(tags.idOf("I-MISC")).toBe(-1);
    expect(tags.tagOf(3)).toBe("I-PER");
    expect(TagSet.fromJSON(JSON.parse(JSON.stringify(tags))).tags).toEqual(tags.tags);
  });

  it("rejects bad input", () => {
    expect(() => new TagSet([])).toThrow(ValueError);
    expect(() => new TagSet(["O", "O"])).toThrow(/twice/);
    expect(() => TagSet.fromJSON({ tag: [] })).toThrow(/tags/);
    expect(() => new TagSet(["O"]).tagOf(1)).toThrow(/outside/);
  });
});

describe("casing features", () => {
  it("classifies words as Collobert et al. and CS224n do, plus numeric and other", () => {
    const cases: Record<string, string> = {
      night: "lower",
      "3rd": "lower",
      "'s": "lower",
      Paris: "initialCapital",
      McDonald: "initialCapital",
      "Osc-Dis": "initialCapital",
      EU: "allCaps",
      "U.S.": "allCaps",
      I: "allCaps",
      iPhone: "hasCapital",
      eBay: "hasCapital",
      "1989": "numeric",
      "1,000.50": "numeric",
      "1996-08-22": "numeric",
      ",": "other",
      "--": "other",
      东京: "other",
      Émile: "initialCapital",
    };
    for (const [word, expected] of Object.entries(cases)) expect(casingOf(word), word).toBe(expected);
  });

  it("gives ids 1–6, 0 being padding", () => {
    expect(CASING_CLASSES[CASING_PADDING_ID]).toBe("padding");
    expect(casingId("night")).toBe(1);
    expect(casingId("Paris")).toBe(3);
    expect(casingId(".")).toBe(6);
    fc.assert(
      fc.property(fc.string(), (word) => {
        const id = casingId(word);
        expect(id).toBeGreaterThanOrEqual(1);
        expect(id).toBeLessThan(CASING_CLASSES.length);
      }),
    );
  });

  it("round trips through JSON and refuses other classes", () => {
    expect(casingFromJSON(JSON.parse(JSON.stringify(casingToJSON())))).toBe(7);
    expect(() => casingFromJSON({ classes: ["lower", "upper"] })).toThrow(/differ from this version/);
    expect(() => casingFromJSON(undefined)).toThrow(ValueError);
  });
});
