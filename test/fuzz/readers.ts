/**
 * The fuzz suite's readers and contract, shared by the short pass in `npm test` (fuzz.test.ts) and the long
 * one of `npm run fuzz` (scripts/fuzz.ts).
 *
 * Every reader of outside input gets random input and mutations of valid files (bytes or characters deleted,
 * inserted, duplicated, flipped; fields replaced by awkward values). The contract, for every input:
 *
 * - it is accepted, or refused with a {@link ChainruleError} (anything else is a defect: a crash);
 * - it takes at most a second per KB (at least one second);
 * - what is accepted round-trips: written back by the matching writer and read again, it gives the same.
 */
import fc from "fast-check";
import { ChainruleError } from "../../src/errors.js";
import { formatConll, formatPredictions, parseConll, parsePredictions } from "../../src/ner/conll.js";
import { parseEmbeddings, type EmbeddingTable } from "../../src/ner/embeddings.js";
import { embeddingTableFromSafetensors, embeddingTableToSafetensors } from "../../src/ner/embedding-table.js";
import { WindowModel } from "../../src/ner/model.js";
import { NerTagger, checksumOf } from "../../src/ner/tagger.js";
import { TagSet, Vocabulary } from "../../src/ner/vocab.js";
import { tokenize, tokenizeSentences } from "../../src/ner/tokenizer.js";
import { checkpointFromBytes, checkpointToBytes } from "../../src/ner/train/checkpoint.js";
import { trainNer } from "../../src/ner/trainer.js";
import { parse, serialize } from "../../src/nn/safetensors.js";
import { derive } from "../../src/calculus/derive.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { installTensorMethods } from "../../src/autograd/tensor-methods.js";

// The modules are imported from their files, not through an entry point, so the Tensor methods are attached here.
installTensorMethods();

/** An accepted input that does not read back the same after writing: a defect. */
class RoundTripFailure extends Error {}

/** An object's entries sorted by key (the order of names in a file carries no meaning). */
function sortedEntries(object: Record<string, unknown>): [string, unknown][] {
  return Object.entries(object).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

function same(what: string, a: unknown, b: unknown): void {
  const left = JSON.stringify(a);
  const right = JSON.stringify(b);
  if (left !== right) throw new RoundTripFailure(`${what} differs after a round trip`);
}

function sameValues(what: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RoundTripFailure(`the length of ${what} differs after a round trip`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i]))
      throw new RoundTripFailure(`value ${i} of ${what} differs after a round trip`);
  }
}

function sameTensors(a: Record<string, Tensor>, b: Record<string, Tensor>): void {
  same("tensor names", Object.keys(a).sort(), Object.keys(b).sort());
  for (const name of Object.keys(a)) {
    const x = a[name]!;
    const y = b[name]!;
    same(`the shape of ${name}`, x.shape, y.shape);
    sameValues(name, x.data, y.data);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Mutations of valid inputs

type Mutation =
  | { kind: "delete" | "duplicate"; at: number; length: number }
  | { kind: "insert" | "replace"; at: number; length: number; text: string }
  | { kind: "flip"; at: number; bits: number }
  | { kind: "truncate"; at: number };

function mutationArbitrary(dictionary: readonly string[]): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  const length = fc.integer({ min: 1, max: 24 });
  const text = fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 8, unit: "binary" }) },
    { weight: 3, arbitrary: fc.constantFrom(...dictionary) },
  );
  return fc.oneof(
    fc.record({ kind: fc.constantFrom("delete" as const, "duplicate" as const), at, length }),
    fc.record({ kind: fc.constantFrom("insert" as const, "replace" as const), at, length, text }),
    fc.record({ kind: fc.constant("flip" as const), at, bits: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at }),
  );
}

function mutateText(text: string, mutations: readonly Mutation[]): string {
  for (const m of mutations) {
    const at = m.at % (text.length + 1);
    switch (m.kind) {
      case "delete":
        text = text.slice(0, at) + text.slice(at + m.length);
        break;
      case "duplicate":
        text = text.slice(0, at + m.length) + text.slice(at);
        break;
      case "insert":
        text = text.slice(0, at) + m.text + text.slice(at);
        break;
      case "replace":
        text = text.slice(0, at) + m.text + text.slice(at + m.length);
        break;
      case "flip":
        if (at < text.length) {
          text = text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ m.bits) + text.slice(at + 1);
        }
        break;
      case "truncate":
        text = text.slice(0, at);
        break;
    }
  }
  return text;
}

const encoder = new TextEncoder();

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function mutateBytes(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    switch (m.kind) {
      case "delete":
        bytes = concatBytes(bytes.subarray(0, at), bytes.subarray(at + m.length));
        break;
      case "duplicate":
        bytes = concatBytes(bytes.subarray(0, at + m.length), bytes.subarray(at));
        break;
      case "insert":
        bytes = concatBytes(bytes.subarray(0, at), encoder.encode(m.text), bytes.subarray(at));
        break;
      case "replace":
        bytes = concatBytes(bytes.subarray(0, at), encoder.encode(m.text), bytes.subarray(at + m.length));
        break;
      case "flip":
        if (at < bytes.length) {
          bytes = bytes.slice();
          bytes[at] ^= m.bits;
        }
        break;
      case "truncate":
        bytes = bytes.subarray(0, at);
        break;
    }
  }
  return bytes;
}

/** Awkward values worth inserting anywhere: numbers at the edges, JSON punctuation, separators. */
const AWKWARD = [
  "0",
  "-1",
  "1e308",
  "1e38",
  "-0",
  "2.5",
  "4294967297",
  "9007199254740993",
  "NaN",
  "Infinity",
  "null",
  "true",
  '""',
  "[]",
  "{}",
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  '"',
  "\\",
  " ",
  "\t",
  "\n",
  "\r\n",
  "\uFEFF",
  "\u0000",
  "\uD800",
  "é",
  "😀",
];

function textInputs(seeds: readonly string[], dictionary: readonly string[]): fc.Arbitrary<string> {
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(mutationArbitrary([...dictionary, ...AWKWARD]), { maxLength: 6 }),
    )
    .map(([seed, mutations]) => mutateText(seed, mutations));
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 300, unit: "binary" }) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.constantFrom(...dictionary, ...AWKWARD), { maxLength: 60 })
        .map((p) => p.join("")),
    },
    { weight: 4, arbitrary: mutated },
  );
}

function byteInputs(seeds: readonly Uint8Array[], dictionary: readonly string[]): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(mutationArbitrary([...dictionary, ...AWKWARD]), { maxLength: 6 }),
    )
    .map(([seed, mutations]) => mutateBytes(seed, mutations));
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    { weight: 5, arbitrary: mutated },
  );
}

// ---------------------------------------------------------------------------------------------------------
// The readers

/** One reader under test: inputs to try, and what to do with one (throws to refuse; checks round trips). */
export interface FuzzReader<I> {
  readonly name: string;
  readonly inputs: fc.Arbitrary<I>;
  /** Reads an input: returns normally if accepted (after checking its round trip), throws if refused. */
  read(input: I): void;
  /** The input's size in bytes (for the time limit). */
  size(input: I): number;
  /** The input as a file's contents, to save a reproducer. */
  serialize(input: I): string | Uint8Array;
}

const CONLL_SEEDS = [
  "-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\ncall NN I-NP O\n. . O O\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n\n",
  "Samuel B-PER\nQuinn I-PER\nwas O\narrested O\nin O\nParis B-LOC\n\nLast O\nnight O\n",
  "Paris\tS-LOC\nHilton\tO\r\n\r\nHotel\tE-ORG\n",
  "Paris B-LOC B-LOC\nHilton I-LOC B-PER\n\n",
];
const CONLL_WORDS = [
  "-DOCSTART-",
  "O",
  "B-",
  "I-",
  "E-",
  "S-",
  "B-PER",
  "I-LOC",
  "X-",
  "-X-",
  " O\n",
  "\n\n",
];

const conll: FuzzReader<string> = {
  name: "conll",
  inputs: textInputs(CONLL_SEEDS, CONLL_WORDS),
  size: (text) => encoder.encode(text).length,
  serialize: (text) => text,
  read(text) {
    let accepted = 0;
    let refusal: unknown;
    try {
      const corpus = parseConll(text);
      accepted++;
      const again = parseConll(formatConll(corpus.sentences));
      same(
        "the sentences",
        corpus.sentences.map((s) => [s.tokens, s.tags]),
        again.sentences.map((s) => [s.tokens, s.tags]),
      );
    } catch (error) {
      if (error instanceof RoundTripFailure || !(error instanceof ChainruleError)) throw error;
      refusal = error;
    }
    try {
      const predictions = parsePredictions(text);
      accepted++;
      same("the predictions", predictions, parsePredictions(formatPredictions(predictions)));
    } catch (error) {
      if (error instanceof RoundTripFailure || !(error instanceof ChainruleError)) throw error;
      refusal ??= error;
    }
    if (accepted === 0) throw refusal;
  },
};

/** A table written as GloVe text, with a header so that a first word made of digits is not taken for one. */
function formatGlove(table: EmbeddingTable): string {
  const lines = [`${table.words.length} ${table.dimension}`];
  table.words.forEach((word, i) => {
    const row = table.vectors.subarray(i * table.dimension, (i + 1) * table.dimension);
    lines.push(`${word} ${Array.from(row, (v) => (Object.is(v, -0) ? "-0" : String(v))).join(" ")}`);
  });
  return lines.join("\n") + "\n";
}

const glove: FuzzReader<string> = {
  name: "glove",
  inputs: textInputs(
    [
      "the 0.418 0.24968 -0.41242\n, 0.013441 0.23682 -0.16899\n. 0.15164 0.30177 -0.16763\n",
      "3 2\nparis 1.5e-3 -2\nhotel 0 .5\n1989 7 8\n",
      "a\t1 2 3 \r\nb 4 5 6\n\n",
    ],
    ["0.5", "-1e-45", "3.4e38", "3.5e38", "1e-50", ".", "e5", "+", "400000 100", "1 4294967297"],
  ),
  size: (text) => encoder.encode(text).length,
  serialize: (text) => text,
  read(text) {
    const table = parseEmbeddings(text);
    const again = parseEmbeddings(formatGlove(table));
    same("the words", table.words, again.words);
    sameValues("the vectors", table.vectors, again.vectors);
  },
};

function safetensorsSeeds(): Uint8Array[] {
  const f32 = new Tensor(new Float32Array([1, -2.5, 3e38, 0, -0, 1e-40]), [2, 3], "float32");
  const i32 = new Tensor(new Int32Array([1, -2, 2147483647]), [3], "int32");
  const f64 = new Tensor(new Float64Array([Math.PI]), [], "float64");
  const table = {
    words: ["paris", "hotel"],
    dimension: 2,
    vectors: new Float32Array([0.5, -1, 65504, 1e-7]),
  };
  return [
    serialize({ weight: f32, index: i32, scale: f64 }, { format: "pt", note: "x" }),
    serialize({ a: f32 }),
    embeddingTableToSafetensors(table),
  ];
}
const SAFETENSORS_WORDS = [
  '"F32"',
  '"F16"',
  '"BF16"',
  '"I64"',
  '"U64"',
  '"BOOL"',
  '"F8_E4M3"',
  '"shape"',
  '"dtype"',
  '"data_offsets"',
  '"__metadata__"',
  "[0,4294967296]",
  "[4,0]",
  "[1e308]",
  "[-1]",
  '"words"',
  '"[\\"a\\"]"',
];

const safetensors: FuzzReader<Uint8Array> = {
  name: "safetensors",
  inputs: byteInputs(safetensorsSeeds(), SAFETENSORS_WORDS),
  size: (bytes) => bytes.length,
  serialize: (bytes) => bytes,
  read(bytes) {
    const { tensors, metadata } = parse(bytes);
    const again = parse(serialize(tensors, metadata));
    same("the metadata", sortedEntries(metadata), sortedEntries(again.metadata));
    sameTensors(tensors, again.tensors);
  },
};

const embeddingTable: FuzzReader<Uint8Array> = {
  name: "embedding-table",
  inputs: byteInputs(safetensorsSeeds().slice(2), SAFETENSORS_WORDS),
  size: (bytes) => bytes.length,
  serialize: (bytes) => bytes,
  read(bytes) {
    const table = embeddingTableFromSafetensors(bytes);
    const again = embeddingTableFromSafetensors(embeddingTableToSafetensors(table, { dtype: "F32" }));
    same("the words", table.words, again.words);
    sameValues("the vectors", table.vectors, again.vectors);
  },
};

// Model directories and checkpoints need a (tiny) trained model; they are made once, by `prepareFuzzReaders`.

interface ModelDirectory {
  config: string;
  weights: Uint8Array;
  /** Put the weights' checksum into the config, as a crafted directory would (else most inputs fail on it). */
  fixChecksum: boolean;
}

function withChecksum(input: ModelDirectory): string {
  if (!input.fixChecksum) return input.config;
  return input.config.replace(/"checksum":\s*"[^"]*"/, `"checksum": "${checksumOf(input.weights)}"`);
}

const CONFIG_WORDS = [
  '"hiddenSize": ',
  '"casingDimension": ',
  '"wordDimension": ',
  '"windowSize": ',
  '"vocabularySize": ',
  '"outputSize": ',
  '"binary": ',
  '"decoding": "viterbi"',
  '"scheme": "IOBES"',
  '"tags": null',
  '"words": ["<unk>"]',
  '"model": {}',
];

function modelDirectoryReader(seeds: ModelDirectory[]): FuzzReader<ModelDirectory> {
  const config = fc.tuple(
    fc.constantFrom(...seeds),
    fc.array(mutationArbitrary([...CONFIG_WORDS, ...AWKWARD]), { maxLength: 4 }),
  );
  const weights = fc.array(mutationArbitrary([...SAFETENSORS_WORDS, ...AWKWARD]), { maxLength: 3 });
  return {
    name: "model-directory",
    inputs: fc
      .tuple(config, weights, fc.boolean(), fc.boolean())
      .map(([[seed, configMutations], weightMutations, mutateWeights, fixChecksum]) => ({
        config: mutateText(seed.config, configMutations),
        weights: mutateWeights ? mutateBytes(seed.weights, weightMutations) : seed.weights,
        fixChecksum,
      })),
    size: (input) => input.config.length + input.weights.length,
    serialize: (input) => concatBytes(encoder.encode(`${withChecksum(input)}\n\u0000\n`), input.weights),
    read(input) {
      const tagger = NerTagger.fromBytes(withChecksum(input), input.weights);
      const first = tagger.toBytes();
      const second = NerTagger.fromBytes(first.config, first.weights).toBytes();
      same("config.json", first.config, second.config);
      same("the weights", Array.from(first.weights), Array.from(second.weights));
    },
  };
}

function checkpointReader(seeds: Uint8Array[]): FuzzReader<Uint8Array> {
  return {
    name: "checkpoint",
    inputs: byteInputs(seeds, [
      ...SAFETENSORS_WORDS,
      ...CONFIG_WORDS,
      '"epochsCompleted": ',
      '"batchSize": ',
      '"history": []',
      '"random": ',
      '"optimizer": ',
    ]),
    size: (bytes) => bytes.length,
    serialize: (bytes) => bytes,
    read(bytes) {
      const checkpoint = checkpointFromBytes(bytes);
      const again = checkpointFromBytes(checkpointToBytes(checkpoint));
      same("the state", checkpoint.state, again.state);
      sameTensors(checkpoint.tensors, again.tensors);
    },
  };
}

const SHAPES = { W: "n×m", x: "m", b: "n", u: "n", y: "n", A: "n×n", s: "scalar" };
const EXPRESSION_PIECES = [
  ..."xyWAbus0123456789.e+-*/^'(),  ",
  ".*",
  "./",
  ".^",
  "tanh(",
  "exp(",
  "log(",
  "sigmoid(",
  "sum(",
  "max(",
  "relu(",
  "softmax(",
  "tr(",
  "det(",
  "inv(",
  "diag(",
  "ᵀ",
  "∘",
  "−",
  "1e308",
  "0",
  "W*x + b",
];

const expressions: FuzzReader<{ source: string; wrt: string }> = {
  name: "expressions",
  inputs: fc.record({
    source: textInputs(
      [
        "u' * tanh(W*x + b)",
        "sum(exp(x)) - y' * log(sigmoid(W*x))",
        "x' * A * x",
        "(x + y) .* max(y, b)",
        "det(A) + tr(inv(A))",
      ],
      EXPRESSION_PIECES,
    ),
    wrt: fc.constantFrom("x", "W", "b", "A", "u", "s"),
  }),
  size: (input) => encoder.encode(input.source).length,
  serialize: (input) => JSON.stringify(input),
  read(input) {
    const first = derive(input.source, { wrt: input.wrt, shapes: SHAPES });
    // Deterministic: the same expression derives to the same result.
    const second = derive(input.source, { wrt: input.wrt, shapes: SHAPES });
    same(
      "the derivation",
      Object.values(first.gradients ?? {}).map((g) => g?.text),
      Object.values(second.gradients ?? {}).map((g) => g?.text),
    );
  },
};

const tokenizer: FuzzReader<string> = {
  name: "tokenizer",
  inputs: textInputs(
    [
      "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989. Last night, Paris Hilton wowed.",
      "Mr. J. K. Rowling's e-mail: jk@example.org; see https://example.com/a?b=1... Don't!",
      "$1,000.50 on 1996-08-22 at 10:30 -- AT&T \u201cquoted\u201d (U.S.A.)",
    ],
    ["x+", "@", "www.", "http://", "n't", "'s", "...", "--", "Mr.", "\n\n", "—"],
  ),
  size: (text) => encoder.encode(text).length,
  serialize: (text) => text,
  read(text) {
    // The tokenizer accepts every string; what it must keep is its offsets and the text between tokens.
    let previousEnd = 0;
    for (const token of tokenize(text)) {
      if (text.slice(token.start, token.end) !== token.text)
        throw new RoundTripFailure("a token's offsets are wrong");
      if (token.start < previousEnd || token.end <= token.start)
        throw new RoundTripFailure("tokens overlap or are empty");
      if (text.slice(previousEnd, token.start).trim() !== "") throw new RoundTripFailure("text was skipped");
      previousEnd = token.end;
    }
    if (text.slice(previousEnd).trim() !== "") throw new RoundTripFailure("the end of the text was skipped");
    const sentences = tokenizeSentences(text);
    same(
      "the tokens of the sentences",
      sentences.flatMap((s) => s.tokens),
      tokenize(text),
    );
  },
};

/** Builds every reader (the model-directory and checkpoint readers train a tiny model first). */
export async function prepareFuzzReaders(): Promise<FuzzReader<never>[]> {
  const corpus = parseConll(CONLL_SEEDS[1]!).sentences;
  const checkpoints: Uint8Array[] = [];
  const trained = await trainNer(
    { train: corpus, dev: corpus },
    { wordDimension: 3, hiddenSize: 4, epochs: 2, batchSize: 4, seed: 1, optimizer: "adam" },
    { onCheckpoint: (checkpoint) => void checkpoints.push(checkpointToBytes(checkpoint)) },
  );
  const vocabulary = Vocabulary.build([["Paris", "Hilton"]]);
  const binary = NerTagger.create(
    new WindowModel({
      vocabularySize: vocabulary.size,
      binary: true,
      wordDimension: 2,
      casingDimension: 0,
      hiddenSize: 3,
    }),
    { vocabulary, tagSet: null, scheme: "IOB2", trainingScheme: "IOB2", binary: "LOC", decoding: "greedy" },
  );
  const iobes = NerTagger.create(
    new WindowModel({
      vocabularySize: vocabulary.size,
      tagCount: 3,
      wordDimension: 2,
      hiddenSize: 3,
      windowSize: 1,
    }),
    {
      vocabulary,
      tagSet: new TagSet(["O", "S-LOC", "B-LOC"]),
      scheme: "IOBES",
      trainingScheme: "IOBES",
      binary: null,
      decoding: "viterbi",
    },
  );
  const directories = [trained.tagger, binary, iobes].map((tagger) => {
    const { config, weights } = tagger.toBytes();
    return { config, weights, fixChecksum: true };
  });
  return [
    conll,
    glove,
    safetensors,
    embeddingTable,
    modelDirectoryReader(directories),
    checkpointReader(checkpoints),
    expressions,
    tokenizer,
  ] as FuzzReader<never>[];
}

/** What became of one input. */
export type Outcome =
  | { kind: "accepted" | "refused"; milliseconds: number }
  | { kind: "defect"; milliseconds: number; problem: string };

/**
 * Reads one input and judges it by the contract. The time limit is checked only with `timed` (the long pass):
 * tests never assert timings, on a shared machine.
 */
export function judge<I>(reader: FuzzReader<I>, input: I, options: { timed: boolean }): Outcome {
  const start = performance.now();
  let kind: "accepted" | "refused" = "accepted";
  let problem: string | undefined;
  try {
    reader.read(input);
  } catch (error) {
    if (error instanceof ChainruleError) kind = "refused";
    else if (error instanceof RoundTripFailure) problem = `accepted, but ${error.message}`;
    else
      problem = `crash: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(
        0,
        500,
      );
  }
  const milliseconds = performance.now() - start;
  const limit = 1000 * Math.max(1, reader.size(input) / 1024);
  if (options.timed && problem === undefined && milliseconds > limit) {
    problem = `took ${milliseconds.toFixed(0)} ms for ${reader.size(input)} bytes (limit ${limit.toFixed(0)} ms)`;
  }
  return problem === undefined ? { kind, milliseconds } : { kind: "defect", milliseconds, problem };
}
