import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValueError } from "../../src/errors.js";
import { TagSet, Vocabulary, buildWindows, selectWindows, windowTensors } from "../../src/ner/index.js";
import { buildCorpusWindows, windowMatrix } from "../../src/ner/windows.js";
import { CompactCorpus } from "../../src/ner/conll-compact.js";
import { casingId } from "../../src/ner/features.js";

const train = [
  { tokens: ["Paris", "Hilton", "wowed", "."], tags: ["B-PER", "I-PER", "O", "O"] },
  { tokens: ["in", "Paris"], tags: ["O", "B-LOC"] },
];
const vocabulary = Vocabulary.build(train.map((s) => s.tokens));
const tagSet = TagSet.fromSentences(train);

const rows = (matrix: Int32Array, width: number) =>
  Array.from({ length: matrix.length / width }, (_, r) =>
    Array.from(matrix.subarray(r * width, (r + 1) * width)),
  );

describe("buildWindows", () => {
  it("builds the lecture's windows of 2w + 1 = 5 word ids, padded with <s> and </s>", () => {
    const windows = buildWindows(train, { vocabulary, tagSet });
    expect(windows.count).toBe(6);
    expect(windows.width).toBe(5);
    const id = (word: string) => vocabulary.idOf(word);
    const [s, e] = [vocabulary.startId, vocabulary.endId];
    // x_window for "Hilton" = [x_<s>; x_Paris; x_Hilton; x_wowed; x_.]
    expect(rows(windows.words, 5)).toEqual([
      [s, s, id("Paris"), id("Hilton"), id("wowed")],
      [s, id("Paris"), id("Hilton"), id("wowed"), id(".")],
      [id("Paris"), id("Hilton"), id("wowed"), id("."), e],
      [id("Hilton"), id("wowed"), id("."), e, e],
      [s, s, id("in"), id("Paris"), e],
      [s, id("in"), id("Paris"), e, e],
    ]);
    const c = casingId;
    expect(rows(windows.casing, 5)[1]).toEqual([0, c("Paris"), c("Hilton"), c("wowed"), c(".")]);
    expect(rows(windows.casing, 5)[5]).toEqual([0, c("in"), c("Paris"), 0, 0]);
    expect(Array.from(windows.tags!)).toEqual(
      ["B-PER", "I-PER", "O", "O", "O", "B-LOC"].map((t) => tagSet.idOf(t)),
    );
    expect(Array.from(windows.offsets)).toEqual([0, 4, 6]);
  });

  it("takes another window size, and no tags", () => {
    const windows = buildWindows([{ tokens: ["in", "Paris"] }], { vocabulary, windowSize: 1 });
    expect(windows.width).toBe(3);
    expect(windows.tags).toBeNull();
    expect(rows(windows.words, 3)).toEqual([
      [vocabulary.startId, vocabulary.idOf("in"), vocabulary.idOf("Paris")],
      [vocabulary.idOf("in"), vocabulary.idOf("Paris"), vocabulary.endId],
    ]);
    expect(buildWindows([{ tokens: ["x"] }], { vocabulary, windowSize: 0 }).words).toEqual(Int32Array.of(0));
  });

  it("maps unknown words to <unk> and handles empty input", () => {
    const windows = buildWindows([{ tokens: ["London"] }, { tokens: [] }], { vocabulary });
    expect(rows(windows.words, 5)).toEqual([[1, 1, 0, 2, 2]]);
    expect(Array.from(windows.offsets)).toEqual([0, 1, 1]);
    expect(buildWindows([], { vocabulary }).count).toBe(0);
  });

  it("rejects tags outside the tag set unless told to ignore them", () => {
    const dev = [{ tokens: ["Quinn"], tags: ["B-ORG"] }];
    expect(() => buildWindows(dev, { vocabulary, tagSet })).toThrow(
      'buildWindows: the tag "B-ORG" (sentence 0, token 0) is not in the tag set [O, B-LOC, B-PER, I-PER]',
    );
    expect(Array.from(buildWindows(dev, { vocabulary, tagSet, unknownTag: "ignore" }).tags!)).toEqual([-1]);
    expect(() => buildWindows([{ tokens: ["a"] }], { vocabulary, tagSet })).toThrow(/1 tokens but no tags/);
    expect(() => buildWindows(train, { vocabulary, windowSize: -1 })).toThrow(ValueError);
  });

  it("row t is tokens t − w … t + w with padding beyond the edges (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.constantFrom("Paris", "Hilton", "in", "wowed", ".", "x", "Y"), { maxLength: 9 }),
          {
            maxLength: 5,
          },
        ),
        fc.integer({ min: 0, max: 4 }),
        (tokenLists, w) => {
          const windows = buildWindows(
            tokenLists.map((tokens) => ({ tokens })),
            { vocabulary, windowSize: w },
          );
          let row = 0;
          for (const tokens of tokenLists) {
            for (let t = 0; t < tokens.length; t++, row++) {
              for (let k = -w; k <= w; k++) {
                const j = t + k;
                const expectedWord =
                  j < 0
                    ? vocabulary.startId
                    : j >= tokens.length
                      ? vocabulary.endId
                      : vocabulary.idOf(tokens[j]!);
                const expectedCasing = j < 0 || j >= tokens.length ? 0 : casingId(tokens[j]!);
                expect(windows.words[row * (2 * w + 1) + k + w]).toBe(expectedWord);
                expect(windows.casing[row * (2 * w + 1) + k + w]).toBe(expectedCasing);
              }
            }
          }
          expect(row).toBe(windows.count);
        },
      ),
    );
  });
});

describe("selectWindows and windowTensors", () => {
  const windows = buildWindows(train, { vocabulary, tagSet });

  it("selects a minibatch of rows", () => {
    const batch = selectWindows(windows, [5, 0]);
    expect(batch.count).toBe(2);
    expect(rows(batch.words, 5)).toEqual([rows(windows.words, 5)[5], rows(windows.words, 5)[0]]);
    expect(Array.from(batch.tags!)).toEqual([windows.tags![5], windows.tags![0]]);
    expect(() => selectWindows(windows, [6])).toThrow("selectWindows: row 6 is outside [0, 6)");
  });

  it("wraps the matrices as int32 tensors without copying", () => {
    const tensors = windowTensors(windows);
    expect(tensors.words.shape).toEqual([6, 5]);
    expect(tensors.words.dtype).toBe("int32");
    expect(tensors.words.data).toBe(windows.words);
    expect(tensors.casing.shape).toEqual([6, 5]);
    expect(tensors.tags!.shape).toEqual([6]);
  });
});

describe("windows from ids", () => {
  it("windowMatrix pads each sentence's edges and maps ids through a lookup", () => {
    // Two sentences of ids [7, 8, 9] and [4], w = 1: rows (before, 7, 8), (7, 8, 9), (8, 9, after), (b, 4, a).
    const ids = Int32Array.of(7, 8, 9, 4);
    const offsets = Int32Array.of(0, 3, 4);
    expect(rows(windowMatrix(ids, offsets, 1, -1, -2), 3)).toEqual([
      [-1, 7, 8],
      [7, 8, 9],
      [8, 9, -2],
      [-1, 4, -2],
    ]);
    const lookup = Int32Array.from({ length: 10 }, (_, i) => 100 + i);
    expect(Array.from(windowMatrix(ids, offsets, 0, -1, -2, lookup))).toEqual([107, 108, 109, 104]);
    expect(windowMatrix(new Int32Array(0), Int32Array.of(0), 2, 0, 0)).toEqual(new Int32Array(0));
    expect(() => windowMatrix(ids, Int32Array.of(0, 5), 2, 0, 0)).toThrow(
      "windowMatrix: the offsets reach token 5, but there are 4 ids",
    );
    // Checked before anything is allocated.
    const many = { length: 500_000_000 } as unknown as Int32Array;
    expect(() => windowMatrix(many, Int32Array.of(0, 500_000_000), 2, 0, 0)).toThrow(/do not fit/);
  });

  it("buildCorpusWindows gives buildWindows' matrices for the corpus's sentences (property)", () => {
    const word = fc.oneof(
      fc.constantFrom("Paris", "paris", "1996", "<s>", "."),
      fc.stringMatching(/^[a-zA-Z0-9]{1,4}$/),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(word, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 3 }),
        (sentences, windowSize) => {
          const labelled = sentences.map((tokens) => ({ tokens, tags: tokens.map(() => "O") }));
          const vocabulary = Vocabulary.build(sentences.slice(0, 2), { minCount: 1 });
          const corpus = CompactCorpus.fromSentences(labelled);
          const tags = new Int32Array(corpus.tokenCount);
          const expected = buildWindows(labelled, { vocabulary, windowSize, tagSet: new TagSet(["O"]) });
          expect(buildCorpusWindows(corpus, { vocabulary, windowSize, tags })).toEqual(expected);
          expect(buildCorpusWindows(corpus, { vocabulary, windowSize })).toEqual({ ...expected, tags: null });
        },
      ),
    );
    const corpus = CompactCorpus.fromSentences(train);
    expect(() => buildCorpusWindows(corpus, { vocabulary, windowSize: -1 })).toThrow(ValueError);
    expect(() => buildCorpusWindows(corpus, { vocabulary, tags: new Int32Array(2) })).toThrow(
      "buildCorpusWindows: 2 tags for a corpus of 6 tokens",
    );
  });
});
