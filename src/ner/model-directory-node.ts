/**
 * Node-only: saving a model directory atomically as a whole. `config.json` names its weights file and
 * carries the weights' checksum, so `config.json` is the commit point: at every instant the directory holds
 * a complete, loadable model, the previous one or the new one, whatever moment a crash or a kill strikes.
 *
 * 1. The new weights go to a file of their own, `model.<checksum>.safetensors` (written atomically).
 * 2. `config.json` is replaced (atomically) by the new config naming that file: the new model is in place.
 * 3. `model.safetensors` is replaced by the same bytes (a hard link when the file system allows, else a copy).
 * 4. `config.json` is replaced by the config naming `model.safetensors`.
 * 5. The staged file (and any an interrupted save left) is removed.
 *
 * At rest a directory therefore holds `config.json` and `model.safetensors`, as older versions wrote it (and
 * as they read it). A staged file that a kill left behind is removed by {@link removeModelLeftovers}.
 */
import { link, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "../io/atomic-write-node.js";
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, type NerTagger } from "./tagger.js";

/** Staged weights: `model.<8 hex digits>.safetensors`. */
const STAGED_WEIGHTS = /^model\.[0-9a-f]{8}\.safetensors$/;

/** Temporary files of `writeFileAtomic`: `.<name>.<pid>.<time>.<random>.tmp`. */
const TEMPORARY_FILE = /^\..+\.(\d+)\.[0-9a-z]+\.[0-9a-z]+\.tmp$/;

/** Puts `bytes` at `path` atomically, through a hard link to `source` (which holds them) when possible. */
async function placeCopy(source: string, path: string, bytes: readonly Uint8Array[]): Promise<void> {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.link.tmp`,
  );
  try {
    await link(source, temporary);
    await rename(temporary, path);
  } catch {
    await rm(temporary, { force: true }).catch(() => undefined);
    await writeFileAtomic(path, bytes);
  }
}

/** Options of `saveNerModel` (and of `saveModelDirectoryAtomically`). */
export interface SaveModelOptions {
  /**
   * Write the weights from views of the model's parameters instead of a copy of them (default false): less
   * memory, but the model must not change until the save has finished (a training loop that awaits it).
   */
  viewWeights?: boolean;
}

/** Saves a tagger as a model directory (which must exist) so that a crash at any moment leaves a loadable model. */
export async function saveModelDirectoryAtomically(
  directory: string,
  tagger: NerTagger,
  options: SaveModelOptions = {},
): Promise<void> {
  const { weights: views, configObject } = tagger.toParts();
  // Without viewWeights the pieces are copied first: the model may change while the files are written.
  const weights = options.viewWeights ? views : views.map((piece) => piece.slice());
  const checksum = configObject.weights.checksum;
  const staged = `model.${checksum.slice(checksum.indexOf(":") + 1)}.safetensors`;
  const configNaming = (file: string) =>
    JSON.stringify({ ...configObject, weights: { ...configObject.weights, file } }, null, 2) + "\n";
  await writeFileAtomic(join(directory, staged), weights);
  await writeFileAtomic(join(directory, MODEL_CONFIG_FILE), configNaming(staged));
  await placeCopy(join(directory, staged), join(directory, MODEL_WEIGHTS_FILE), weights);
  await writeFileAtomic(join(directory, MODEL_CONFIG_FILE), configNaming(MODEL_WEIGHTS_FILE));
  // The staged file, and any that an interrupted save left.
  for (const name of await readdir(directory)) {
    if (STAGED_WEIGHTS.test(name)) await rm(join(directory, name), { force: true });
  }
}

/** True if a process with this id runs (on this machine). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes what an interrupted save left in a model directory: temporary files of processes that no longer
 * run, and staged weights that `config.json` does not name. Returns the names removed.
 */
export async function removeModelLeftovers(directory: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  let named: string | null = null;
  try {
    const config = JSON.parse(await readFile(join(directory, MODEL_CONFIG_FILE), "utf8")) as {
      weights?: { file?: unknown };
    };
    if (typeof config?.weights?.file === "string") named = config.weights.file;
  } catch {
    // No readable config: no staged file is in use.
  }
  const removed: string[] = [];
  for (const name of names) {
    const temporary = TEMPORARY_FILE.exec(name);
    const leftover =
      (temporary !== null && !processAlive(Number(temporary[1]))) ||
      (STAGED_WEIGHTS.test(name) && name !== named);
    if (leftover) {
      await rm(join(directory, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
