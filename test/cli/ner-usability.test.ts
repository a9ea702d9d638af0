/**
 * The ner CLI's scripting habits: files and standard input for `ner tag`, JSON scores from `ner eval` and
 * `ner train`, output paths checked before the work, and the model card.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../calculus/run-cli.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import { formatConll, parsePredictions } from "../../src/ner/conll.js";
import { VERSION } from "../../src/version.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const FAST = ["--hidden", "16", "--word-dim", "8", "--epochs", "2", "--batch-size", "16", "--quiet"];

let folder: string;
let trainFile: string;
let devFile: string;
let model: string;
let trained: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-ner-usability-"));
  trainFile = join(folder, "train.conll");
  devFile = join(folder, "dev.conll");
  await writeFile(
    trainFile,
    formatConll((await readConllFile(join(ROOT, "data/wikigold/train.conll"))).sentences.slice(0, 60)),
  );
  await writeFile(
    devFile,
    formatConll((await readConllFile(join(ROOT, "data/wikigold/dev.conll"))).sentences.slice(0, 20)),
  );
  model = join(folder, "model");
  trained = await run(
    "ner",
    "train",
    "--train",
    trainFile,
    "--dev",
    devFile,
    ...FAST,
    "--metrics",
    join(folder, "train-metrics.json"),
    "--out",
    model,
  );
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function fails(pattern: RegExp, ...args: string[]): Promise<void> {
  const { code, stdout, stderr } = await run(...args);
  expect(code, stderr).toBe(1);
  expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(stderr).toMatch(pattern);
  expect(stdout).toBe("");
}

describe("ner train --metrics and the model card", () => {
  it("writes the per-epoch figures as JSON", async () => {
    expect(trained.code, trained.stderr).toBe(0);
    const metrics = JSON.parse(await readFile(join(folder, "train-metrics.json"), "utf8"));
    expect(metrics.finished).toBe(true);
    expect(metrics.epochs).toHaveLength(2);
    expect(metrics.epochs[0]).toMatchObject({ epoch: 1, dev: { f1: expect.any(Number) } });
    expect(metrics.epochs.map((r: { epoch: number }) => r.epoch)).toEqual([1, 2]);
    expect([1, 2]).toContain(metrics.bestEpoch);
    expect(metrics.best.f1).toBe(metrics.epochs[metrics.bestEpoch - 1].dev.f1);
  });

  it("checks --metrics before training", async () => {
    const out = join(folder, "never");
    await fails(
      /--metrics .*: the folder .*nowhere does not exist/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--metrics",
      join(folder, "nowhere", "m.json"),
      "--out",
      out,
    );
    await fails(
      /--metrics .*: is a directory/,
      "ner",
      "train",
      "--train",
      trainFile,
      "--metrics",
      folder,
      "--out",
      out,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("writes a model card: data files with their SHA-256, tags, scores, settings, date and version", async () => {
    const card = await readFile(join(model, "README.md"), "utf8");
    const sha256 = createHash("sha256")
      .update(await readFile(trainFile))
      .digest("hex");
    expect(card).toContain(`| train | \`${trainFile}\` | \`${sha256}\` | 60 sentences`);
    expect(card).toContain(
      createHash("sha256")
        .update(await readFile(devFile))
        .digest("hex"),
    );
    expect(card).toMatch(/Tag set \(\d+\): .*B-LOC/);
    expect(card).toMatch(/entity types: LOC, MISC, ORG, PER/);
    expect(card).toMatch(/best epoch [12] of 2: precision [\d.]+, recall [\d.]+, F1 [\d.]+/);
    expect(card).toContain(`chainrule ${VERSION} on ${new Date().toISOString().slice(0, 4)}`);
    expect(card).toMatch(/\| hiddenSize \| 16 \|/);
    expect(trained.stdout).toContain("README.md (model card)");
  });
});

describe("ner eval", () => {
  it("prints the scores as JSON with --json, and writes them with --metrics", async () => {
    const { code, stdout } = await run("ner", "eval", "--model", model, "--data", devFile, "--json");
    expect(code).toBe(0);
    const scores = JSON.parse(stdout);
    expect(scores).toMatchObject({
      model,
      data: devFile,
      tokens: expect.any(Number),
      f1: expect.any(Number),
    });
    expect(Object.keys(scores.types).sort()).toEqual(expect.arrayContaining(["LOC"]));
    const metrics = join(folder, "eval.json");
    const report = await run("ner", "eval", "--model", model, "--data", devFile, "--metrics", metrics);
    expect(report.stdout).toMatch(/^processed \d+ tokens/);
    expect(JSON.parse(await readFile(metrics, "utf8"))).toEqual(scores);
  });

  it("takes --out for the predictions (and --output, its old name)", async () => {
    for (const flag of ["--out", "--output"]) {
      const path = join(folder, `predictions${flag}.conll`);
      const { code } = await run("ner", "eval", "--model", model, "--data", devFile, flag, path);
      expect(code).toBe(0);
      expect(parsePredictions(await readFile(path, "utf8"))).toHaveLength(20);
    }
  });

  it("checks the output paths before the work", async () => {
    await fails(
      /^chainrule: --out .*: is a directory \(give a file name\)$/m,
      "ner",
      "eval",
      "--model",
      model,
      "--data",
      devFile,
      "--out",
      folder,
    );
    await fails(
      /^chainrule: --output .*: the folder .*nonexistent.* does not exist$/m,
      "ner",
      "eval",
      "--model",
      model,
      "--data",
      devFile,
      "--output",
      join(folder, "nonexistent", "dir", "p.conll"),
    );
    await fails(
      /--metrics .*: is a directory/,
      "ner",
      "eval",
      "--model",
      model,
      "--data",
      devFile,
      "--metrics",
      folder,
    );
  });
});

describe("ner tag", () => {
  it("tags a file given with --input, and says so when a file name is given as the text", async () => {
    const text = join(folder, "text.txt");
    await writeFile(text, "Paris is big.\n");
    const fromFile = await run("ner", "tag", "--model", model, "--format", "conll", "--input", text);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toMatch(/^Paris \S+ 0 5\nis \S+ 6 8\nbig \S+ 9 12\n\. \S+ 12 13\n\n$/);
    const asText = await run("ner", "tag", "--model", model, text);
    expect(asText.code).toBe(0);
    expect(asText.stderr).toContain(
      `tagging the text "${text}" itself; to tag the file's contents, use --input ${text}`,
    );
    await fails(
      /--input .*absent\.txt: no such file/,
      "ner",
      "tag",
      "--model",
      model,
      "--input",
      join(folder, "absent.txt"),
    );
    await fails(/not both/, "ner", "tag", "--model", model, "--input", text, "more text");
  });

  it("reads standard input for - (through a pipe: no hint)", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "src/cli/main.ts"),
        "ner",
        "tag",
        "--model",
        model,
        "--format",
        "json",
        "-",
      ],
      { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdin.end("Samuel Quinn was arrested in Paris.");
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code, stderr).toBe(0);
    expect(stderr).toBe("");
    expect(JSON.parse(stdout).text).toBe("Samuel Quinn was arrested in Paris.");
  });
});
