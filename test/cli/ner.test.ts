import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../calculus/run-cli.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import { formatConll, parsePredictions } from "../../src/ner/conll.js";
import { NerTagger } from "../../src/ner/tagger-node.js";
import { writeFileAtomic } from "../../src/io/atomic-write-node.js";
import { checkpointToBytes, trainNer, type TrainingCheckpoint } from "../../src/ner/trainer.js";
import { CHECKPOINT_FILE, DATA_DIRECTORY, DEMO_OPTIONS, runDemo } from "../../src/cli/commands/ner.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

let folder: string;
let trainFile: string;
let devFile: string;
let model: string;

/** Small, fast training arguments. */
const FAST = ["--hidden", "24", "--word-dim", "12", "--epochs", "2", "--batch-size", "16", "--quiet"];

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-ner-cli-"));
  const train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 80);
  const dev = (await readConllFile(join(DATA, "dev.conll"))).sentences.slice(0, 30);
  trainFile = join(folder, "train.conll");
  devFile = join(folder, "dev.conll");
  await writeFile(trainFile, formatConll(train));
  await writeFile(devFile, formatConll(dev));
  model = join(folder, "model");
  const { code, stderr } = await run(
    "ner",
    "train",
    "--train",
    trainFile,
    "--dev",
    devFile,
    ...FAST,
    "--out",
    model,
  );
  expect(stderr).toBe("");
  expect(code).toBe(0);
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("chainrule ner train", () => {
  it("writes the model directory, the loss curve as CSV and SVG, and no leftover checkpoint", async () => {
    for (const file of ["model.safetensors", "config.json", "loss.csv", "loss.svg"]) {
      expect(existsSync(join(model, file)), file).toBe(true);
    }
    expect(existsSync(join(model, CHECKPOINT_FILE))).toBe(false);
    expect((await readdir(model)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const csv = (await readFile(join(model, "loss.csv"), "utf8")).trimEnd().split("\n");
    expect(csv).toHaveLength(3);
    expect((await readFile(join(model, "loss.svg"), "utf8")).startsWith("<svg")).toBe(true);
    const tagger = await NerTagger.load(model);
    expect(tagger.scheme).toBe("IOB1");
  });

  it("prints one line per epoch and the table of dev scores", async () => {
    const out = join(folder, "printed");
    const { code, stdout } = await run(
      "ner",
      "train",
      "--train",
      trainFile,
      "--dev",
      devFile,
      ...FAST,
      "--out",
      out,
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^epoch 1\/2 {2}loss \d\.\d{4} .* ex\/s .* dev P .* R .* F1 /m);
    expect(stdout).toMatch(/^epoch 2\/2 /m);
    expect(stdout).toContain("Dev scores per epoch (conlleval, entity level)");
    expect(stdout).toMatch(/^epoch +loss +precision +recall +F1 +accuracy +examples\/s +seconds$/m);
    expect(stdout).toMatch(/best model: epoch [12], dev precision/);
    // Not a terminal: no progress-bar redraws.
    expect(stdout).not.toContain("\r");
  });

  it("trains the binary classifier with --binary", async () => {
    const out = join(folder, "binary");
    const { code, stdout } = await run(
      "ner",
      "train",
      "--train",
      trainFile,
      "--dev",
      devFile,
      "--binary",
      "LOC",
      ...FAST,
      "--out",
      out,
    );
    expect(code).toBe(0);
    expect(stdout).toContain("Dev scores per epoch (LOC per token)");
    const evaluation = await run("ner", "eval", "--model", out, "--data", devFile);
    expect(evaluation.stdout).toMatch(
      /binary classifier for LOC \(per token, positive class\):\nprecision: [\d.]+%; recall: [\d.]+%; F1: [\d.]+/,
    );
  });

  it("--resume continues an interrupted run to the same model as an uninterrupted one", async () => {
    const train = (await readConllFile(trainFile)).sentences;
    const dev = (await readConllFile(devFile)).sentences;
    const options = { hiddenSize: 24, wordDimension: 12, epochs: 2, batchSize: 16 };
    // The state after epoch 1 of a two-epoch run, written where `ner train --out` keeps it.
    const out = join(folder, "resumed");
    let checkpoint: TrainingCheckpoint | null = null;
    await expect(
      trainNer({ train, dev }, options, {
        onCheckpoint: (c) => {
          checkpoint = c;
          throw new Error("interrupted");
        },
      }),
    ).rejects.toThrow("interrupted");
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    await writeFileAtomic(join(out, CHECKPOINT_FILE), checkpointToBytes(checkpoint!));
    const resumed = await run(
      "ner",
      "train",
      "--train",
      trainFile,
      "--dev",
      devFile,
      "--resume",
      "--quiet",
      "--out",
      out,
    );
    expect(resumed.stderr).toBe("");
    expect(resumed.stdout).toContain("resuming after epoch 1 of 2");
    expect(resumed.stdout).toMatch(/^epoch 2\/2 /m);
    const fromCli = (await NerTagger.load(out)).stateDict();
    const uninterrupted = (await NerTagger.load(model)).stateDict();
    for (const name of Object.keys(uninterrupted))
      expect(fromCli[name]!.data).toEqual(uninterrupted[name]!.data);
    // The curve covers both epochs.
    expect((await readFile(join(out, "loss.csv"), "utf8")).trimEnd().split("\n")).toHaveLength(3);
  });
});

describe("chainrule ner train --embeddings", () => {
  it("reads GloVe text and safetensors tables, and reports a malformed file with its line", async () => {
    const glove = join(folder, "vectors.txt");
    await writeFile(glove, "the 0.1 0.2 0.3 0.4\nparis 0.5 0.6 0.7 0.8\n");
    const out = join(folder, "with-vectors");
    const train = ["ner", "train", "--train", trainFile, "--hidden", "24", "--epochs", "1", "--quiet"];
    const mismatch = await run(...train, "--embeddings", glove, "--word-dim", "12", "--out", out);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/wordDimension 12 differs from the pretrained vectors' dimension 4/);
    const { code, stdout, stderr } = await run(...train, "--embeddings", glove, "--out", out);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain("vectors.txt: 2 vectors of 4 dimensions");
    const tagger = await NerTagger.load(out);
    expect(tagger.model.config.wordDimension).toBe(4);
    const table = join(DATA_DIRECTORY, "glove", "glove-wikigold-100d.safetensors");
    const fromTable = await run(...train, "--embeddings", table, "--out", join(folder, "with-table"));
    expect(fromTable.code, fromTable.stderr).toBe(0);
    expect(fromTable.stdout).toContain("12,399 vectors of 100 dimensions");
    await writeFile(glove, "the 0.1 0.2 0.3 0.4\nparis 0.5 0.6 0.7\n");
    const bad = await run(...train, "--embeddings", glove, "--out", join(folder, "bad-vectors"));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^chainrule: .*vectors\.txt:2: expected 4 numbers after the word "paris", found 3/,
    );
  });
});

describe("chainrule ner eval", () => {
  it("prints conlleval's report and writes predictions the script reads", async () => {
    const predictions = join(folder, "predictions.conll");
    const { code, stdout } = await run(
      "ner",
      "eval",
      "--model",
      model,
      "--data",
      devFile,
      "--output",
      predictions,
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^processed \d+ tokens with \d+ phrases; found: \d+ phrases; correct: \d+\.\n/);
    expect(stdout).toMatch(/^accuracy: +[\d.]+%; precision: +[\d.]+%; recall: +[\d.]+%; FB1: +[\d.]+$/m);
    const written = parsePredictions(await readFile(predictions, "utf8"));
    const dev = (await readConllFile(devFile)).sentences;
    expect(written).toHaveLength(dev.length);
    expect(written[0]!.tokens).toEqual(dev[0]!.tokens);
    expect(written[0]!.gold).toEqual(dev[0]!.tags);
  });
});

describe("chainrule ner tag", () => {
  const sentence = "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.";

  it("prints tokens with tags and entity spans with character offsets", async () => {
    const { code, stdout } = await run("ner", "tag", "--model", model, sentence);
    expect(code).toBe(0);
    const [tokens, ...entities] = stdout.trimEnd().split("\n");
    expect(tokens).toMatch(/^Samuel\/\S+ Quinn\/\S+ was\/\S+ arrested\/\S+ .* 1989\/\S+ \.\/\S+$/);
    for (const line of entities) {
      if (line === "  (no entities)") continue;
      const match = /^ {2}(\S+) +(\d+)-(\d+) +(.+)$/.exec(line)!;
      expect(sentence.slice(Number(match[2]), Number(match[3]))).toBe(match[4]);
    }
  });

  it("prints JSON and CoNLL", async () => {
    const json = JSON.parse((await run("ner", "tag", "--model", model, "--format", "json", sentence)).stdout);
    expect(json.text).toBe(sentence);
    expect(json.tokens[0]).toMatchObject({ text: "Samuel", start: 0, end: 6 });
    const conll = (await run("ner", "tag", "--model", model, "--format", "conll", "Paris is big.")).stdout;
    expect(conll).toMatch(/^Paris \S+ 0 5\nis \S+ 6 8\nbig \S+ 9 12\n\. \S+ 12 13\n\n$/);
  });
});

describe("chainrule ner errors", () => {
  /** Runs a command that must fail with exit code 1 and one clear line on stderr. */
  async function fails(pattern: RegExp, ...args: string[]): Promise<void> {
    const { code, stdout, stderr } = await run(...args);
    expect(code, stderr).toBe(1);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr.trimEnd()).toMatch(pattern);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe("");
  }

  it("reports a missing file, a malformed CoNLL file and a wrong --binary type", async () => {
    const out = join(folder, "never");
    await fails(
      /^chainrule: --train .*missing\.conll: no such file$/,
      "ner",
      "train",
      "--train",
      join(folder, "missing.conll"),
      "--out",
      out,
    );
    const bad = join(folder, "bad.conll");
    await writeFile(bad, "Paris B-LOC\nis O\nlovely\n");
    await fails(
      /^chainrule: .*bad\.conll:3: expected at least 2 columns \(a token and a tag\), found 1$/,
      "ner",
      "train",
      "--train",
      bad,
      "--out",
      out,
    );
    await writeFile(bad, "Paris X-LOC\n");
    await fails(/bad\.conll:1: unknown tag prefix "X"/, "ner", "train", "--train", bad, "--out", out);
    await writeFile(bad, "\n\n");
    await fails(/bad\.conll: no sentences found/, "ner", "train", "--train", bad, "--out", out);
    await fails(
      /^chainrule: --binary DATE: not an entity type of .*train\.conll \(its types: LOC, MISC, ORG, PER\)$/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--binary",
      "DATE",
      "--out",
      out,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("reports bad numbers and choices", async () => {
    const out = join(folder, "never");
    await fails(
      /--epochs must be an integer, got "ten"/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--epochs",
      "ten",
      "--out",
      out,
    );
    await fails(
      /--hidden must be an integer ≥ 1, got 0/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--hidden",
      "0",
      "--out",
      out,
    );
    await fails(
      /--dropout must be a number in \[0, 1\), got 1.5/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--dropout",
      "1.5",
      "--out",
      out,
    );
    await fails(
      /--lr must be a number, got "fast"/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--lr",
      "fast",
      "--out",
      out,
    );
    await fails(
      /--optimizer must be one of sgd, adam, adagrad, got "rmsprop"/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--optimizer",
      "rmsprop",
      "--out",
      out,
    );
    await fails(
      /--activation must be one of tanh, relu, sigmoid, hardtanh/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--activation",
      "gelu",
      "--out",
      out,
    );
    await fails(
      /--format must be one of text, json, conll/,
      "ner",
      "tag",
      "--model",
      model,
      "--format",
      "xml",
      "x",
    );
  });

  it("reports a missing model, a missing checkpoint and a broken model directory", async () => {
    await fails(
      /--model .*nowhere: no such directory/,
      "ner",
      "tag",
      "--model",
      join(folder, "nowhere"),
      "x",
    );
    await fails(
      /--resume: .*checkpoint\.safetensors not found/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--resume",
      "--out",
      join(folder, "fresh"),
    );
    const broken = join(folder, "broken");
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, "config.json"), await readFile(join(model, "config.json")));
    await writeFile(join(broken, "model.safetensors"), new Uint8Array(12));
    await fails(
      /model\.safetensors does not match config\.json/,
      "ner",
      "eval",
      "--model",
      broken,
      "--data",
      devFile,
    );
    await fails(
      /--data .*none\.conll: no such file/,
      "ner",
      "eval",
      "--model",
      model,
      "--data",
      join(folder, "none.conll"),
    );
  });
});

describe("chainrule help ner …", () => {
  it("shows the help of the subcommand named, as --help does", async () => {
    const help = await run("help", "ner", "train");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chainrule ner train \[options\]/);
    expect(help.stdout).toContain("--batch-size <n>");
    expect(help.stdout).toBe((await run("ner", "train", "--help")).stdout);
    expect((await run("help", "ner")).stdout).toMatch(/^Usage: chainrule ner \[options\] \[command\]/);
  });
});

describe("chainrule ner demo", () => {
  it("finds the shipped data from the package, not the working directory", () => {
    expect(existsSync(join(DATA_DIRECTORY, "wikigold", "train.conll"))).toBe(true);
    expect(existsSync(join(DATA_DIRECTORY, "wikigold", "dev.conll"))).toBe(true);
  });

  it("trains, prints the dev scores and tags the lecture's sentences", async () => {
    // The demo's steps on a slice of the shipped data (the full demo takes about a minute).
    let stdout = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    try {
      await runDemo({
        train: trainFile,
        dev: devFile,
        embeddings: null,
        options: { ...DEMO_OPTIONS, hiddenSize: 24, wordDimension: 12, epochs: 1 },
        out: null,
        quiet: true,
      });
    } finally {
      spy.mockRestore();
    }
    expect(stdout).toMatch(/^epoch 1\/1 .* dev P .* F1 /m);
    expect(stdout).toMatch(/best model: epoch 1, dev precision [\d.]+, recall [\d.]+, F1 [\d.]+/);
    expect(stdout).toContain("Tagging the lecture's sentences:");
    expect(stdout).toMatch(
      /^Last\/\S+ night\/\S+ ,\/\S+ Paris\/\S+ Hilton\/\S+ wowed\/\S+ in\/\S+ a\/\S+ sequin\/\S+ gown\/\S+ \.\/\S+$/m,
    );
    expect(stdout).toMatch(
      /^Samuel\/\S+ Quinn\/\S+ was\/\S+ arrested\/\S+ in\/\S+ the\/\S+ Hilton\/\S+ Hotel\/\S+ in\/\S+ Paris\/\S+ in\/\S+ April\/\S+ 1989\/\S+ \.\/\S+$/m,
    );
  });

  it("reports a bad demo option", async () => {
    const { code, stderr } = await run("ner", "demo", "--epochs", "0");
    expect(code).toBe(1);
    expect(stderr).toBe("chainrule: --epochs must be an integer ≥ 1, got 0\n");
  });
});
