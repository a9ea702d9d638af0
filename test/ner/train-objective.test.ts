import { beforeAll, describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ValueError } from "../../src/index.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import type { ConllSentence } from "../../src/ner/conll.js";
import {
  checkpointFromBytes,
  checkpointToBytes,
  trainNer,
  type NerTrainingOptions,
  type TrainingCheckpoint,
} from "../../src/ner/trainer.js";
import { NerTagger } from "../../src/ner/tagger.js";
import { parseOptionText } from "../../src/ner/train/options.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

let train: ConllSentence[];

beforeAll(async () => {
  train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 60);
});

const SMALL: NerTrainingOptions = { wordDimension: 16, hiddenSize: 32, batchSize: 16, seed: 3 };
const FEATURES: NerTrainingOptions = { prefixDimension: 4, suffixDimension: 4, shapeDimension: 3 };

describe("trainNer with the sentence objective and token features", () => {
  it("learns a tiny set with the CRF and the features, and the tagger decodes with its transitions", async () => {
    const tiny = train.slice(0, 40);
    const result = await trainNer(
      { train: tiny, dev: tiny },
      { ...SMALL, ...FEATURES, objective: "sentence", epochs: 15, patience: 0, optimizer: "adam", lr: 0.02 },
    );
    const losses = result.history.map((r) => r.loss);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! / 4);
    expect(result.best!.f1).toBeGreaterThan(80);
    const config = result.tagger.model.config;
    expect(config.objective).toBe("sentence");
    expect(config.features.map((f) => [f.kind, f.length, f.dimension])).toEqual([
      ["prefix", 3, 4],
      ["suffix", 3, 4],
      ["shape", 8, 3],
    ]);
    // The transitions were learned: O → O scores above O → B-x for some type.
    const transitions = result.tagger.model.crf!.transitions.data;
    expect(transitions.some((v) => v !== 0)).toBe(true);
    // A saved and reloaded tagger gives the same tags.
    const { config: json, weights } = result.tagger.toBytes();
    const loaded = NerTagger.fromBytes(json, weights);
    const sentences = tiny.slice(0, 10).map((s) => s.tokens);
    expect(loaded.tagSentences(sentences)).toEqual(result.tagger.tagSentences(sentences));
  });

  it("resumes a sentence-objective run bit for bit", async () => {
    const options: NerTrainingOptions = {
      ...SMALL,
      ...FEATURES,
      objective: "sentence",
      epochs: 3,
      patience: 0,
    };
    const data = { train: train.slice(0, 30), dev: train.slice(30, 40) };
    const whole = await trainNer(data, options);
    let saved: TrainingCheckpoint | null = null;
    await trainNer(
      data,
      { ...options },
      {
        onCheckpoint: (checkpoint) => {
          if (checkpoint.state.epochsCompleted === 1)
            saved = checkpointFromBytes(checkpointToBytes(checkpoint));
        },
      },
    );
    const resumed = await trainNer(data, {}, { resume: saved! });
    const a = whole.tagger.stateDict();
    const b = resumed.tagger.stateDict();
    for (const name of Object.keys(a)) expect(b[name]!.data).toEqual(a[name]!.data);
  });

  it("checks the new options", async () => {
    await expect(trainNer({ train }, { objective: "tokens" as never })).rejects.toThrow(
      /objective must be one of window, sentence/,
    );
    await expect(trainNer({ train }, { objective: "sentence", binary: "LOC" })).rejects.toThrow(ValueError);
    await expect(trainNer({ train }, { suffixDimension: -1 })).rejects.toThrow(/suffixDimension/);
    expect(parseOptionText("objective", "sentence", "--objective")).toBe("sentence");
    expect(parseOptionText("shapeDimension", "5", "--shape-dim")).toBe(5);
    expect(() => parseOptionText("affixLength", "0", "--affix-length")).toThrow(/--affix-length/);
  });
});
