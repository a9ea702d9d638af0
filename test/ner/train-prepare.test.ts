import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import "../../src/ner/index.js";
import { formatConll } from "../../src/ner/conll.js";
import { readCompactCorpus, readConllFile } from "../../src/ner/conll-node.js";
import { CompactCorpus } from "../../src/ner/conll-compact.js";
import { buildFeatureWindows, tokenFeaturesFor } from "../../src/ner/char-features.js";
import { convertTags, detectScheme, type TagScheme } from "../../src/ner/tags.js";
import { checksumOf } from "../../src/ner/tagger.js";
import { prepareRun, typeOf } from "../../src/ner/train/prepare.js";
import {
  resolveTrainingOptions,
  trainNer,
  type LabelledSentence,
  type NerTrainingOptions,
} from "../../src/ner/trainer.js";
import { TagSet, Vocabulary } from "../../src/ner/vocab.js";
import { buildWindows, copyWindowRows, type TokenWindows } from "../../src/ner/windows.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

/**
 * What preparing a run gave when it worked on arrays of strings: the vocabulary, tag set, windows, feature
 * windows and targets built by the sentence-based functions, one sentence array at a time.
 */
function referenceRun(sentences: readonly LabelledSentence[], given: NerTrainingOptions) {
  const options = resolveTrainingOptions(given);
  const nonEmpty = sentences.filter((s) => s.tokens.length > 0);
  const tokens = nonEmpty.map((s) => s.tokens);
  const vocabulary = Vocabulary.build(tokens, {
    minCount: options.minCount,
    lowercase: options.lowercase,
    normalizeDigits: options.normalizeDigits,
  });
  const scheme = detectScheme(sentences.map((s) => s.tags)).scheme;
  const trainingScheme: TagScheme = options.trainingScheme === "data" ? scheme : options.trainingScheme;
  const trainTags = nonEmpty.map((s) =>
    trainingScheme === scheme ? [...s.tags] : convertTags(s.tags, scheme, trainingScheme),
  );
  const tagSet = options.binary !== null ? null : TagSet.fromSentences(trainTags.map((tags) => ({ tags })));
  const windows = buildWindows(
    nonEmpty.map((s, i) => ({ tokens: s.tokens, tags: trainTags[i]! })),
    { vocabulary, windowSize: options.windowSize, ...(tagSet !== null ? { tagSet } : {}) },
  );
  const features = tokenFeaturesFor(options, tokens);
  const text = sentences.map((s) => `${s.tokens.join(" ")}\t${s.tags.join(" ")}`).join("\n");
  return {
    vocabulary: vocabulary.words,
    tags: tagSet?.tags ?? null,
    words: [...windows.words],
    casing: [...windows.casing],
    windowTags: windows.tags === null ? null : [...windows.tags],
    offsets: [...windows.offsets],
    features,
    featureWindows: buildFeatureWindows(tokens, features, options.windowSize).map((w) => [...w]),
    binaryTargets:
      options.binary === null
        ? []
        : nonEmpty.flatMap((s) => s.tags.map((tag) => (typeOf(tag) === options.binary ? 1 : 0))),
    fingerprint: `${sentences.length}:${checksumOf(new TextEncoder().encode(text))}`,
  };
}

/** Every row of the id matrices of token windows (words, casing, then the features), copied out. */
function allRows(windows: TokenWindows): number[][] {
  const out = windows.lookups.map(() => new Int32Array(windows.count * windows.width));
  copyWindowRows(windows, null, 0, windows.count, out);
  return out.map((ids) => [...ids]);
}

/** The same parts of a prepared run. */
function preparedParts(train: readonly LabelledSentence[] | CompactCorpus, options: NerTrainingOptions) {
  const { run } = prepareRun({ train }, options, null);
  const [words, casing, ...featureWindows] = allRows(run.windows);
  return {
    vocabulary: run.vocabulary.words,
    tags: run.tagSet?.tags ?? null,
    words,
    casing,
    windowTags: run.windows.tags === null ? null : [...run.windows.tags],
    offsets: [...run.windows.offsets],
    features: run.modelConfig.features,
    featureWindows,
    binaryTargets: [...run.binaryTargets],
    fingerprint: run.fingerprint,
  };
}

const sentenceArbitrary = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom("the", "The", "Paris", "PARIS", "1996", "3.5", "é", "Émile", "<s>", "<unk>"),
        fc.stringMatching(/^[A-Za-zé0-9.,'-]{1,6}$/),
      ),
      fc.oneof(
        fc.constant("O"),
        fc.tuple(fc.constantFrom("B", "I"), fc.constantFrom("PER", "LOC")).map(([p, t]) => `${p}-${t}`),
      ),
    ),
    { minLength: 1, maxLength: 7 },
  )
  .map((pairs) => ({ tokens: pairs.map((p) => p[0]), tags: pairs.map((p) => p[1]) }));

const optionsArbitrary: fc.Arbitrary<NerTrainingOptions> = fc.record({
  windowSize: fc.integer({ min: 0, max: 3 }),
  minCount: fc.integer({ min: 1, max: 3 }),
  lowercase: fc.boolean(),
  normalizeDigits: fc.boolean(),
  trainingScheme: fc.constantFrom("data", "IOB2", "IOBES"),
  prefixDimension: fc.constantFrom(0, 2),
  suffixDimension: fc.constantFrom(0, 3),
  shapeDimension: fc.constantFrom(0, 2),
  affixLength: fc.integer({ min: 1, max: 3 }),
  featureMinCount: fc.integer({ min: 1, max: 2 }),
  binary: fc.constantFrom(null, "PER"),
}) as fc.Arbitrary<NerTrainingOptions>;

describe("preparing a run from a CompactCorpus", () => {
  it("gives the vocabulary, tags, windows, features and checksum the sentence-based functions give (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof({ weight: 6, arbitrary: sentenceArbitrary }, fc.constant({ tokens: [], tags: [] })),
          {
            maxLength: 6,
          },
        ),
        optionsArbitrary,
        async (sentences, options) => {
          if (!sentences.some((s) => s.tokens.length > 0)) return;
          if (options.binary !== null && !sentences.some((s) => s.tags.some((t) => t.endsWith("-PER"))))
            return;
          const expected = referenceRun(sentences, options);
          expect(preparedParts(sentences, options)).toEqual(expected);
          // The same sentences read from CoNLL text as a stream (empty sentences do not exist in a file).
          const nonEmpty = sentences.filter((s) => s.tokens.length > 0);
          const corpus = await readCompactCorpus(Readable.from([formatConll(nonEmpty)]));
          expect(preparedParts(corpus, options)).toEqual(referenceRun(nonEmpty, options));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses a checkpoint's tag set that lacks a training tag, naming the sentence and token", () => {
    const train = [
      { tokens: ["a", "b"], tags: ["O", "O"] },
      { tokens: ["c", "Paris"], tags: ["O", "B-LOC"] },
    ];
    const { run } = prepareRun({ train: train.slice(0, 1) }, { trainingScheme: "data" }, null);
    expect(run.tagSet!.tags).toEqual(["O"]);
    // As a resumed run would see it: the tag set of the checkpoint, other data (the fingerprint check is skipped).
    const resume = {
      state: {
        options: resolveTrainingOptions({ trainingScheme: "data" }),
        dataFingerprint: CompactCorpus.fromSentences(train).fingerprint,
        vocabulary: run.vocabulary.toJSON(),
        tags: { tags: ["O"] },
        scheme: "IOB2",
        trainingScheme: "IOB2",
        modelConfig: run.modelConfig,
      },
    } as never;
    expect(() => prepareRun({ train }, {}, resume)).toThrow(
      'buildWindows: the tag "B-LOC" (sentence 1, token 1) is not in the tag set [O]',
    );
  });

  it("checks the data as before", () => {
    expect(() => prepareRun({ train: "x" as never }, {}, null)).toThrow(
      "trainNer: train must be an array of sentences or a CompactCorpus",
    );
    expect(() => prepareRun({ train: [{ tokens: [1], tags: ["O"] }] as never }, {}, null)).toThrow(
      "trainNer: train: sentence 0, token 0: tokens and tags must be strings, got 1",
    );
    expect(() => prepareRun({ train: [{ tokens: [], tags: [] }] }, {}, null)).toThrow(/no tokens/);
    expect(() =>
      prepareRun({ train: [{ tokens: ["a"], tags: ["O"] }], dev: [{ tokens: ["a"] }] as never }, {}, null),
    ).toThrow("trainNer: dev sentence 0 needs tokens and tags of the same length");
  });
});

describe("training on the shipped Wikigold data from a CompactCorpus", () => {
  let arrays: { train: LabelledSentence[]; dev: LabelledSentence[] };
  let compact: { train: CompactCorpus; dev: CompactCorpus };

  beforeAll(async () => {
    const [train, dev] = [join(DATA, "train.conll"), join(DATA, "dev.conll")];
    arrays = { train: (await readConllFile(train)).sentences, dev: (await readConllFile(dev)).sentences };
    compact = { train: await readCompactCorpus(train), dev: await readCompactCorpus(dev) };
  });

  const configurations: [string, NerTrainingOptions][] = [
    ["softmax over all tags", {}],
    ["character features", { prefixDimension: 4, suffixDimension: 4, shapeDimension: 3 }],
    ["the binary classifier", { binary: "LOC" }],
    ["the sentence objective (CRF)", { objective: "sentence", trainingScheme: "data", minCount: 2 }],
  ];
  const small: NerTrainingOptions = { wordDimension: 16, hiddenSize: 16, epochs: 1, batchSize: 64, seed: 5 };

  it("prepares the very run of the sentence arrays from the whole files", () => {
    for (const [, extra] of configurations) {
      const options = { ...small, ...extra };
      expect(preparedParts(compact.train, options)).toEqual(preparedParts(arrays.train, options));
      const a = prepareRun(arrays, options, null).run;
      const b = prepareRun(compact, options, null).run;
      expect([...b.dev!.sentences()]).toEqual([...a.dev!.sentences()]);
      expect(allRows(b.devWindows!)).toEqual(allRows(a.devWindows!));
      expect([b.scheme, b.trainingScheme, b.devScheme]).toEqual([a.scheme, a.trainingScheme, a.devScheme]);
      expect(b.modelConfig).toEqual(a.modelConfig);
    }
  });

  for (const [name, extra] of configurations) {
    it(`gives the very losses, dev scores and model of the sentence arrays: ${name}`, async () => {
      // A fifth of the training sentences and a small network, for time.
      const train = arrays.train.slice(0, 280);
      const options = { ...small, ...extra };
      const a = await trainNer({ train, dev: arrays.dev }, options);
      const b = await trainNer({ train: CompactCorpus.fromSentences(train), dev: compact.dev }, options);
      expect(b.history.map((r) => [r.loss, r.dev])).toEqual(a.history.map((r) => [r.loss, r.dev]));
      expect(b.tagger.toBytes()).toEqual(a.tagger.toBytes());
    });
  }
});
