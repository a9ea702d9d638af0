/**
 * The model card: a `README.md` in the model directory that records what made the model (as Hugging Face
 * and spaCy model directories do): the data files and their SHA-256, the tag set, the scores, the settings,
 * the date and the chainrule version.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { VERSION } from "../../../version.js";
import type { NerTagger } from "../../../ner/tagger.js";
import type { EpochRecord, ResolvedTrainingOptions } from "../../../ner/trainer.js";
import type { CompactCorpus } from "../../../ner/conll-compact.js";
import { formatCount } from "../../progress.js";

/** A data file of the run. */
export interface CardFile {
  role: string;
  path: string;
  sha256: string;
  /** e.g. "1,399 sentences, 32,158 tokens". */
  summary?: string;
}

/** The SHA-256 of a file, in hex (streamed). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The card's entries for a run's data files. */
export async function cardFiles(
  train: CompactCorpus,
  dev: CompactCorpus | null,
  embeddings: string | null,
): Promise<CardFile[]> {
  const corpus = async (role: string, c: CompactCorpus): Promise<CardFile> => ({
    role,
    path: c.file,
    sha256: await sha256File(c.file),
    summary: `${formatCount(c.sentenceCount)} sentences, ${formatCount(c.tokenCount)} tokens`,
  });
  const files = [await corpus("train", train)];
  if (dev !== null) files.push(await corpus("dev", dev));
  if (embeddings !== null)
    files.push({ role: "embeddings", path: embeddings, sha256: await sha256File(embeddings) });
  return files;
}

function percent(value: number): string {
  return value.toFixed(2);
}

/** The card's Markdown. */
export function modelCard(args: {
  tagger: NerTagger;
  files: readonly CardFile[];
  history: readonly EpochRecord[];
  bestEpoch: number;
  options: ResolvedTrainingOptions;
  finished: boolean;
  date?: Date;
}): string {
  const { tagger, history, options } = args;
  const best = history.find((r) => r.epoch === args.bestEpoch) ?? null;
  const config = tagger.model.config;
  const lines: string[] = [];
  lines.push("# Window NER model (chainrule)", "");
  lines.push(
    "The window-based named-entity classifier of CS224n lecture 3: x = [x_{t-w}; …; x_{t+w}] (word and " +
      `casing vectors), h = ${config.activation}(Wx + b), ` +
      (tagger.binary !== null
        ? `s = uᵀh, J = σ(s): a binary classifier for ${tagger.binary}.`
        : "a softmax over the tags."),
    "",
  );
  lines.push(
    `Trained with chainrule ${VERSION} on ${(args.date ?? new Date()).toISOString()}` +
      (args.finished
        ? "."
        : ` (training in progress: ${history.length} of ${options.epochs} epochs so far).`),
    "",
  );
  lines.push("Load it with `NerTagger.load(dir)` or `chainrule ner tag --model dir …`.", "");
  lines.push("## Data", "", "| role | file | SHA-256 | |", "|---|---|---|---|");
  for (const f of args.files)
    lines.push(`| ${f.role} | \`${f.path}\` | \`${f.sha256}\` | ${f.summary ?? ""} |`);
  lines.push("");
  lines.push("## Tags", "");
  lines.push(
    `Output scheme ${tagger.trainingScheme} (the data's: ${tagger.scheme}), ${tagger.decoding} decoding; ` +
      `entity types: ${tagger.entityTypes.join(", ") || "none"}.`,
  );
  if (tagger.tagSet !== null)
    lines.push("", `Tag set (${tagger.tagSet.size}): ${tagger.tagSet.tags.join(" ")}`);
  lines.push("");
  lines.push("## Scores", "");
  if (best === null) lines.push("No epoch completed.");
  else if (best.dev === null) lines.push(`No dev set: the model of the last epoch (${best.epoch}) is kept.`);
  else {
    const kind = tagger.binary !== null ? `${tagger.binary} per token` : "conlleval, entity level";
    lines.push(
      `Dev set (${kind}), best epoch ${best.epoch} of ${history.length}: precision ${percent(best.dev.precision)}, ` +
        `recall ${percent(best.dev.recall)}, F1 ${percent(best.dev.f1)}, token accuracy ${percent(best.dev.accuracy)}.`,
    );
  }
  lines.push("", "| epoch | loss | dev F1 |", "|---|---|---|");
  for (const r of history) {
    lines.push(
      `| ${r.epoch}${r.epoch === args.bestEpoch ? " (kept)" : ""} | ${r.loss.toFixed(4)} | ${r.dev ? percent(r.dev.f1) : "-"} |`,
    );
  }
  lines.push("");
  lines.push("## Settings", "");
  lines.push(
    `Vocabulary ${tagger.vocabulary.size} entries, word vectors ${config.wordDimension}, casing ${config.casingDimension}, ` +
      `window ${config.windowSize} (${2 * config.windowSize + 1} words), hidden ${config.hiddenSize}.`,
    "",
    "| option | value |",
    "|---|---|",
  );
  for (const [name, value] of Object.entries(options)) lines.push(`| ${name} | ${JSON.stringify(value)} |`);
  lines.push("");
  return lines.join("\n");
}
