/**
 * `chainrule ner eval`: scores a model on a CoNLL file with conlleval's report (the positive class per
 * token for a binary classifier), optionally writing the predictions.
 */
import type { Command } from "commander";
import { writePredictionsFile } from "../../../ner/conll-node.js";
import { conlleval, formatConllevalReport } from "../../../ner/conlleval.js";
import { detectScheme } from "../../../ner/tags.js";
import { binaryScores } from "../../../ner/trainer.js";
import { formatCount } from "../../progress.js";
import { loadTagger, readCorpus, write } from "./shared.js";

interface EvalCommandOptions {
  model: string;
  data: string;
  output?: string;
}

async function evalCommand(o: EvalCommandOptions): Promise<void> {
  const tagger = await loadTagger(o.model);
  const corpus = await readCorpus(o.data, "--data");
  const detected = detectScheme(corpus.sentences.map((s) => s.tags));
  const scheme = detected.certain ? detected.scheme : tagger.scheme;
  const sentences = corpus.sentences;
  const predicted = tagger.tagSentences(
    sentences.map((s) => s.tokens),
    { scheme },
  );
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
    write(
      `processed ${formatCount(gold.length)} tokens; binary classifier for ${type} (per token, positive class):\n` +
        `precision: ${scores.precision.toFixed(2)}%; recall: ${scores.recall.toFixed(2)}%; F1: ${scores.f1.toFixed(2)}; accuracy: ${scores.accuracy.toFixed(2)}%\n`,
    );
  } else {
    const result = conlleval(
      sentences.map((s, i) => ({ tokens: s.tokens, gold: s.tags, predicted: predicted[i]! })),
      { scheme },
    );
    write(formatConllevalReport(result));
  }
  if (o.output !== undefined) {
    await writePredictionsFile(
      o.output,
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
    .option("--output <file>", "write predictions (token gold predicted) for the conlleval script")
    .action((o: EvalCommandOptions) => evalCommand(o));
}
