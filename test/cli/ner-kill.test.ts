/**
 * The kill test: a short training on a tiny file, killed with SIGKILL at random moments. After every kill
 * the output directory holds a loadable model (or none yet, if the kill came before the first save, which
 * `--resume` then says), and `--resume` finishes the run. Ctrl-C (SIGINT) stops cleanly with status 130 and
 * says how to resume.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../calculus/run-cli.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import { formatConll } from "../../src/ner/conll.js";
import { NerTagger } from "../../src/ner/tagger-node.js";
import { LOCK_FILE } from "../../src/cli/commands/ner/output-directory.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const EPOCHS = 30;

let folder: string;
let trainFile: string;
let out: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-ner-kill-"));
  const sentences = (await readConllFile(join(ROOT, "data/wikigold/train.conll"))).sentences.slice(0, 30);
  trainFile = join(folder, "train.conll");
  await writeFile(trainFile, formatConll(sentences));
  out = join(folder, "model");
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const SETTINGS = ["--hidden", "8", "--word-dim", "6", "--batch-size", "4", "--patience", "0", "--quiet"];

interface Child {
  /** Resolves at the first stdout line that matches. */
  waitFor(pattern: RegExp): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `chainrule ner train …` in a child process (through tsx, from the sources). */
function startTraining(...extra: string[]): Child {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(ROOT, "src/cli/main.ts"),
      "ner",
      "train",
      "--train",
      trainFile,
      "--dev",
      trainFile,
      "--epochs",
      String(EPOCHS),
      ...SETTINGS,
      ...extra,
      "--out",
      out,
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  const waiters: [RegExp, () => void][] = [];
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const waiter of [...waiters]) {
      if (waiter[0].test(stdout)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter[1]();
      }
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    waitFor: (pattern) =>
      new Promise<void>((resolve) => {
        if (pattern.test(stdout)) resolve();
        else waiters.push([pattern, resolve]);
        void exited.then(() => resolve());
      }),
    kill: (signal) => child.kill(signal),
    exited,
  };
}

/** A seeded generator, so that the kill times are the same from run to run (up to the machine's speed). */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("killing a training", () => {
  it("leaves a loadable model after every SIGKILL, and --resume finishes the run", async () => {
    const random = lcg(2024);
    const outcomes: string[] = [];
    for (let kill = 0; kill < 4; kill++) {
      const names = existsSync(out) ? await readdir(out) : [];
      const mode = names.includes("checkpoint.safetensors")
        ? ["--resume"]
        : names.includes("config.json")
          ? ["--force"]
          : [];
      const child = startTraining(...mode);
      if (kill === 0) {
        // Early: after the data is read, most likely before the first epoch ends.
        await child.waitFor(/^train: /m);
        await sleep(random() * 300);
      } else {
        // At a random moment after an epoch ended: during the next one or during its saves.
        await child.waitFor(/^epoch +\d+\/\d+/m);
        await sleep(random() * 400);
      }
      child.kill("SIGKILL");
      const { signal, stdout, stderr } = await child.exited;
      if (signal !== "SIGKILL") {
        // The run finished before the kill: it must have done so cleanly.
        expect(stderr, stdout).toBe("");
        outcomes.push("finished");
        break;
      }
      if (existsSync(join(out, "config.json"))) {
        const tagger = await NerTagger.load(out);
        expect(tagger.tag("Paris is big.").tokens).toHaveLength(4);
        outcomes.push(`model after ${(stdout.match(/^epoch /gm) ?? []).length} epoch lines`);
      } else {
        // Killed before the first save: nothing to load, and --resume says so.
        expect(existsSync(join(out, "checkpoint.safetensors"))).toBe(false);
        const resumed = await run("ner", "train", "--train", trainFile, "--resume", "--out", out);
        expect(resumed.code).toBe(1);
        expect(resumed.stderr).toMatch(/nothing to resume/);
        outcomes.push("none yet");
      }
    }
    expect(outcomes.length).toBeGreaterThan(0);

    // Ctrl-C: a clean stop with status 130, the checkpoint kept, and the command that resumes.
    const names = existsSync(out) ? await readdir(out) : [];
    const child = startTraining(
      ...(names.includes("checkpoint.safetensors")
        ? ["--resume"]
        : names.includes("config.json")
          ? ["--force"]
          : []),
    );
    await child.waitFor(/^epoch +\d+\/\d+/m);
    child.kill("SIGINT");
    const interrupted = await child.exited;
    if (interrupted.code !== 0) {
      expect(interrupted.code, interrupted.stderr).toBe(130);
      expect(interrupted.stderr).toMatch(
        /^chainrule: interrupted during epoch \d+: the run is kept up to epoch \d+ in .*checkpoint\.safetensors \(the best model so far in .*\); resume with: chainrule ner train --train .* --resume\n$/,
      );
      expect(existsSync(join(out, "checkpoint.safetensors"))).toBe(true);
      expect(existsSync(join(out, LOCK_FILE))).toBe(false);
      await NerTagger.load(out);
    }

    // --resume finishes the run: all epochs in the curve, no checkpoint, lock or leftovers.
    const finished = existsSync(join(out, "checkpoint.safetensors"))
      ? await run(
          "ner",
          "train",
          "--train",
          trainFile,
          "--dev",
          trainFile,
          "--quiet",
          "--resume",
          "--out",
          out,
        )
      : null;
    if (finished !== null) expect(finished.code, finished.stderr).toBe(0);
    await NerTagger.load(out);
    const csv = (await readFile(join(out, "loss.csv"), "utf8")).trimEnd().split("\n");
    expect(csv).toHaveLength(EPOCHS + 1);
    expect((await readdir(out)).sort()).toEqual([
      "README.md",
      "config.json",
      "loss.csv",
      "loss.svg",
      "model.safetensors",
    ]);
  }, 180_000);
});
