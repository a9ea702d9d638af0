/**
 * How the `ner` subcommands print: per-epoch lines, the table of dev scores, the run's description and tagged
 * text.
 */
import type { CompactCorpus } from "../../../ner/conll-compact.js";
import { entityTypes } from "../../../ner/tags.js";
import type { TaggedText } from "../../../ner/tagger.js";
import {
  resolveTrainingOptions,
  type DevScores,
  type EpochRecord,
  type NerTrainingOptions,
  type TrainingCheckpoint,
} from "../../../ner/trainer.js";
import { formatCount } from "../../progress.js";

function percent(value: number): string {
  return value.toFixed(2).padStart(6);
}

/** One plain line per epoch. */
export function formatEpochLine(record: EpochRecord, epochs: number): string {
  const width = String(epochs).length;
  const dev = record.dev
    ? `  dev P ${percent(record.dev.precision)}  R ${percent(record.dev.recall)}  F1 ${percent(record.dev.f1)}`
    : "";
  return (
    `epoch ${String(record.epoch).padStart(width)}/${epochs}  loss ${record.loss.toFixed(4)}  ` +
    `${formatCount(record.examplesPerSecond).padStart(7)} ex/s  ${record.seconds.toFixed(1).padStart(6)} s${dev}${record.best && record.dev ? "  *" : ""}`
  );
}

/** The table of dev scores per epoch. */
export function formatHistoryTable(history: readonly EpochRecord[], binary: string | null): string {
  const header = ["epoch", "loss", "precision", "recall", "F1", "accuracy", "examples/s", "seconds", ""];
  const rows = history.map((r) => [
    String(r.epoch),
    r.loss.toFixed(4),
    r.dev ? r.dev.precision.toFixed(2) : "-",
    r.dev ? r.dev.recall.toFixed(2) : "-",
    r.dev ? r.dev.f1.toFixed(2) : "-",
    r.dev ? r.dev.accuracy.toFixed(2) : "-",
    formatCount(r.examplesPerSecond),
    r.seconds.toFixed(1),
    r.best && r.dev ? "best" : "",
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padStart(widths[c]!)))
      .join("  ")
      .trimEnd();
  const title =
    binary === null
      ? "Dev scores per epoch (conlleval, entity level)"
      : `Dev scores per epoch (${binary} per token)`;
  return [title, line(header), ...rows.map(line)].join("\n") + "\n";
}

export function describeScores(scores: DevScores): string {
  return `precision ${scores.precision.toFixed(2)}, recall ${scores.recall.toFixed(2)}, F1 ${scores.f1.toFixed(2)}`;
}

/** Tagged text for humans: each sentence's tokens with tags, then its entities with character offsets. */
export function formatTaggedText(tagged: TaggedText): string {
  const lines: string[] = [];
  for (const sentence of tagged.sentences) {
    const tokens = tagged.tokens.slice(sentence.tokenStart, sentence.tokenEnd);
    lines.push(tokens.map((t) => `${t.text}/${t.tag}`).join(" "));
    const entities = tagged.entities.filter(
      (e) => e.tokenStart >= sentence.tokenStart && e.tokenEnd <= sentence.tokenEnd,
    );
    if (entities.length === 0) lines.push("  (no entities)");
    const typeWidth = Math.max(0, ...entities.map((e) => e.type.length));
    const spanWidth = Math.max(0, ...entities.map((e) => `${e.start}-${e.end}`.length));
    for (const e of entities) {
      lines.push(`  ${e.type.padEnd(typeWidth)}  ${`${e.start}-${e.end}`.padEnd(spanWidth)}  ${e.text}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Tagged text in CoNLL format: `token tag start end` per line, a blank line after each sentence. */
export function formatTaggedConll(tagged: TaggedText): string {
  const lines: string[] = [];
  for (const sentence of tagged.sentences) {
    for (const t of tagged.tokens.slice(sentence.tokenStart, sentence.tokenEnd)) {
      lines.push(`${t.text} ${t.tag} ${t.start} ${t.end}`);
    }
    lines.push("");
  }
  return lines.join("\n") + (lines.length > 0 ? "\n" : "");
}

/** The data and the model of a run, before it starts. */
export function describeRun(
  train: CompactCorpus,
  dev: CompactCorpus | null,
  options: NerTrainingOptions,
  resumed: TrainingCheckpoint | null,
): string {
  const scheme = train.schemeDetection.scheme;
  const lines = [
    `train: ${train.file}: ${formatCount(train.sentenceCount)} sentences, ${formatCount(train.tokenCount)} tokens, ` +
      `${scheme} tags, entity types ${entityTypes(train.tagSet).join(", ") || "none"}`,
  ];
  if (dev)
    lines.push(
      `dev:   ${dev.file}: ${formatCount(dev.sentenceCount)} sentences, ${formatCount(dev.tokenCount)} tokens`,
    );
  if (resumed) {
    const s = resumed.state;
    lines.push(
      `resuming after epoch ${s.epochsCompleted} of ${s.options.epochs} (best so far: epoch ${s.bestEpoch})`,
    );
  } else {
    const o = resolveTrainingOptions(options);
    const parts = [
      `window ${o.windowSize}`,
      `hidden ${o.hiddenSize} ${o.activation}`,
      o.binary !== null
        ? `binary ${o.binary}`
        : o.objective === "sentence"
          ? "sentence-level CRF"
          : "softmax",
      `${o.optimizer} lr ${o.lr}`,
      `batch ${o.batchSize}`,
      `epochs ${o.epochs}`,
      `patience ${o.patience}`,
      `seed ${o.seed}`,
    ];
    if (o.dropout > 0) parts.push(`dropout ${o.dropout}`);
    if (o.inputDropout > 0) parts.push(`input dropout ${o.inputDropout}`);
    if (o.wordDropout > 0) parts.push(`word dropout ${o.wordDropout}`);
    if (o.rareWordDropout > 0) parts.push(`rare-word dropout α ${o.rareWordDropout}`);
    const features = [
      o.prefixDimension > 0 ? `prefix ${o.affixLength} (${o.prefixDimension}-d)` : "",
      o.suffixDimension > 0 ? `suffix ${o.affixLength} (${o.suffixDimension}-d)` : "",
      o.shapeDimension > 0 ? `shape (${o.shapeDimension}-d)` : "",
    ].filter((f) => f !== "");
    if (features.length > 0) parts.push(`features: ${features.join(", ")}`);
    lines.push(`model: ${parts.join(", ")}`);
  }
  return lines.join("\n") + "\n";
}
