import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { wasmThresholds } from "../../src/index.js";
import "../../src/ner/index.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import type { ConllSentence } from "../../src/ner/conll.js";
import { CompactCorpus } from "../../src/ner/conll-compact.js";
import { tokenWindowSource, type SentencePrediction } from "../../src/ner/tagger.js";
import { corpusWindows } from "../../src/ner/train/prepare.js";
import type { CompileStats } from "../../src/compile/compile.js";
import {
  evaluateCorpus,
  evaluateTagger,
  trainNer,
  type LabelledSentence,
  type NerTrainingOptions,
} from "../../src/ner/trainer.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

describe("evaluateCorpus and forEachPrediction (a dev set scored a chunk of windows at a time)", () => {
  let train: ConllSentence[];
  let dev: LabelledSentence[];
  beforeAll(async () => {
    train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 150);
    const sentences = (await readConllFile(join(DATA, "dev.conll"))).sentences.slice(0, 120);
    // One sentence longer than a chunk of 512 windows (its scores span several forward passes), between
    // ordinary ones (chunks end at different sentences), and an empty one (scored as nothing).
    const long = sentences.slice(40, 100);
    dev = [
      ...sentences.slice(0, 40),
      { tokens: long.flatMap((s) => s.tokens), tags: long.flatMap((s) => s.tags) },
      { tokens: [], tags: [] },
      ...sentences.slice(100),
    ];
    expect(dev[40]!.tokens.length).toBeGreaterThan(512);
  });

  const configurations: [string, NerTrainingOptions][] = [
    ["softmax, Viterbi decoding, token features", {}],
    ["softmax, greedy decoding, IOB2 outputs", { decoding: "greedy", trainingScheme: "IOB2" }],
    ["the binary classifier", { binary: "LOC" }],
    ["the sentence objective (CRF)", { objective: "sentence" }],
  ];
  const small: NerTrainingOptions = { wordDimension: 12, hiddenSize: 16, epochs: 1, batchSize: 32, seed: 2 };

  for (const [name, extra] of configurations) {
    it(`gives the scores and predictions of the sentence-based path: ${name}`, async () => {
      const { tagger } = await trainNer({ train }, { ...small, ...extra });
      const corpus = CompactCorpus.fromSentences(dev);
      for (const scheme of ["IOB1", "IOB2"] as const) {
        expect(evaluateCorpus(tagger, corpus, scheme)).toEqual(evaluateTagger(tagger, dev, scheme));
      }
      const windows = corpusWindows(corpus, tagger.vocabulary, tagger.model.config, null);
      expect(evaluateCorpus(tagger, corpus, "IOB1", windows)).toEqual(evaluateTagger(tagger, dev, "IOB1"));
      const predicted: SentencePrediction[] = [];
      const order: number[] = [];
      tagger.forEachPrediction(tokenWindowSource(windows), (prediction, s) => {
        predicted.push(prediction);
        order.push(s);
      });
      expect(order).toEqual([...Array(corpus.sentenceCount).keys()]);
      expect(predicted).toEqual(tagger.predict(dev.filter((s) => s.tokens.length > 0).map((s) => s.tokens)));
      predicted.forEach((prediction, s) => {
        expect(tagger.tagsOfPrediction(prediction, "IOB1")).toEqual(
          tagger.tagSentences([corpus.tokensOf(s)], { scheme: "IOB1" })[0],
        );
      });
    });
  }

  for (const [name, extra] of configurations) {
    it(`scores a large set through a compiled forward pass, as eagerly to the bit: ${name}`, async () => {
      const { tagger } = await trainNer({ train }, { ...small, ...extra });
      // Every product in WebAssembly: eagerly, a chunk of few rows would otherwise run its output layer's
      // small product in JavaScript (another rounding), where the plan's product has the full chunk's rows.
      const threshold = wasmThresholds.matmulFlops;
      wasmThresholds.matmulFlops = 0;
      onTestFinished(() => {
        wasmThresholds.matmulFlops = threshold;
      });
      const corpus = CompactCorpus.fromSentences([...dev, ...dev]);
      const windows = corpusWindows(corpus, tagger.vocabulary, tagger.model.config, null);
      expect(windows.count).toBeGreaterThanOrEqual(2048); // compiled from 4 chunks of 512 windows on
      const run = (compile: boolean): SentencePrediction[] => {
        const out: SentencePrediction[] = [];
        tagger.forEachPrediction(tokenWindowSource(windows), (prediction) => out.push(prediction), {
          compile,
        });
        return out;
      };
      const eager = run(false);
      const model = tagger.model as unknown as { paddedPrediction: { run: { stats: CompileStats } } | null };
      expect(model.paddedPrediction).toBeNull();
      const compiled = run(true);
      const { stats } = model.paddedPrediction!.run;
      expect(stats.traces).toBe(1);
      expect(stats.replays).toBeGreaterThan(3);
      expect(stats.eager).toBe(0);
      expect(compiled).toEqual(eager);
      expect(evaluateCorpus(tagger, corpus, "IOB1", windows)).toEqual(
        evaluateCorpus(tagger, corpus, "IOB1", windows, { compile: false }),
      );
      // The model is left in its mode (training here: trainNer's tagger is in evaluation mode, so flip it).
      tagger.model.train(true);
      expect(run(true)).toEqual(eager);
      expect(tagger.model.training).toBe(true);
    });
  }

  it("refuses an unknown scheme in tagsOfPrediction", async () => {
    const { tagger } = await trainNer({ train: train.slice(0, 20) }, small);
    const [prediction] = tagger.predict([["Paris"]]);
    expect(() => tagger.tagsOfPrediction(prediction!, "BIO" as never)).toThrow(/tagsOfPrediction/);
  });
});
