/**
 * The training output directory (`--out`): what may be trained into, the lock that keeps two trainings out
 * of one directory, the clean-up of what a killed run left, and I/O errors reported as one line.
 *
 * Policy (no model is replaced by accident): training goes into a new or empty directory, or one that holds
 * only what chainrule itself leaves there. A directory holding a model is refused unless `--force`; one
 * holding an interrupted run (a checkpoint) is continued with `--resume` or restarted with `--force`; a
 * non-empty directory that is not chainrule's is always refused.
 */
import { open, readdir, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { ChainruleError, ValueError } from "../../../errors.js";
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, NER_MODEL_FORMAT } from "../../../ner/tagger.js";
import { processAlive, removeModelLeftovers } from "../../../ner/model-directory-node.js";
import { describeErrno, errnoCode } from "../../exit.js";

/** The checkpoint's file name in the output directory (removed when the run finishes). */
export const CHECKPOINT_FILE = "checkpoint.safetensors";

/** The lock file held while a training writes into the directory. */
export const LOCK_FILE = ".chainrule-train.lock";

/** The files a training writes, besides the model's own and temporary files. */
export const TRAINING_FILES = ["loss.csv", "loss.svg", "README.md", "metrics.json", CHECKPOINT_FILE];

const OURS = /^(model\.[0-9a-f]{8}\.safetensors|\..+\.tmp)$/;

/** A failed write, as one line: "no space left on device while writing out/checkpoint.safetensors; …". */
export class OutputError extends ChainruleError {}

/** Runs a write; an I/O error becomes an {@link OutputError} naming what was being written. */
export async function guardWrite<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (errnoCode(error) === null) throw error;
    throw new OutputError(
      `${describeErrno(error)} while writing ${what}; the previous model and checkpoint are kept`,
    );
  }
}

export interface OutputState {
  exists: boolean;
  /** A chainrule model (config.json of the NER format). */
  model: boolean;
  /** A checkpoint of an interrupted run. */
  checkpoint: boolean;
  /** Files that chainrule did not write. */
  foreign: string[];
}

async function isModelConfig(path: string): Promise<boolean> {
  try {
    const config = JSON.parse(await readFile(path, "utf8")) as { format?: unknown };
    return config?.format === NER_MODEL_FORMAT;
  } catch {
    return false;
  }
}

/** What an output directory holds. */
export async function inspectOutput(path: string, flag = "--out"): Promise<OutputState> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { exists: false, model: false, checkpoint: false, foreign: [] };
    throw new ValueError(`${flag} ${path}: ${describeErrno(error)}`);
  }
  if (!info.isDirectory()) throw new ValueError(`${flag} ${path}: exists and is not a directory`);
  const names = await readdir(path);
  const model = names.includes(MODEL_CONFIG_FILE) && (await isModelConfig(join(path, MODEL_CONFIG_FILE)));
  const known = new Set([
    LOCK_FILE,
    MODEL_WEIGHTS_FILE,
    ...TRAINING_FILES,
    ...(model ? [MODEL_CONFIG_FILE] : []),
  ]);
  return {
    exists: true,
    model,
    checkpoint: names.includes(CHECKPOINT_FILE),
    foreign: names.filter((name) => !known.has(name) && !OURS.test(name)).sort(),
  };
}

/**
 * Checks, before any work, that a training may write into `path` (see the policy above). `resume`: the run
 * continues from the directory's checkpoint.
 */
export async function checkTrainingOutput(
  path: string,
  options: { force: boolean; resume: boolean; flag?: string },
): Promise<OutputState> {
  const flag = options.flag ?? "--out";
  const state = await inspectOutput(path, flag);
  if (state.foreign.length > 0) {
    const shown = state.foreign.slice(0, 3).join(", ") + (state.foreign.length > 3 ? ", …" : "");
    throw new ValueError(
      `${flag} ${path}: not empty and not a chainrule model directory (it holds ${shown}); choose a new or empty directory`,
    );
  }
  if (options.resume || options.force) return state;
  if (state.checkpoint) {
    throw new ValueError(
      `${flag} ${path}: holds an interrupted run (${CHECKPOINT_FILE}); continue it with --resume, or start over with --force`,
    );
  }
  if (state.model) {
    throw new ValueError(
      `${flag} ${path}: holds a model already; replace it with --force, or choose another directory`,
    );
  }
  return state;
}

/** The lock of a training on its output directory. */
export class TrainingLock {
  private constructor(readonly path: string) {}

  /**
   * Takes the directory's lock (the directory must exist). A lock held by a running process is refused with a
   * clear message; one left by a process that no longer runs (on this machine) is taken over.
   */
  static async acquire(directory: string, flag = "--out"): Promise<TrainingLock> {
    const path = join(directory, LOCK_FILE);
    const content = JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await open(path, "wx");
        try {
          await handle.writeFile(content + "\n");
        } finally {
          await handle.close();
        }
        return new TrainingLock(path);
      } catch (error) {
        if (errnoCode(error) !== "EEXIST") {
          throw new OutputError(`${describeErrno(error)} while taking the lock ${path}`);
        }
      }
      // Someone holds it: a live training, or a stale lock of a killed one.
      let text = "";
      try {
        text = await readFile(path, "utf8");
      } catch {
        continue; // Released meanwhile: try again.
      }
      let holder: { pid?: unknown; host?: unknown } = {};
      try {
        holder = JSON.parse(text) as typeof holder;
      } catch {
        // An unreadable lock (a kill while it was written) is stale.
      }
      const pid = typeof holder.pid === "number" ? holder.pid : NaN;
      const otherHost = typeof holder.host === "string" && holder.host !== hostname();
      if (pid === process.pid && !otherHost) {
        throw new ValueError(`${flag} ${directory}: this process is already training into it`);
      }
      if (otherHost || processAlive(pid)) {
        throw new ValueError(
          `${flag} ${directory}: another training (process ${String(holder.pid)}${otherHost ? ` on ${String(holder.host)}` : ""}) is writing into it; ` +
            `wait for it to finish or choose another directory (if no training runs, remove ${path})`,
        );
      }
      // Stale: remove it if it is still the one read, then try again.
      try {
        if ((await readFile(path, "utf8")) === text) await rm(path, { force: true });
      } catch {
        // Gone already.
      }
    }
    throw new ValueError(`${flag} ${directory}: could not take the lock ${path}; try again`);
  }

  /** Releases the lock (only if it is still ours). */
  async release(): Promise<void> {
    try {
      const holder = JSON.parse(await readFile(this.path, "utf8")) as { pid?: unknown };
      if (holder.pid === process.pid) await rm(this.path, { force: true });
    } catch {
      // Already gone.
    }
  }
}

/** Removes what a killed run left (temporary files, staged weights); returns their names. */
export async function cleanLeftovers(directory: string): Promise<string[]> {
  return removeModelLeftovers(directory);
}
