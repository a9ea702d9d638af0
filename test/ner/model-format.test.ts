import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Random } from "../../src/index.js";
import { NerTagger } from "../../src/ner/tagger-node.js";
import { WindowModel } from "../../src/ner/model.js";
import { Vocabulary, TagSet } from "../../src/ner/vocab.js";
import { collectFeatureValues } from "../../src/ner/char-features.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "model-v1");

describe("model directories", () => {
  it("loads a directory written before the sentence objective and token features, tagging as it did", async () => {
    const tagger = await NerTagger.load(FIXTURE);
    expect(tagger.model.config.objective).toBe("window");
    expect(tagger.model.config.features).toEqual([]);
    expect(tagger.model.crf).toBeNull();
    const expected = JSON.parse(readFileSync(join(FIXTURE, "expected-tags.json"), "utf8")) as {
      tokens: string[];
      tags: string[];
    }[];
    for (const { tokens, tags } of expected) expect(tagger.tagTokens(tokens)).toEqual(tags);
  });

  function sentenceTagger(transitionsFor: (from: string, to: string) => number): NerTagger {
    const sentences = [
      ["Paris", "is", "in", "France"],
      ["Anna", "Smith", "visited", "Rome"],
    ];
    const vocabulary = Vocabulary.build(sentences);
    const tagSet = new TagSet(["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]);
    const model = new WindowModel(
      {
        vocabularySize: vocabulary.size,
        tagCount: tagSet.size,
        wordDimension: 4,
        hiddenSize: 5,
        objective: "sentence",
        features: [
          { kind: "suffix", length: 2, dimension: 2, values: collectFeatureValues(sentences, "suffix", 2) },
          { kind: "shape", length: 8, dimension: 2, values: collectFeatureValues(sentences, "shape", 8) },
        ],
      },
      { random: new Random(4) },
    );
    const data = model.crf!.transitions.data;
    tagSet.tags.forEach((from, i) =>
      tagSet.tags.forEach((to, j) => (data[i * tagSet.size + j] = transitionsFor(from, to))),
    );
    return NerTagger.create(model, {
      vocabulary,
      tagSet,
      scheme: "IOB1",
      trainingScheme: "IOBES",
      binary: null,
      decoding: "viterbi",
    });
  }

  it("saves and loads a sentence-objective model with token features, decoding with its transitions", () => {
    // Transitions that make "O → O" very likely: every token O unless its emissions insist.
    const tagger = sentenceTagger((from, to) => (from === "O" && to === "O" ? 50 : 0));
    const { config, weights, configObject } = tagger.toBytes();
    expect(configObject.model.objective).toBe("sentence");
    expect(configObject.model.features.map((f) => f.kind)).toEqual(["suffix", "shape"]);
    const loaded = NerTagger.fromBytes(config, weights);
    expect(loaded.model.crf).not.toBeNull();
    const tokens = ["Anna", "is", "in", "Paris", "today"];
    expect(loaded.tagTokens(tokens)).toEqual(tagger.tagTokens(tokens));
    expect(tagger.tagTokens(tokens)).toEqual(["O", "O", "O", "O", "O"]);
    const tagged = loaded.tag("Anna is in Paris.");
    for (const token of tagged.tokens) expect(token.score).toBeGreaterThan(0.99);
  });

  it("decodes with the learned transitions, within the scheme's constraints", () => {
    // Now "S-LOC → S-LOC" and starting with S-LOC dominate (start scores stay 0: the transitions decide).
    const tagger = sentenceTagger((from, to) => (from === "S-LOC" && to === "S-LOC" ? 50 : 0));
    expect(tagger.tagTokens(["Anna", "is", "in", "Paris"], { scheme: "IOBES" })).toEqual([
      "S-LOC",
      "S-LOC",
      "S-LOC",
      "S-LOC",
    ]);
  });
});
