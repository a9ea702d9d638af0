/**
 * Node-only model directory I/O: a directory holds `model.safetensors` (the weights) and `config.json`
 * (hyperparameters, vocabulary, casing classes, tags, scheme, version). A save is atomic as a whole (see
 * `model-directory-node.ts`); `config.json` carries a checksum of the weights, so mismatched parts are
 * refused rather than loaded.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ValueError } from "../errors.js";
import { saveModelDirectoryAtomically, type SaveModelOptions } from "./model-directory-node.js";
import type { FiniteWeightsOptions } from "./model-config.js";
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, NerTagger as BrowserNerTagger } from "./tagger.js";

/**
 * The tagger of `tagger.ts` with Node's file I/O: {@link NerTagger.load} reads a model directory. The Node
 * entry points export this class as `NerTagger`. It adds no instance members, and every tagger (made by
 * `create`, `fromBytes`, `load` or the trainer) is an instance of both classes.
 */
export class NerTagger extends BrowserNerTagger {
  /** Reads a model directory (`config.json` + `model.safetensors`); a missing file is an error naming it. */
  static async load(directory: string, options: FiniteWeightsOptions = {}): Promise<NerTagger> {
    const { config, weights } = await readNerModelFiles(directory);
    return BrowserNerTagger.fromBytes(config, weights, options);
  }

  /** `tagger instanceof NerTagger` holds for every tagger, including those made by the browser-safe class. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof BrowserNerTagger;
  }
}

/**
 * Saves a tagger as a model directory (created if needed), atomically as a whole: a crash at any moment
 * leaves the previous model or the new one (see `model-directory-node.ts`). With `{ viewWeights: true }` the
 * weights are written from the parameters themselves, without a copy: the model must then not change until
 * the returned promise settles.
 */
export async function saveNerModel(
  directory: string,
  tagger: BrowserNerTagger,
  options: SaveModelOptions = {},
): Promise<void> {
  await mkdir(directory, { recursive: true });
  await saveModelDirectoryAtomically(directory, tagger, options);
}

/** Reads the two files of a model directory; a missing file is a clear error naming it. */
export async function readNerModelFiles(directory: string): Promise<{
  /** The text of `config.json`. */
  config: string;
  /** The bytes of `model.safetensors`. */
  weights: Uint8Array;
}> {
  const configPath = join(directory, MODEL_CONFIG_FILE);
  let config: string;
  try {
    config = await readFile(configPath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ValueError(
        `${configPath}: no such file (is ${directory} a model directory written by "chainrule ner train"?)`,
      );
    }
    throw error;
  }
  let weightsFile = MODEL_WEIGHTS_FILE;
  try {
    const parsed = JSON.parse(config) as { weights?: { file?: unknown } };
    const named = parsed?.weights?.file;
    // Only a plain file name inside the directory is followed.
    if (typeof named === "string" && /^[^/\\]+$/.test(named) && named !== ".." && named !== ".")
      weightsFile = named;
  } catch {
    // NerTagger.fromBytes reports the malformed JSON.
  }
  const weightsPath = join(directory, weightsFile);
  try {
    const weights = new Uint8Array(await readFile(weightsPath));
    return { config, weights };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ValueError(`${weightsPath}: no such file (the model directory is incomplete)`);
    }
    throw error;
  }
}
