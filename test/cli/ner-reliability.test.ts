/**
 * `ner train` never loses a model: atomic saves, the lock on --out, the policy for existing directories,
 * leftovers of killed runs, and write errors such as a full disk. (Kills and Ctrl-C with real signals are in
 * ner-kill.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../calculus/run-cli.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import { formatConll } from "../../src/ner/conll.js";
import { NerTagger, saveNerModel } from "../../src/ner/tagger-node.js";

import { trainNer } from "../../src/ner/trainer.js";
import { LOCK_FILE } from "../../src/cli/commands/ner/output-directory.js";

/** Hooks into every atomic write: called before and after it; may throw instead of writing. */
const writeHooks: {
  before?: (path: string) => Promise<void> | void;
  after?: (path: string) => Promise<void> | void;
} = {};

vi.mock("../../src/io/atomic-write-node.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/io/atomic-write-node.js")>();
  return {
    ...original,
    writeFileAtomic: async (path: string, data: string | Uint8Array) => {
      await writeHooks.before?.(path);
      await original.writeFileAtomic(path, data);
      await writeHooks.after?.(path);
    },
  };
});

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");
const FAST = ["--hidden", "8", "--word-dim", "6", "--epochs", "2", "--batch-size", "16", "--quiet"];

let folder: string;
let trainFile: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-ner-reliability-"));
  const sentences = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 40);
  trainFile = join(folder, "train.conll");
  await writeFile(trainFile, formatConll(sentences));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** `ner train` into `out` with the fast settings. */
function train(out: string, ...extra: string[]) {
  return run("ner", "train", "--train", trainFile, ...FAST, ...extra, "--out", out);
}

/** Runs a command that must fail with exit code 1 and one clear line on stderr. */
async function fails(pattern: RegExp, ...args: Promise<{ code: number; stdout: string; stderr: string }>[]) {
  const { code, stderr } = await args[0]!;
  expect(code, stderr).toBe(1);
  expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe("saving a model", () => {
  it("keeps a loadable model, the old one or the new one, at every instant of a save", async () => {
    const sentences = (await readConllFile(trainFile)).sentences;
    const options = { wordDimension: 4, hiddenSize: 4, epochs: 1 };
    const first = (await trainNer({ train: sentences }, { ...options, seed: 1 })).tagger;
    const second = (await trainNer({ train: sentences }, { ...options, seed: 2 })).tagger;
    const directory = join(folder, "atomic");
    await saveNerModel(directory, first);
    const weightsOf = (t: NerTagger) => t.stateDict()["hidden.weight"]!.data;
    const seen: string[] = [];
    const check = async () => {
      const loaded = weightsOf(await NerTagger.load(directory));
      if (loaded.every((v, i) => v === weightsOf(first)[i])) seen.push("old");
      else if (loaded.every((v, i) => v === weightsOf(second)[i])) seen.push("new");
      else throw new Error("the directory holds neither model");
    };
    writeHooks.before = check;
    writeHooks.after = check;
    try {
      await saveNerModel(directory, second);
    } finally {
      delete writeHooks.before;
      delete writeHooks.after;
    }
    await check();
    // Old until the commit point, new from there on, and never back.
    expect(seen[0]).toBe("old");
    expect(seen[seen.length - 1]).toBe("new");
    expect(seen.join(" ")).toMatch(/^(old )+(new ?)+$/);
    // At rest: config.json and model.safetensors only, as older versions wrote them.
    expect((await readdir(directory)).sort()).toEqual(["config.json", "model.safetensors"]);
    const config = JSON.parse(await readFile(join(directory, "config.json"), "utf8"));
    expect(config.weights.file).toBe("model.safetensors");
  });
});

describe("--out", () => {
  it("refuses a non-empty directory that is not chainrule's, and a file", async () => {
    const foreign = join(folder, "foreign");
    await mkdir(foreign, { recursive: true });
    await writeFile(join(foreign, "thesis.tex"), "keep me");
    await fails(
      /--out .*foreign: not empty and not a chainrule model directory \(it holds thesis\.tex\)/,
      train(foreign),
    );
    await fails(/not a chainrule model directory/, train(foreign, "--force"));
    expect(await readdir(foreign)).toEqual(["thesis.tex"]);
    await fails(/--out .*train\.conll: exists and is not a directory/, train(trainFile));
  });

  it("refuses to replace a model without --force, and replaces it with --force", async () => {
    const out = join(folder, "existing");
    const first = await train(out);
    expect(first.code, first.stderr).toBe(0);
    const before = await readFile(join(out, "model.safetensors"));
    await fails(
      /--out .*existing: holds a model already; replace it with --force/,
      train(out, "--seed", "5"),
    );
    expect(await readFile(join(out, "model.safetensors"))).toEqual(before);
    const forced = await train(out, "--seed", "5", "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(join(out, "model.safetensors"))).not.toEqual(before);
    await NerTagger.load(out);
  });

  it("refuses a directory holding an interrupted run unless --resume or --force", async () => {
    const out = join(folder, "interrupted");
    await mkdir(out, { recursive: true });
    // A checkpoint, as an interrupted run leaves it.
    const { checkpointToBytes } = await import("../../src/ner/trainer.js");
    const sentences = (await readConllFile(trainFile)).sentences;
    let bytes: Uint8Array | null = null;
    await trainNer(
      { train: sentences },
      { wordDimension: 6, hiddenSize: 8, epochs: 2, batchSize: 16 },
      {
        onCheckpoint: (c) => {
          bytes ??= checkpointToBytes(c);
        },
      },
    );
    await writeFile(join(out, "checkpoint.safetensors"), bytes!);
    await fails(
      /holds an interrupted run \(checkpoint\.safetensors\); continue it with --resume/,
      train(out),
    );
    const resumed = await run("ner", "train", "--train", trainFile, "--quiet", "--resume", "--out", out);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain("resuming after epoch 1 of 2");
    expect(existsSync(join(out, "checkpoint.safetensors"))).toBe(false);
  });

  it("says why there is nothing to resume", async () => {
    await fails(
      /--resume: .*checkpoint\.safetensors not found \(nothing to resume: .*does not exist\)/,
      run("ner", "train", "--train", trainFile, "--resume", "--out", join(folder, "absent")),
    );
    const started = join(folder, "started");
    await mkdir(started, { recursive: true });
    await writeFile(join(started, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, host: "x" }));
    await fails(
      /nothing to resume: the run was stopped before its first epoch ended/,
      run("ner", "train", "--train", trainFile, "--resume", "--out", started),
    );
  });
});

/** The id of a process that has exited (its lock is stale). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

describe("the lock on --out", () => {
  it("refuses a second training into a directory that a live process is writing", async () => {
    const out = join(folder, "locked");
    await mkdir(out, { recursive: true });
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      await writeFile(join(out, LOCK_FILE), JSON.stringify({ pid: sleeper.pid, host: hostname() }));
      await fails(
        new RegExp(
          `another training \\(process ${sleeper.pid}\\) is writing into it; wait for it to finish or choose another directory`,
        ),
        train(out),
      );
      expect(existsSync(join(out, "config.json"))).toBe(false);
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it("takes over the stale lock of a killed run and removes its leftovers", async () => {
    const out = join(folder, "stale");
    await mkdir(out, { recursive: true });
    const pid = await deadPid();
    await writeFile(join(out, LOCK_FILE), JSON.stringify({ pid, host: hostname() }));
    // Temporary files of the dead process and staged weights that no config names.
    const leftovers = [
      `.checkpoint.safetensors.${pid}.k2x9.a1b2c3.tmp`,
      `.model.safetensors.${pid}.k2x9.link.tmp`,
      "model.0123abcd.safetensors",
    ];
    for (const name of leftovers) await writeFile(join(out, name), new Uint8Array(1000));
    // A temporary file of a live process (this one) is left alone.
    const live = `.notes.txt.${process.pid}.k2x9.a1b2c3.tmp`;
    await writeFile(join(out, live), "busy");
    const result = await train(out);
    expect(result.code, result.stderr).toBe(0);
    const names = await readdir(out);
    for (const name of leftovers) expect(names).not.toContain(name);
    expect(names).toContain(live);
    expect(names).not.toContain(LOCK_FILE);
    await NerTagger.load(out);
  });
});

describe("write errors", () => {
  it("a full disk is one line naming the file; the previous model and checkpoint are kept", async () => {
    const out = join(folder, "full");
    let checkpoints = 0;
    writeHooks.before = (path) => {
      if (path.endsWith("checkpoint.safetensors") && ++checkpoints === 2) {
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: "ENOSPC" });
      }
    };
    let result;
    try {
      result = await train(out, "--epochs", "3", "--patience", "0");
    } finally {
      delete writeHooks.before;
    }
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^chainrule: no space left on device while writing .*full\/checkpoint\.safetensors; the previous model and checkpoint are kept\n$/,
    );
    // The state after epoch 1 is intact: the model loads and the run resumes.
    await NerTagger.load(out);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    const resumed = await run("ner", "train", "--train", trainFile, "--quiet", "--resume", "--out", out);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain("resuming after epoch 1 of 3");
  });

  it("other I/O errors are one line too, not an internal error", async () => {
    const out = join(folder, "readonly");
    writeHooks.before = () => {
      throw Object.assign(new Error("EROFS: read-only file system, open"), { code: "EROFS" });
    };
    let result;
    try {
      result = await train(out);
    } finally {
      delete writeHooks.before;
    }
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^chainrule: read-only file system while writing .*readonly/);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
