import { beforeAll, describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ValueError } from "../../src/index.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import type { ConllSentence } from "../../src/ner/conll.js";
import { Vocabulary } from "../../src/ner/vocab.js";
import { buildTokenWindows } from "../../src/ner/windows.js";
import { CompactCorpus } from "../../src/ner/conll-compact.js";
import { rareWordProbabilities } from "../../src/ner/train/epoch.js";
import {
  checkResolvedOptions,
  parseOptionText,
  resolveTrainingOptions,
} from "../../src/ner/train/options.js";
import { trainNer, type NerTrainingOptions } from "../../src/ner/trainer.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

describe("frequency-aware word dropout (rareWordDropout)", () => {
  it("gives each word α / (α + its training count), and never a special id", () => {
    const sentences = [{ tokens: ["a", "b", "a", "c"] }, { tokens: ["a", "b"] }];
    const vocabulary = Vocabulary.build(sentences.map((s) => s.tokens));
    const corpus = CompactCorpus.fromSentences(
      sentences.map((s) => ({ tokens: s.tokens, tags: s.tokens.map(() => "O") })),
    );
    const windows = buildTokenWindows(corpus, { vocabulary, windowSize: 1 });
    const p = rareWordProbabilities(windows, 0.5);
    const id = (w: string) => vocabulary.idOf(w);
    expect(p[id("a")]).toBeCloseTo(0.5 / 3.5, 15);
    expect(p[id("b")]).toBeCloseTo(0.5 / 2.5, 15);
    expect(p[id("c")]).toBeCloseTo(0.5 / 1.5, 15);
    // <unk>, <s>, </s>
    for (const special of [0, 1, 2]) expect(p[special] ?? 0).toBe(0);
  });

  it("is an option with a flag, α = 1 by default, refused when negative, and off for checkpoints from before it", () => {
    expect(resolveTrainingOptions({}).rareWordDropout).toBe(1);
    expect(resolveTrainingOptions({ rareWordDropout: 0.25 }).rareWordDropout).toBe(0.25);
    expect(() => resolveTrainingOptions({ rareWordDropout: -1 })).toThrow(ValueError);
    expect(parseOptionText("rareWordDropout", "1", "--rare-word-dropout")).toBe(1);
    expect(() => parseOptionText("rareWordDropout", "x", "--rare-word-dropout")).toThrow(
      /--rare-word-dropout/,
    );
    const stored: Record<string, unknown> = { ...resolveTrainingOptions({}) };
    delete stored.rareWordDropout;
    expect(checkResolvedOptions(stored, "checkpoint").rareWordDropout).toBe(0);
  });

  describe("in training", () => {
    let train: ConllSentence[];
    let dev: ConllSentence[];
    beforeAll(async () => {
      train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 80);
      dev = (await readConllFile(join(DATA, "dev.conll"))).sentences.slice(0, 20);
    });
    const SMALL: NerTrainingOptions = { wordDimension: 8, hiddenSize: 16, epochs: 2, batchSize: 16, seed: 5 };

    it("is reproducible for a seed and changes what is learned", async () => {
      const a = await trainNer({ train, dev }, { ...SMALL, rareWordDropout: 1 });
      const b = await trainNer({ train, dev }, { ...SMALL, rareWordDropout: 1 });
      const off = await trainNer({ train, dev }, { ...SMALL, rareWordDropout: 0 });
      expect(a.history.map((r) => r.loss)).toEqual(b.history.map((r) => r.loss));
      expect(a.history.map((r) => r.loss)).not.toEqual(off.history.map((r) => r.loss));
      // The <unk> row is trained only when words are dropped.
      const unk = (r: typeof a) => Array.from(r.tagger.stateDict()["wordEmbedding.weight"]!.data.slice(0, 8));
      const initial = await trainNer({ train, dev }, { ...SMALL, rareWordDropout: 0, epochs: 1, lr: 1e-12 });
      expect(unk(off)).toEqual(unk(initial));
      expect(unk(a)).not.toEqual(unk(initial));
    });
  });
});
