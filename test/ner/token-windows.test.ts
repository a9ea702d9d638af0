import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValueError } from "../../src/errors.js";
import { Vocabulary, buildWindows } from "../../src/ner/index.js";
import { buildTokenWindows, copyWindowRows, type TokenWindows } from "../../src/ner/windows.js";
import { CompactCorpus } from "../../src/ner/conll-compact.js";
import { FEATURE_PADDING_ID, buildFeatureWindows, tokenFeaturesFor } from "../../src/ner/char-features.js";

/** The token windows of sentences, with the prefix, suffix and shape features of their own words. */
function tokenWindows(sentences: string[][], windowSize: number, vocabulary: Vocabulary) {
  const corpus = CompactCorpus.fromSentences(
    sentences.map((tokens) => ({ tokens, tags: tokens.map(() => "O") })),
  );
  const features = tokenFeaturesFor(
    { prefixDimension: 2, suffixDimension: 2, shapeDimension: 2, affixLength: 2, featureMinCount: 1 },
    sentences,
  );
  const lookups = buildFeatureWindows(
    corpus.tokenTable.map((token) => [token]),
    features,
    0,
  );
  const windows = buildTokenWindows(corpus, {
    vocabulary,
    windowSize,
    extra: lookups.map((lookup) => ({ lookup, padding: FEATURE_PADDING_ID })),
  });
  return { windows, features };
}

/** Rows `order` (all rows in order when null) of every id matrix, copied out. */
function copied(windows: TokenWindows, order: Int32Array | null, rows = windows.count): number[][] {
  const out = windows.lookups.map(() => new Int32Array(rows * windows.width));
  copyWindowRows(windows, order, 0, rows, out);
  return out.map((ids) => [...ids]);
}

const wordArbitrary = fc.oneof(
  fc.constantFrom("Paris", "the", "THE", "1996", "U.S.", "é", "<s>", "<unk>", "-"),
  fc.stringMatching(/^[A-Za-z0-9.-]{1,5}$/),
);
const sentencesArbitrary = fc.array(fc.array(wordArbitrary, { minLength: 0, maxLength: 8 }), {
  minLength: 1,
  maxLength: 8,
});

describe("token windows (buildTokenWindows, copyWindowRows)", () => {
  it("copies out the rows of the full window matrices, in any order (property)", () => {
    fc.assert(
      fc.property(
        sentencesArbitrary,
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        (sentences, windowSize, seed) => {
          const nonEmpty = sentences.filter((s) => s.length > 0);
          fc.pre(nonEmpty.length > 0);
          const vocabulary = Vocabulary.build(nonEmpty.slice(0, 2));
          const { windows, features } = tokenWindows(sentences, windowSize, vocabulary);
          const full = buildWindows(
            nonEmpty.map((tokens) => ({ tokens })),
            { vocabulary, windowSize },
          );
          const featureMatrices = buildFeatureWindows(nonEmpty, features, windowSize);
          const matrices = [full.words, full.casing, ...featureMatrices].map((m) => [...m]);
          expect(windows.count).toBe(full.count);
          expect([...windows.offsets]).toEqual([...full.offsets]);
          expect(copied(windows, null)).toEqual(matrices);
          // A shuffled order: row r is window order[r].
          const order = Int32Array.from({ length: windows.count }, (_, i) => i);
          for (let i = order.length - 1; i > 0; i--) {
            const j = (seed * 7919 + i * 104729) % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          const shuffled = copied(windows, order);
          const width = windows.width;
          matrices.forEach((matrix, m) => {
            order.forEach((row, r) => {
              expect(shuffled[m]!.slice(r * width, (r + 1) * width)).toEqual(
                matrix.slice(row * width, (row + 1) * width),
              );
            });
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it("copies a range of rows from `first`, into as many matrices as given", () => {
    const sentences = [
      ["Paris", "is", "big"],
      ["in", "France"],
    ];
    const vocabulary = Vocabulary.build(sentences);
    const { windows } = tokenWindows(sentences, 1, vocabulary);
    const words = new Int32Array(2 * 3);
    copyWindowRows(windows, null, 2, 2, [words]);
    const id = (word: string) => vocabulary.idOf(word);
    // Rows 2 and 3: "big" at the end of the first sentence, "in" at the start of the second.
    expect([...words]).toEqual([
      id("is"),
      id("big"),
      vocabulary.endId,
      vocabulary.startId,
      id("in"),
      id("France"),
    ]);
  });

  it("with 1,024 windows or more, copies from the lookups interleaved token by token: the same rows", () => {
    const words = ["Paris", "the", "THE", "1996", "U.S.", "é", "-", "Rome", "of", "EU", "a1", "b-2", "x.y"];
    const sentences = Array.from({ length: 260 }, (_, s) =>
      Array.from({ length: 1 + ((s * 5) % 9) }, (_, i) => words[(s * 7 + i * 3) % words.length]! + (s % 11)),
    );
    const vocabulary = Vocabulary.build(sentences.slice(0, 40));
    for (const windowSize of [0, 2]) {
      const { windows, features } = tokenWindows(sentences, windowSize, vocabulary);
      expect(windows.count).toBeGreaterThanOrEqual(1024);
      const full = buildWindows(
        sentences.map((tokens) => ({ tokens })),
        { vocabulary, windowSize },
      );
      const matrices = [full.words, full.casing, ...buildFeatureWindows(sentences, features, windowSize)];
      const width = windows.width;
      const order = Int32Array.from({ length: 700 }, (_, r) => (r * 613 + 5) % windows.count);
      const rows = copied(windows, order, order.length);
      matrices.forEach((matrix, m) =>
        order.forEach((row, r) =>
          expect(rows[m]!.slice(r * width, (r + 1) * width)).toEqual([
            ...matrix.subarray(row * width, (row + 1) * width),
          ]),
        ),
      );
      // Into fewer matrices than the windows have, and again (the interleaved lookups kept).
      const two = [new Int32Array(order.length * width), new Int32Array(order.length * width)];
      copyWindowRows(windows, order, 0, order.length, two);
      expect(two.map((ids) => [...ids])).toEqual(rows.slice(0, 2));
      // Lookups of different lengths: copied from each lookup as it is.
      const uneven: TokenWindows = {
        ...windows,
        lookups: [...windows.lookups.slice(0, 2), new Int32Array(3)],
      };
      const out = uneven.lookups.map(() => new Int32Array(order.length * width));
      copyWindowRows(uneven, order, 0, order.length, out);
      expect([...out[0]!]).toEqual(rows[0]);
      expect([...out[1]!]).toEqual(rows[1]);
    }
  });

  it("refuses rows outside the corpus and malformed options", () => {
    const sentences = [["a", "b"]];
    const vocabulary = Vocabulary.build(sentences);
    const { windows } = tokenWindows(sentences, 2, vocabulary);
    const out = [new Int32Array(5)];
    expect(() => copyWindowRows(windows, Int32Array.of(2), 0, 1, out)).toThrow(
      /window 2 is outside \[0, 2\)/,
    );
    expect(() => copyWindowRows(windows, Int32Array.of(-1), 0, 1, out)).toThrow(ValueError);
    expect(() => copyWindowRows(windows, null, 1, 2, [new Int32Array(10)])).toThrow(/window 2/);
    const corpus = CompactCorpus.fromSentences([{ tokens: ["a", "b"], tags: ["O", "O"] }]);
    expect(() => buildTokenWindows(corpus, { vocabulary, windowSize: -1 })).toThrow(/windowSize/);
    expect(() => buildTokenWindows(corpus, { vocabulary, windowSize: 1.5 })).toThrow(ValueError);
    expect(() => buildTokenWindows(corpus, { vocabulary, tags: new Int32Array(3) })).toThrow(
      /3 tags for a corpus of 2 tokens/,
    );
    expect(() =>
      buildTokenWindows(corpus, { vocabulary, extra: [{ lookup: new Int32Array(5), padding: 0 }] }),
    ).toThrow(/id matrix 2 has 5 ids for 2 distinct tokens/);
  });
});
