import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readConllFile } from "../../src/ner/conll-node.js";
import type { ConllSentence } from "../../src/ner/conll.js";
import { trainNer, type NerTrainingOptions } from "../../src/ner/trainer.js";
import { installTensorMethods } from "../../src/autograd/tensor-methods.js";
import { Plan } from "../../src/compile/plan.js";
import { formatConll } from "../../src/ner/conll.js";
import { trainingOptionsFrom } from "../../src/cli/commands/ner/train.js";
import { run as runCli } from "../calculus/run-cli.js";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";

// The trainer is imported from its file, not through an entry point, so the Tensor methods are attached here.
installTensorMethods();

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

let train: ConllSentence[];
let dev: ConllSentence[];

beforeAll(async () => {
  train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 60);
  dev = (await readConllFile(join(DATA, "dev.conll"))).sentences.slice(0, 20);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Trains with and without `compile`; returns each run's running loss after every batch and its dev F1. */
async function bothWays(options: NerTrainingOptions) {
  const run = async (compile: boolean) => {
    const losses: number[] = [];
    const result = await trainNer(
      { train, dev },
      { ...options, compile },
      { onBatch: (progress) => losses.push(progress.loss) },
    );
    return { losses, f1: result.history.map((r) => r.dev!.f1) };
  };
  const replays = vi.spyOn(Plan.prototype, "backward");
  const compiled = await run(true);
  const replayed = replays.mock.calls.length;
  const eager = await run(false);
  expect(replays.mock.calls.length).toBe(replayed); // the eager run replays nothing
  return { compiled, eager, replayed };
}

describe("trainNer with a compiled step", () => {
  it("gives the eager step's losses (to the bit) and dev F1 (softmax over tags, casing features, SGD)", async () => {
    const { compiled, eager, replayed } = await bothWays({
      wordDimension: 8,
      hiddenSize: 16,
      epochs: 2,
      batchSize: 16,
      seed: 4,
    });
    // Every batch but the first of each shape replays the plan.
    expect(replayed).toBeGreaterThan(compiled.losses.length / 2);
    expect(compiled.losses).toEqual(eager.losses);
    expect(compiled.f1).toEqual(eager.f1);
  });

  it("does so with prefix and shape features, Adam and gradient clipping", async () => {
    const { compiled, eager, replayed } = await bothWays({
      wordDimension: 8,
      hiddenSize: 16,
      prefixDimension: 3,
      shapeDimension: 3,
      optimizer: "adam",
      clipNorm: 1,
      epochs: 1,
      batchSize: 32,
      seed: 2,
    });
    expect(replayed).toBeGreaterThan(0);
    expect(compiled.losses).toEqual(eager.losses);
    expect(compiled.f1).toEqual(eager.f1);
  });

  it("compiles the binary classifier's step too (binary cross-entropy) to the eager losses and F1", async () => {
    const { compiled, eager, replayed } = await bothWays({
      wordDimension: 8,
      hiddenSize: 16,
      binary: "LOC",
      epochs: 2,
      batchSize: 16,
      seed: 1,
    });
    expect(replayed).toBeGreaterThan(compiled.losses.length / 2);
    expect(compiled.losses).toEqual(eager.losses);
    expect(compiled.f1).toEqual(eager.f1);
  });
});

describe("chainrule ner train --no-compile", () => {
  it("reads --no-compile as compile: false, and nothing as the default", () => {
    expect(trainingOptionsFrom({ compile: false })).toEqual({ compile: false });
    expect(trainingOptionsFrom({ compile: true })).toEqual({});
  });

  it("trains eagerly to the same per-epoch losses as the default compiled run", async () => {
    const folder = await mkdtemp(join(tmpdir(), "chainrule-compile-cli-"));
    try {
      const trainFile = join(folder, "train.conll");
      await writeFile(trainFile, formatConll(train.slice(0, 30)));
      const args = [
        "ner",
        "train",
        "--train",
        trainFile,
        "--hidden",
        "12",
        "--word-dim",
        "8",
        "--epochs",
        "2",
      ];
      const losses = async (out: string, ...extra: string[]) => {
        const { code, stderr } = await runCli(...args, "--quiet", "--out", join(folder, out), ...extra);
        expect(stderr).toBe("");
        expect(code).toBe(0);
        const csv = (await readFile(join(folder, out, "loss.csv"), "utf8")).trimEnd().split("\n").slice(1);
        return csv.map((line) => Number(line.split(",")[1]));
      };
      const compiled = await losses("compiled");
      const eager = await losses("eager", "--no-compile");
      expect(compiled).toHaveLength(2);
      expect(compiled).toEqual(eager);
      const help = await runCli("ner", "train", "--help");
      expect(help.stdout).toContain("--no-compile");
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
