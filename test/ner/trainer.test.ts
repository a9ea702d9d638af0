import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChainruleError, FormatError, ValueError } from "../../src/index.js";
import { parse, serialize } from "../../src/nn/safetensors.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import type { ConllSentence } from "../../src/ner/conll.js";
import { conlleval } from "../../src/ner/conlleval.js";
import {
  TRAINING_OPTIONS,
  binaryScores,
  checkpointFromBytes,
  checkpointToBytes,
  checkpointToParts,
  TrainingInterrupted,
  resolveTrainingOptions,
  trainNer,
  type NerTrainingOptions,
  type TrainingCheckpoint,
} from "../../src/ner/trainer.js";
import { checkResolvedOptions, parseOptionText } from "../../src/ner/train/options.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

let train: ConllSentence[];
let dev: ConllSentence[];

beforeAll(async () => {
  train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 120);
  dev = (await readConllFile(join(DATA, "dev.conll"))).sentences.slice(0, 40);
});

/** A small, fast configuration. */
const SMALL: NerTrainingOptions = { wordDimension: 16, hiddenSize: 32, epochs: 3, batchSize: 16, seed: 3 };

/** conlleval's F1 of tagging every token with its most frequent tag in `sentences` (the majority baseline). */
function majorityBaselineF1(sentences: readonly ConllSentence[]): number {
  const counts = new Map<string, Map<string, number>>();
  for (const s of sentences) {
    s.tokens.forEach((token, i) => {
      const tags = counts.get(token) ?? new Map<string, number>();
      tags.set(s.tags[i]!, (tags.get(s.tags[i]!) ?? 0) + 1);
      counts.set(token, tags);
    });
  }
  const majority = (token: string) => [...counts.get(token)!].sort((a, b) => b[1] - a[1])[0]![0];
  return conlleval(sentences.map((s) => ({ gold: s.tags, predicted: s.tokens.map(majority) }))).f1;
}

describe("trainNer", () => {
  it("learns: the loss falls and F1 on a tiny set rises well above the majority-tag baseline", async () => {
    const tiny = train.slice(0, 40);
    const result = await trainNer(
      { train: tiny, dev: tiny },
      { ...SMALL, epochs: 15, patience: 0, optimizer: "adam", lr: 0.02 },
    );
    const losses = result.history.map((r) => r.loss);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! / 4);
    const baseline = majorityBaselineF1(tiny);
    expect(result.best!.f1).toBeGreaterThan(baseline + 15);
    expect(result.best!.f1).toBeGreaterThan(80);
  });

  it("reports each epoch through the callbacks", async () => {
    const epochs: number[] = [];
    let batches = 0;
    let lastProgress = null as null | { examples: number; totalExamples: number };
    const result = await trainNer({ train, dev }, SMALL, {
      onEpoch: (r) => {
        epochs.push(r.epoch);
      },
      onBatch: (p) => {
        batches++;
        lastProgress = p;
      },
    });
    expect(epochs).toEqual([1, 2, 3]);
    const tokens = train.reduce((n, s) => n + s.tokens.length, 0);
    expect(batches).toBe(3 * Math.ceil(tokens / 16));
    expect(lastProgress).toMatchObject({ examples: tokens, totalExamples: tokens });
    for (const record of result.history) {
      expect(record.examples).toBe(tokens);
      expect(record.dev!.f1).toBeGreaterThanOrEqual(0);
      expect(record.lr).toBe(0.1);
    }
    // The model kept is the one with the best dev F1.
    const best = Math.max(...result.history.map((r) => r.dev!.f1));
    expect(result.best!.f1).toBe(best);
    expect(result.history.find((r) => r.best && r.epoch === result.bestEpoch)).toBeDefined();
  });

  it("is reproducible: one seed gives the same model bit for bit", async () => {
    const a = await trainNer({ train, dev }, { ...SMALL, dropout: 0.2, wordDropout: 0.1 });
    const b = await trainNer({ train, dev }, { ...SMALL, dropout: 0.2, wordDropout: 0.1 });
    const c = await trainNer({ train, dev }, { ...SMALL, dropout: 0.2, wordDropout: 0.1, seed: 4 });
    const sa = a.tagger.stateDict();
    const sb = b.tagger.stateDict();
    for (const name of Object.keys(sa)) expect(sb[name]!.data).toEqual(sa[name]!.data);
    expect(a.history.map((r) => r.loss)).toEqual(b.history.map((r) => r.loss));
    expect(c.history.map((r) => r.loss)).not.toEqual(a.history.map((r) => r.loss));
  });

  it("resumes from a checkpoint exactly as if it had not been interrupted", async () => {
    for (const optimizer of ["sgd", "adam", "adagrad"] as const) {
      const options: NerTrainingOptions = {
        ...SMALL,
        optimizer,
        dropout: 0.3,
        wordDropout: 0.1,
        lrDecay: 0.5,
      };
      const data = { train: train.slice(0, 50), dev: dev.slice(0, 20) };
      const uninterrupted = await trainNer(data, options);
      // Keep the checkpoint after epoch 1 (as bytes, the way the CLI writes it), then interrupt the run.
      let saved: Uint8Array | null = null;
      await expect(
        trainNer(data, options, {
          onCheckpoint: (checkpoint: TrainingCheckpoint) => {
            saved = checkpointToBytes(checkpoint);
            // The pieces the CLI writes are the same bytes.
            const parts = checkpointToParts(checkpoint);
            expect(Buffer.concat(parts).equals(Buffer.from(saved))).toBe(true);
            throw new Error("interrupted");
          },
        }),
      ).rejects.toThrow("interrupted");
      const resume = checkpointFromBytes(saved!);
      expect(resume.state.epochsCompleted).toBe(1);
      const resumed = await trainNer(data, {}, { resume });
      const a = uninterrupted.tagger.stateDict();
      const b = resumed.tagger.stateDict();
      for (const name of Object.keys(a)) expect(b[name]!.data, `${optimizer} ${name}`).toEqual(a[name]!.data);
      expect(resumed.history.map((r) => [r.epoch, r.loss, r.dev!.f1])).toEqual(
        uninterrupted.history.map((r) => [r.epoch, r.loss, r.dev!.f1]),
      );
      expect(resumed.bestEpoch).toBe(uninterrupted.bestEpoch);
    }
  });

  it("refuses to resume on other training data", async () => {
    let checkpoint: TrainingCheckpoint | null = null;
    await trainNer({ train, dev }, { ...SMALL, epochs: 1 }, { onCheckpoint: (c) => void (checkpoint = c) });
    await expect(trainNer({ train: train.slice(1), dev }, {}, { resume: checkpoint })).rejects.toThrow(
      /checkpoint was made on other training data/,
    );
  });

  it("writes the same checkpoints from the run's own arrays (checkpointViews) as from copies", async () => {
    // Adam, so that the optimiser's buffers are in the checkpoints too; patience 0 and 4 epochs, so that the
    // best weights are copied more than once (into the same arrays with views).
    const options: NerTrainingOptions = { ...SMALL, epochs: 5, patience: 0, optimizer: "adam", lr: 0.02 };
    const tiny = train.slice(0, 40);
    const data = { train: tiny, dev: tiny };
    const copied: Uint8Array[] = [];
    const kept: TrainingCheckpoint[] = [];
    // A clock of its own for each run, so that the history's timings (in the checkpoints) agree too.
    const clock = () => {
      let ms = 0;
      return () => (ms += 10);
    };
    const a = await trainNer(data, options, {
      now: clock(),
      onCheckpoint: (c) => {
        copied.push(checkpointToBytes(c));
        kept.push(c);
      },
    });
    const viewed: Uint8Array[] = [];
    const views: TrainingCheckpoint[] = [];
    const b = await trainNer(data, options, {
      now: clock(),
      checkpointViews: true,
      onCheckpoint: (c) => {
        viewed.push(Buffer.concat(checkpointToParts(c)));
        views.push(c);
      },
    });
    expect(a.history.filter((r) => r.best).length).toBeGreaterThan(1);
    expect(viewed.map((bytes) => Buffer.from(bytes).toString("base64"))).toEqual(
      copied.map((bytes) => Buffer.from(bytes).toString("base64")),
    );
    const weightsA = a.tagger.stateDict();
    const weightsB = b.tagger.stateDict();
    for (const name of Object.keys(weightsA)) expect(weightsB[name]!.data).toEqual(weightsA[name]!.data);
    // Checkpoints kept past their hook: copies stay as they were made, best weights included; views follow the
    // run (the first epoch's model is the run's last).
    kept.forEach((c, i) =>
      expect(Buffer.from(checkpointToBytes(c)).equals(Buffer.from(copied[i]!))).toBe(true),
    );
    expect(Buffer.from(checkpointToBytes(views[0]!)).equals(Buffer.from(viewed[0]!))).toBe(false);
    const liveA = a.tagger.model.stateDict({ copy: false });
    const liveB = b.tagger.model.stateDict({ copy: false });
    for (const name of Object.keys(liveB)) {
      expect(views[0]!.tensors[`model.${name}`]).toBe(liveB[name]);
      expect(kept[0]!.tensors[`model.${name}`]).not.toBe(liveA[name]);
    }
  });

  it("stops early when the dev F1 stops improving, keeping the best epoch", async () => {
    // With lr = 0 nothing changes after the first epoch, so the F1 never improves again.
    const result = await trainNer({ train, dev }, { ...SMALL, lr: 0, epochs: 10, patience: 2 });
    expect(result.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(result.stoppedEarly).toBe(true);
    expect(result.bestEpoch).toBe(1);
  });

  it("trains the lecture's binary classifier for one type and scores its positive class per token", async () => {
    const result = await trainNer(
      { train, dev: train },
      { ...SMALL, binary: "LOC", epochs: 8, optimizer: "adam", lr: 0.01, patience: 0 },
    );
    expect(result.tagger.binary).toBe("LOC");
    expect(result.tagger.model.config.outputSize).toBe(1);
    expect(result.best!.f1).toBeGreaterThan(50);
    const tags = result.tagger.tagTokens(["He", "flew", "to", "Paris", "."]);
    expect(tags.every((t) => t === "O" || t.endsWith("-LOC"))).toBe(true);
  });

  it("computes per-token precision, recall and F1 of the positive class", () => {
    // gold 1 1 0 0 1, predicted 1 0 1 0 1: tp = 2, fp = 1, fn = 1 ⇒ P = R = 2/3, F1 = 2/3, accuracy 3/5.
    const scores = binaryScores([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]);
    expect(scores.precision).toBeCloseTo(200 / 3, 10);
    expect(scores.recall).toBeCloseTo(200 / 3, 10);
    expect(scores.f1).toBeCloseTo(200 / 3, 10);
    expect(scores.accuracy).toBeCloseTo(60, 10);
    expect(binaryScores([0, 0], [0, 0])).toEqual({ precision: 0, recall: 0, f1: 0, accuracy: 100 });
  });

  it("learns with every optimiser and training scheme", async () => {
    for (const options of [
      { optimizer: "adam", lr: 0.01 },
      { optimizer: "adagrad", lr: 0.1 },
      { optimizer: "sgd", trainingScheme: "data", decoding: "greedy" },
      { optimizer: "sgd", trainingScheme: "IOB2", momentum: 0.9, lr: 0.02 },
    ] as NerTrainingOptions[]) {
      const result = await trainNer({ train: train.slice(0, 60) }, { ...SMALL, ...options, epochs: 4 });
      const losses = result.history.map((r) => r.loss);
      expect(losses[3]!, JSON.stringify(options)).toBeLessThan(losses[0]!);
      // Without a dev set the last epoch is kept.
      expect(result.bestEpoch).toBe(4);
    }
  });

  it("uses pretrained vectors for the words they hold and adds the table's words to the vocabulary", async () => {
    const dimension = 4;
    const words = ["the", "paris", "zanzibar"];
    const vectors = Float32Array.from({ length: words.length * dimension }, (_, i) => (i % 7) / 10);
    const result = await trainNer(
      { train: train.slice(0, 20), pretrained: { words, dimension, vectors } },
      { ...SMALL, wordDimension: undefined, epochs: 1, lr: 0 },
    );
    const { vocabulary, model } = result.tagger;
    expect(vocabulary.has("zanzibar")).toBe(true);
    expect(model.config.wordDimension).toBe(4);
    const table = model.wordEmbedding.weight.data;
    const id = vocabulary.idOf("Zanzibar");
    expect(Array.from(table.slice(id * 4, id * 4 + 4))).toEqual(Array.from(vectors.slice(8, 12)));
    expect(result.pretrained).toMatchObject({ found: 3, dimension: 4 });
    await expect(
      trainNer(
        { train: train.slice(0, 20), pretrained: { words, dimension, vectors } },
        { wordDimension: 50 },
      ),
    ).rejects.toThrow(/wordDimension 50 differs from the pretrained vectors' dimension 4/);
  });

  it("checks its options and data", async () => {
    expect(() => resolveTrainingOptions({ batchSize: 0 })).toThrow(/batchSize must be an integer ≥ 1, got 0/);
    expect(() => resolveTrainingOptions({ optimizer: "rmsprop" as never })).toThrow(
      /optimizer must be one of sgd, adam, adagrad/,
    );
    expect(() => resolveTrainingOptions({ dropout: 1 })).toThrow(/dropout must be a number in \[0, 1\)/);
    expect(() => resolveTrainingOptions({ lr: Number.NaN })).toThrow(ValueError);
    await expect(trainNer({ train }, { binary: "DATE" })).rejects.toThrow(
      /"DATE" does not occur in the training data \(its types: LOC, MISC, ORG, PER\)/,
    );
    await expect(trainNer({ train: [] })).rejects.toThrow(/no tokens/);
    await expect(trainNer({ train: [{ tokens: ["a"], tags: [] }] })).rejects.toThrow(/same length/);
  });

  it("resolves the defaults and bounds from one table that the CLI reads too", () => {
    const defaults = resolveTrainingOptions();
    expect(defaults).toMatchObject({ windowSize: 2, hiddenSize: 300, batchSize: 32, lr: 0.1, binary: null });
    expect(resolveTrainingOptions({ optimizer: "adam" }).lr).toBe(0.001);
    expect(Object.keys(defaults).sort()).toEqual(Object.keys(TRAINING_OPTIONS).sort());
    // What a flag accepts, the library accepts, with the same value; what one refuses, both refuse.
    for (const [key, spec] of Object.entries(TRAINING_OPTIONS) as [keyof NerTrainingOptions, never][]) {
      const flag = (spec as { cli?: { flag: string } }).cli?.flag.split(" ")[0];
      if (flag === undefined) continue;
      const value = defaults[key];
      if (value === null) continue;
      expect(parseOptionText(key, String(value), flag), flag).toEqual(value);
    }
    for (const bad of ["-1", "2.5", "9007199254740993", "1e9"]) {
      expect(() => parseOptionText("batchSize", bad, "--batch-size")).toThrow(
        /--batch-size must be an integer/,
      );
    }
    for (const bad of [-1, 2.5, 2 ** 53, 1e9, Number.NaN]) {
      expect(() => resolveTrainingOptions({ batchSize: bad })).toThrow(
        /trainNer: batchSize must be an integer/,
      );
    }
    expect(() => resolveTrainingOptions({ hiddenSize: 1e9 })).toThrow(
      /hiddenSize must be an integer ≤ 1000000/,
    );
    // Options read back from a file must be complete: nothing is defaulted.
    expect(checkResolvedOptions(defaults, "checkpoint")).toEqual(defaults);
    const { seed: _seed, ...withoutSeed } = defaults;
    expect(() => checkResolvedOptions(withoutSeed, "checkpoint")).toThrow(/"options" has no "seed"/);
  });
});

describe("checkpoints read back", () => {
  /** A one-epoch checkpoint of a tiny run, as bytes, with its data. */
  async function tinyCheckpoint(): Promise<{ bytes: Uint8Array; data: { train: ConllSentence[] } }> {
    const data = { train: train.slice(0, 12) };
    let bytes: Uint8Array | null = null;
    await trainNer(
      data,
      { wordDimension: 4, hiddenSize: 4, epochs: 2, batchSize: 8 },
      {
        onCheckpoint: (c) => {
          bytes ??= checkpointToBytes(c);
        },
      },
    );
    return { bytes: bytes!, data };
  }

  /** The checkpoint with its state (and tensors) changed. */
  function rewrite(
    bytes: Uint8Array,
    change: (state: Record<string, unknown>, tensors: Record<string, unknown>) => void,
  ): Uint8Array {
    const { tensors, metadata } = parse(bytes);
    const state = JSON.parse(metadata.state!) as Record<string, unknown>;
    change(state, tensors);
    return serialize(tensors as never, { state: JSON.stringify(state) });
  }

  it("checks every field: a damaged checkpoint is a FormatError naming the field, never a crash or a hang", async () => {
    const { bytes, data } = await tinyCheckpoint();
    expect(checkpointFromBytes(bytes).state.epochsCompleted).toBe(1);
    const options = (s: Record<string, unknown>) => s.options as Record<string, unknown>;
    const config = (s: Record<string, unknown>) => s.modelConfig as Record<string, unknown>;
    const cases: [string, (s: Record<string, unknown>, t: Record<string, unknown>) => void, RegExp][] = [
      ["no history", (s) => delete s.history, /"history" is missing/],
      ["no random", (s) => delete s.random, /"random" is missing/],
      ["no options", (s) => delete s.options, /"options" is missing/],
      ["no optimizer option", (s) => delete options(s).optimizer, /"options" has no "optimizer"/],
      ["no optimizer state", (_, t) => delete t["optimizer.lr"], /no optimizer state/],
      ["batchSize −1", (s) => (options(s).batchSize = -1), /options\.batchSize must be an integer ≥ 1/],
      ["batchSize 2.5", (s) => (options(s).batchSize = 2.5), /options\.batchSize must be an integer/],
      ["batchSize 2^53", (s) => (options(s).batchSize = 2 ** 53), /options\.batchSize must be an integer/],
      [
        "vocabularySize 1e9",
        (s) => (config(s).vocabularySize = 1e9),
        /"modelConfig": sizes: the word vectors would have vocabularySize × wordDimension = 4000000000 values/,
      ],
      ["vocabularySize 1e5", (s) => (config(s).vocabularySize = 1e5), /vocabularySize" is 100000/],
      [
        "hiddenSize 1e6",
        (s) => (config(s).hiddenSize = 1e6),
        /needs at least \d+ weights but the file holds/,
      ],
      ["history too short", (s) => (s.history = []), /"history" has 0 records/],
      ["random not a state", (s) => (s.random = "xyz"), /"random" must be a generator state/],
      [
        "epochsCompleted 7",
        (s) => (s.epochsCompleted = 7),
        /"epochsCompleted" must be an integer in \[1, 2\]/,
      ],
      ["tags of a binary model", (s) => (s.tags = null), /"tags" must be null exactly for a binary/],
      ["bad scheme", (s) => (s.scheme = "BILOU"), /"scheme"/],
      ["bad vocabulary", (s) => (s.vocabulary = { words: [1, 2] }), /"vocabulary"/],
      [
        "state not an object",
        (s) => Object.assign(s, { history: [null] }),
        /"history\[0\]" must be an object/,
      ],
      // Optimizer entries are the optimizer's own names, for the model's parameters.
      [
        "unknown optimizer tensor",
        (_, t) => (t["optimizer.junk"] = t["optimizer.lr"]),
        /unexpected optimizer tensor "optimizer\.junk": the sgd optimizer of a model with \d+ parameters saves/,
      ],
      [
        "optimizer tensor of a parameter the model lacks",
        (_, t) => (t["optimizer.99.step"] = t["optimizer.lr"]),
        /unexpected optimizer tensor "optimizer\.99\.step"/,
      ],
      [
        "Adam's buffer in an SGD run",
        (_, t) => (t["optimizer.0.expAvg"] = t["optimizer.lr"]),
        /unexpected optimizer tensor "optimizer\.0\.expAvg".*one of "step"/,
      ],
      // The model config's sizes are bounded as config.json's are.
      [
        "wordDimension 1e308",
        (s) => (config(s).wordDimension = 1e308),
        /"modelConfig": sizes: .*wordDimension.*1e\+308/,
      ],
      [
        "a table over 2^31 values",
        (s) => Object.assign(config(s), { wordDimension: 2 ** 30, hiddenSize: 2 ** 30 }),
        /"modelConfig": sizes: .*more than 2147483647/,
      ],
      // An object given where a number belongs is shown readably.
      ["batchSize an object", (s) => (options(s).batchSize = { size: 8 }), /got \{"size":8\}/],
    ];
    for (const [name, change, message] of cases) {
      const damaged = rewrite(bytes, change);
      expect(() => checkpointFromBytes(damaged, "run/checkpoint.safetensors"), name).toThrow(message);
      expect(() => checkpointFromBytes(damaged), name).toThrow(FormatError);
    }
    // What is accepted resumes.
    const resumed = await trainNer(data, {}, { resume: checkpointFromBytes(bytes) });
    expect(resumed.history).toHaveLength(2);
  });

  it("accepts or cleanly refuses any mutation of a valid checkpoint's state (fast-check)", async () => {
    const { bytes, data } = await tinyCheckpoint();
    const { metadata } = parse(bytes);
    const state = JSON.parse(metadata.state!) as Record<string, unknown>;
    /** Every path to a value in the state (arrays: their first items only, to keep the list short). */
    const paths: string[][] = [];
    const visit = (value: unknown, path: string[]) => {
      paths.push(path);
      if (Array.isArray(value)) value.slice(0, 3).forEach((v, i) => visit(v, [...path, String(i)]));
      else if (value !== null && typeof value === "object")
        for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
    };
    visit(state, []);
    const replacement = fc.oneof(
      fc.constantFrom(null, true, -1, 0, 2.5, 2 ** 53, 1e9, 1e308, "", "x", [], {}),
      fc.jsonValue({ maxDepth: 2 }),
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths.filter((p) => p.length > 0)),
        replacement,
        async (path, value) => {
          const mutated = rewrite(bytes, (s) => {
            let target = s as Record<string, unknown>;
            for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
            target[path[path.length - 1]!] = value;
          });
          let resume;
          try {
            resume = checkpointFromBytes(mutated);
          } catch (error) {
            expect(error).toBeInstanceOf(ChainruleError);
            return;
          }
          accepted++;
          try {
            await trainNer(data, {}, { resume });
          } catch (error) {
            expect(error).toBeInstanceOf(ChainruleError);
          }
        },
      ),
      { numRuns: 60, seed: 7 },
    );
    expect(accepted).toBeGreaterThan(0);
  });
});

describe("stopping a run", () => {
  it("abandons the epoch under way when the signal aborts, and resumes from the last checkpoint", async () => {
    const data = { train: train.slice(0, 40), dev: dev.slice(0, 10) };
    const options: NerTrainingOptions = { ...SMALL, epochs: 3 };
    const uninterrupted = await trainNer(data, options);
    const controller = new AbortController();
    let saved: Uint8Array | null = null;
    const stopped = trainNer(data, options, {
      signal: controller.signal,
      onCheckpoint: (c) => {
        saved = checkpointToBytes(c);
      },
      onBatch: (p) => {
        if (p.epoch === 2 && p.batch === 2) controller.abort();
      },
    });
    await expect(stopped).rejects.toThrow(TrainingInterrupted);
    await expect(stopped).rejects.toMatchObject({ epochsCompleted: 1 });
    const resumed = await trainNer(data, {}, { resume: checkpointFromBytes(saved!) });
    const a = uninterrupted.tagger.stateDict();
    const b = resumed.tagger.stateDict();
    for (const name of Object.keys(a)) expect(b[name]!.data, name).toEqual(a[name]!.data);
  });
});
