/**
 * `chainrule ner eval`: scores a model on a CoNLL file with conlleval's report (the positive class per
 * token for a binary classifier), optionally writing the predictions (`--out`) and the scores as JSON
 * (`--json` on standard output, `--metrics FILE`).
 */
import type { Command } from "commander";
import { ValueError } from "../../../errors.js";
import { writeFileAtomic, writePredictionsFile } from "../../../ner/conll-node.js";
import { conlleval, formatConllevalReport } from "../../../ner/conlleval.js";
import { detectScheme } from "../../../ner/tags.js";
import { binaryScores } from "../../../ner/trainer.js";
import { formatCount } from "../../progress.js";
import { checkOutputFile, loadTagger, readCorpus, write } from "./shared.js";

interface EvalCommandOptions {
  model: string;
  data: string;
  out?: string;
  output?: string;
  json?: boolean;
  metrics?: string;
}

/** The scores of `ner eval` as JSON (`--json`, `--metrics`): percentages, with counts and types. */
export interface EvalMetrics {
  model: string;
  data: string;
  scheme: string;
  tokens: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  /** Softmax models: conlleval's entity counts and per-type scores. */
  entities?: { gold: number; predicted: number; correct: number };
  types?: Record<
    string,
    { precision: number; recall: number; f1: number; gold: number; predicted: number; correct: number }
  >;
  /** Binary classifiers: the entity type scored per token. */
  binary?: string;
}

async function evalCommand(o: EvalCommandOptions): Promise<void> {
  if (o.out !== undefined && o.output !== undefined && o.out !== o.output) {
    throw new ValueError(`--out and --output name the same file (--output is the old name): give one`);
  }
  const out = o.out ?? o.output;
  // Output paths are checked before the work.
  if (out !== undefined) await checkOutputFile(out, o.out !== undefined ? "--out" : "--output");
  if (o.metrics !== undefined) await checkOutputFile(o.metrics, "--metrics");
  const tagger = await loadTagger(o.model);
  const corpus = await readCorpus(o.data, "--data");
  const detected = detectScheme(corpus.sentences.map((s) => s.tags));
  const scheme = detected.certain ? detected.scheme : tagger.scheme;
  const sentences = corpus.sentences;
  const predicted = tagger.tagSentences(
    sentences.map((s) => s.tokens),
    { scheme },
  );
  let report: string;
  let metrics: EvalMetrics;
  if (tagger.binary !== null) {
    const type = tagger.binary;
    const gold: number[] = [];
    const guess: number[] = [];
    sentences.forEach((s, i) =>
      s.tags.forEach((tag, t) => {
        gold.push(tag.slice(tag.indexOf("-") + 1) === type && tag !== "O" ? 1 : 0);
        guess.push(predicted[i]![t] !== "O" ? 1 : 0);
      }),
    );
    const scores = binaryScores(gold, guess);
    report =
      `processed ${formatCount(gold.length)} tokens; binary classifier for ${type} (per token, positive class):\n` +
      `precision: ${scores.precision.toFixed(2)}%; recall: ${scores.recall.toFixed(2)}%; F1: ${scores.f1.toFixed(2)}; accuracy: ${scores.accuracy.toFixed(2)}%\n`;
    metrics = { model: o.model, data: o.data, scheme, tokens: gold.length, ...scores, binary: type };
  } else {
    const result = conlleval(
      sentences.map((s, i) => ({ tokens: s.tokens, gold: s.tags, predicted: predicted[i]! })),
      { scheme },
    );
    report = formatConllevalReport(result);
    metrics = {
      model: o.model,
      data: o.data,
      scheme,
      tokens: result.tokenCount,
      precision: result.precision,
      recall: result.recall,
      f1: result.f1,
      accuracy: result.accuracy,
      entities: { gold: result.goldCount, predicted: result.predictedCount, correct: result.correctCount },
      types: Object.fromEntries(
        result.types.map((t) => [
          t.type,
          {
            precision: t.precision,
            recall: t.recall,
            f1: t.f1,
            gold: t.goldCount,
            predicted: t.predictedCount,
            correct: t.correctCount,
          },
        ]),
      ),
    };
  }
  write(o.json === true ? JSON.stringify(metrics, null, 2) + "\n" : report);
  if (o.metrics !== undefined) await writeFileAtomic(o.metrics, JSON.stringify(metrics, null, 2) + "\n");
  if (out !== undefined) {
    await writePredictionsFile(
      out,
      sentences.map((s, i) => ({ tokens: s.tokens, gold: s.tags, predicted: predicted[i]! })),
    );
  }
}

export function registerEval(ner: Command): void {
  ner
    .command("eval")
    .description("score a model on a CoNLL file, printing conlleval's report")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .requiredOption("--data <file>", "CoNLL file with gold tags")
    .option("--out <file>", "write predictions (token gold predicted) for the conlleval script")
    .option("--output <file>", "the same as --out (its older name)")
    .option("--json", "print the scores as JSON instead of the report")
    .option("--metrics <file>", "also write the scores as JSON to this file")
    .action((o: EvalCommandOptions) => evalCommand(o));
}
