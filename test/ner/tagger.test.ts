import { beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { FormatError, ValueError, ner, tensor } from "../../src/index.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import type { ConllSentence } from "../../src/ner/conll.js";
import { checksumOf, parseNerModelConfig } from "../../src/ner/tagger.js";
import { NerTagger, saveNerModel } from "../../src/ner/tagger-node.js";
import { trainNer } from "../../src/ner/trainer.js";
import { greedyDecode, logSoftmaxRows, transitionTable, viterbiDecode } from "../../src/ner/decode.js";
import { extractEntities, iobesToIob2 } from "../../src/ner/tags.js";
import {
  embeddingTableFromSafetensors,
  embeddingTableToSafetensors,
  floatToHalf,
} from "../../src/ner/embedding-table.js";
import { parse, serialize } from "../../src/nn/safetensors.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

let train: ConllSentence[];
let tagger: NerTagger;
let binaryTagger: NerTagger;

beforeAll(async () => {
  train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 80);
  const options = {
    wordDimension: 12,
    hiddenSize: 24,
    epochs: 3,
    seed: 5,
    optimizer: "adam" as const,
    lr: 0.01,
  };
  tagger = (await trainNer({ train }, options)).tagger;
  binaryTagger = (await trainNer({ train }, { ...options, binary: "PER" })).tagger;
});

const TEXT =
  "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989. Last night, Paris Hilton wowed.";

describe("NerTagger", () => {
  it("tags raw text with tokens, tags and entity spans at character offsets", () => {
    for (const t of [tagger, binaryTagger]) {
      const tagged = t.tag(TEXT);
      expect(tagged.sentences).toHaveLength(2);
      expect(tagged.tokens.map((token) => token.text).slice(0, 4)).toEqual([
        "Samuel",
        "Quinn",
        "was",
        "arrested",
      ]);
      for (const token of tagged.tokens) {
        expect(TEXT.slice(token.start, token.end)).toBe(token.text);
        expect(token.score).toBeGreaterThan(0);
        expect(token.score).toBeLessThanOrEqual(1);
      }
      // The entities are exactly the spans the IOB2 tags spell.
      for (const sentence of tagged.sentences) {
        const tokens = tagged.tokens.slice(sentence.tokenStart, sentence.tokenEnd);
        const spans = extractEntities(
          tokens.map((token) => token.tag),
          "IOB2",
        );
        const entities = tagged.entities.filter(
          (e) => e.tokenStart >= sentence.tokenStart && e.tokenEnd <= sentence.tokenEnd,
        );
        expect(
          entities.map((e) => [e.type, e.tokenStart - sentence.tokenStart, e.tokenEnd - sentence.tokenStart]),
        ).toEqual(spans.map((s) => [s.type, s.start, s.end]));
        for (const e of entities) {
          expect(e.text).toBe(TEXT.slice(e.start, e.end));
          expect(e.start).toBe(tagged.tokens[e.tokenStart]!.start);
          expect(e.end).toBe(tagged.tokens[e.tokenEnd - 1]!.end);
        }
      }
    }
    expect(binaryTagger.tag(TEXT).entities.every((e) => e.type === "PER")).toBe(true);
  });

  it("gives tags in the scheme asked for", () => {
    const tokens = ["Samuel", "Quinn", "met", "John", "in", "Paris", "."];
    const iob2 = tagger.tagTokens(tokens);
    expect(tagger.tagTokens(tokens, { scheme: "IOBES" })).toEqual(
      ner.encodeEntities(extractEntities(iob2, "IOB2"), tokens.length, "IOBES"),
    );
    expect(iobesToIob2(tagger.tagTokens(tokens, { scheme: "IOBES" }))).toEqual(iob2);
    expect(tagger.tagSentences([tokens, [], ["Paris"]]).map((s) => s.length)).toEqual([7, 0, 1]);
    expect(tagger.tag("").tokens).toEqual([]);
  });

  it("round-trips through bytes and through a model directory with identical predictions", async () => {
    const directory = await mkdtemp(join(tmpdir(), "chainrule-tagger-"));
    try {
      for (const t of [tagger, binaryTagger]) {
        const { config, weights } = t.toBytes();
        const fromBytes = NerTagger.fromBytes(config, weights);
        await saveNerModel(directory, t);
        const loaded = await NerTagger.load(directory);
        for (const copy of [fromBytes, loaded]) {
          expect(copy.tag(TEXT)).toEqual(t.tag(TEXT));
          const a = t.stateDict();
          const b = copy.stateDict();
          for (const name of Object.keys(a)) expect(b[name]!.data).toEqual(a[name]!.data);
          expect(copy.binary).toBe(t.binary);
        }
        // Written from views of the parameters (the training CLI's way): the same two files, byte for byte.
        const files = async (): Promise<[string, number[]]> => [
          await readFile(join(directory, "config.json"), "utf8"),
          Array.from(await readFile(join(directory, "model.safetensors"))),
        ];
        const copied = await files();
        await saveNerModel(directory, t, { viewWeights: true });
        expect(await files()).toEqual(copied);
        expect(copied[1]).toEqual(Array.from(weights));
        const saved = JSON.parse(await readFile(join(directory, "config.json"), "utf8"));
        expect(saved).toMatchObject({
          format: "chainrule-ner",
          version: 1,
          scheme: "IOB1",
          trainingScheme: "IOBES",
          model: { windowSize: 2, hiddenSize: 24, wordDimension: 12 },
          casing: {
            classes: ["padding", "lower", "allCaps", "initialCapital", "hasCapital", "numeric", "other"],
          },
        });
        expect(saved.vocabulary.words.slice(0, 3)).toEqual(["<unk>", "<s>", "</s>"]);
        expect(saved.training.options.optimizer).toBe("adam");
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("refuses weights that do not belong to the config, and malformed configs", async () => {
    const { config, weights } = tagger.toBytes();
    const other = binaryTagger.toBytes().weights;
    expect(() => NerTagger.fromBytes(config, other)).toThrow(FormatError);
    expect(() => NerTagger.fromBytes(config, other)).toThrow(/does not match config\.json/);
    expect(() => NerTagger.fromBytes("{", weights)).toThrow(/not valid JSON/);
    const json = JSON.parse(config);
    expect(() => parseNerModelConfig({ ...json, format: "x" })).toThrow(/"format" must be "chainrule-ner"/);
    expect(() => parseNerModelConfig({ ...json, version: 99 })).toThrow(/version.*not supported/);
    expect(() => parseNerModelConfig({ ...json, scheme: "BIO" })).toThrow(ValueError);
    expect(() => parseNerModelConfig({ ...json, tags: { tags: ["O"] } })).toThrow(/1 tags but the model has/);
    expect(() => parseNerModelConfig({ ...json, model: { ...json.model, vocabularySize: 3 } })).toThrow(
      /vocabulary has \d+ entries but the model's table has 3 rows/,
    );
    expect(() => parseNerModelConfig(null)).toThrow(/expected a JSON object/);
    // Arbitrary JSON values never crash the reader: they are refused with a ValueError.
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseNerModelConfig(value);
        } catch (error) {
          expect(error).toBeInstanceOf(ValueError);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("reports a missing or incomplete model directory clearly", async () => {
    const directory = await mkdtemp(join(tmpdir(), "chainrule-tagger-"));
    try {
      await expect(NerTagger.load(directory)).rejects.toThrow(/config\.json: no such file/);
      await writeFile(join(directory, "config.json"), tagger.toBytes().config);
      await expect(NerTagger.load(directory)).rejects.toThrow(/model\.safetensors: no such file/);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("computes a checksum that changes with any byte", () => {
    const bytes = Uint8Array.from([1, 2, 3, 4]);
    // FNV-1a of the empty input is the offset basis 0x811c9dc5.
    expect(checksumOf(new Uint8Array(0))).toBe("fnv1a32:811c9dc5");
    expect(checksumOf(bytes)).not.toBe(checksumOf(Uint8Array.from([1, 2, 3, 5])));
    // Of pieces: the checksum of their bytes one after the other, however they are cut.
    const whole = checksumOf(bytes);
    expect(checksumOf([bytes])).toBe(whole);
    expect(checksumOf([bytes.subarray(0, 1), new Uint8Array(0), bytes.subarray(1)])).toBe(whole);
    expect(checksumOf([])).toBe(checksumOf(new Uint8Array(0)));
    const { configObject, weights } = tagger.toParts();
    expect(configObject.weights.checksum).toBe(checksumOf(tagger.toBytes().weights));
    expect(weights.length).toBeGreaterThan(1);
  });
});

describe("decoding", () => {
  const tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER"];

  it("allows exactly the IOBES transitions", () => {
    const table = transitionTable(tags, "IOBES");
    const allowed = (a: string, b: string) =>
      table.allowed[tags.indexOf(a) * tags.length + tags.indexOf(b)] === 1;
    expect(allowed("O", "B-PER")).toBe(true);
    expect(allowed("O", "I-PER")).toBe(false);
    expect(allowed("B-PER", "E-PER")).toBe(true);
    expect(allowed("B-PER", "O")).toBe(false);
    expect(allowed("E-PER", "S-PER")).toBe(true);
    expect(allowed("S-PER", "I-PER")).toBe(false);
    expect(Array.from(table.start)).toEqual([1, 1, 0, 0, 1]);
    expect(Array.from(table.end)).toEqual([1, 0, 0, 1, 1]);
  });

  it("picks the best sequence the scheme allows where greedy decoding breaks the rules", () => {
    // Token 1: B-PER is likeliest; token 2: O is likeliest, which IOBES forbids after B-PER. The best allowed
    // sequences are B-PER E-PER (0.6 · 0.35 = 0.21) and S-PER O (0.3 · 0.6 = 0.18), and O O (0.1 · 0.6).
    const probabilities = [
      [0.1, 0.6, 0, 0, 0.3],
      [0.6, 0, 0.05, 0.35, 0],
    ];
    const scores = probabilities.flat().map((p) => Math.log(p));
    expect(Array.from(greedyDecode(scores, 0, 2, 5))).toEqual([1, 0]);
    expect(Array.from(viterbiDecode(scores, 0, 2, transitionTable(tags, "IOBES")))).toEqual([1, 3]);
  });

  it("always returns a sequence the scheme allows, at least as likely as any other allowed one", () => {
    const table = transitionTable(tags, "IOBES");
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 6 })
          .chain((n) =>
            fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 5 * n, maxLength: 5 * n }),
          ),
        (logits) => {
          const n = logits.length / 5;
          const scores = logSoftmaxRows(logits, n, 5);
          const path = viterbiDecode(scores, 0, n, table);
          const total = (p: ArrayLike<number>) =>
            Array.from(p).reduce((s, id, t) => s + scores[t * 5 + id]!, 0);
          const valid = (p: ArrayLike<number>) =>
            table.start[p[0]!] === 1 &&
            table.end[p[n - 1]!] === 1 &&
            Array.from(p).every((id, t) => t === 0 || table.allowed[p[t - 1]! * 5 + id] === 1);
          expect(valid(path)).toBe(true);
          // Brute force over every sequence of n tags.
          let best = -Infinity;
          const sequence = new Array<number>(n).fill(0);
          const visit = (t: number): void => {
            if (t === n) {
              if (valid(sequence)) best = Math.max(best, total(sequence));
              return;
            }
            for (let id = 0; id < 5; id++) {
              sequence[t] = id;
              visit(t + 1);
            }
          };
          visit(0);
          expect(total(path)).toBeCloseTo(best, 9);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("computes log-softmax rows stably", () => {
    // log softmax([1000, 1000]) = [−log 2, −log 2].
    expect(Array.from(logSoftmaxRows([1000, 1000], 1, 2))).toEqual([-Math.log(2), -Math.log(2)]);
  });
});

describe("embedding tables in safetensors", () => {
  it("round-trips words and vectors in half precision", () => {
    const table = {
      words: ["the", "paris", '"quoted"'],
      dimension: 2,
      vectors: Float32Array.from([0.5, -0.25, 1, 2, 65504, -0.0001]),
    };
    const back = embeddingTableFromSafetensors(embeddingTableToSafetensors(table));
    expect(back.words).toEqual(table.words);
    expect(back.dimension).toBe(2);
    // All but the last value are exact in half precision; 1e-4 rounds to the nearest half.
    expect(Array.from(back.vectors.slice(0, 5))).toEqual([0.5, -0.25, 1, 2, 65504]);
    expect(back.vectors[5]).toBeCloseTo(-0.0001, 6);
    const f32 = embeddingTableFromSafetensors(embeddingTableToSafetensors(table, { dtype: "F32" }));
    expect(f32.vectors).toEqual(table.vectors);
    // Any safetensors reader reads it: the layout is standard.
    expect(parse(embeddingTableToSafetensors(table)).dtypes.vectors).toBe("F16");
  });

  it("rounds to the nearest half-precision value", () => {
    fc.assert(
      fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (value) => {
        const bits = floatToHalf(value);
        const table = { words: ["w"], dimension: 1, vectors: Float32Array.of(value) };
        const decoded = embeddingTableFromSafetensors(embeddingTableToSafetensors(table)).vectors[0]!;
        // The spacing of halves near |v| is 2^(floor(log2 |v|) − 10) (2^−24 for subnormals).
        const exponent = Math.max(-14, Math.floor(Math.log2(Math.abs(value) || 2 ** -24)));
        expect(Math.abs(decoded - value)).toBeLessThanOrEqual(2 ** (exponent - 11) * (1 + 1e-12));
        expect(bits).toBeGreaterThanOrEqual(0);
        expect(bits).toBeLessThan(65536);
      }),
    );
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(70000)).toBe(0x7c00);
    expect(floatToHalf(2 ** -24)).toBe(1);
    expect(floatToHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it("refuses files that are not embedding tables", () => {
    const table = { words: ["a", "b"], dimension: 1, vectors: Float32Array.of(1, 2) };
    const vectors = tensor([[1], [2]]);
    expect(() => embeddingTableFromSafetensors(serialize({ vectors }, { words: '["a","c","d"]' }))).toThrow(
      /3 words but 2 vectors/,
    );
    expect(() => embeddingTableFromSafetensors(serialize({ vectors }, { words: "[1, 2]" }))).toThrow(
      /"words" to be a JSON array of words/,
    );
    expect(() =>
      embeddingTableFromSafetensors(serialize({ other: vectors }, { words: '["a","b"]' })),
    ).toThrow(/expected a float tensor "vectors"/);
    expect(() => embeddingTableToSafetensors({ ...table, dimension: 3 })).toThrow(/need 6 values, got 2/);
  });
});

describe("the shipped GloVe table", () => {
  it("reads as an embedding table holding the lecture's words", async () => {
    const path = join(DATA, "../glove/glove-wikigold-100d.safetensors");
    const table = embeddingTableFromSafetensors(new Uint8Array(await readFile(path)), path);
    expect(table.dimension).toBe(100);
    expect(table.words.length).toBe(12399);
    expect(new Set(table.words).size).toBe(table.words.length);
    for (const word of ["paris", "hilton", "samuel", "quinn", "arrested", "sequin", "april"]) {
      expect(table.words, word).toContain(word);
    }
    // GloVe's words are lower case; one word per normalised form (digits as 0) was kept.
    expect(table.words.every((w) => w === w.toLowerCase())).toBe(true);
    const normalised = table.words.map((w) => w.replace(/\p{Nd}/gu, "0"));
    expect(new Set(normalised).size).toBe(table.words.length);
    expect(normalised).toContain("mid-0000s"); // mid-1990s
    expect(table.vectors.every((v) => Number.isFinite(v))).toBe(true);
  });
});

describe("browser safety", () => {
  it("the model, decoding, trainer, tagger, embedding tables and curves import no Node module", async () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), "../../src");
    for (const file of [
      "ner/model.ts",
      "ner/decode.ts",
      "ner/trainer.ts",
      "ner/tagger.ts",
      "ner/embedding-table.ts",
      "ner/index.ts",
      "viz/curves.ts",
    ]) {
      const source = await readFile(join(root, file), "utf8");
      expect(source, file).not.toMatch(/from\s+["']node:/);
      expect(source, file).not.toMatch(/\brequire\(/);
      // Node-only modules are reached only from the Node entry points (test/bundles.test.ts bundles the rest).
      expect(source.match(/import\(["'][^"']+["']\)/g) ?? [], file).toEqual([]);
      expect(source, file).not.toMatch(/from\s+["'][^"']*-node\.js["']/);
    }
  });
});
