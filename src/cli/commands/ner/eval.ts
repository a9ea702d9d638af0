/**
 * `chainrule ner eval`: scores a model on a CoNLL file with conlleval's report (the positive class per
 * token for a binary classifier), optionally writing the predictions (`--out`) and the scores as JSON
 * (`--json` on standard output, `--metrics FILE`). The file is read as a stream, so memory holds the model
 * and one batch of sentences, whatever the file's size.
 */
import type { Command } from "commander";
import { ValueError } from "../../../errors.js";
import type { ConllSentence, PredictedSentence } from "../../../ner/conll.js";
import { readConllSentences, writeFileAtomic, writePredictionsFile } from "../../../ner/conll-node.js";
import { ConllevalCounter, formatConllevalReport } from "../../../ner/conlleval.js";
import { SchemeDetector, type TagScheme } from "../../../ner/tags.js";
import type { NerTagger } from "../../../ner/tagger.js";
import { BinaryScoreCounter } from "../../../ner/trainer.js";
import { formatCount } from "../../progress.js";
import { ALLOW_NON_FINITE, checkOutputFile, loadTagger, requireFile, write } from "./shared.js";

interface EvalCommandOptions {
  model: string;
  data: string;
  out?: string;
  output?: string;
  json?: boolean;
  metrics?: string;
  allowNonFinite?: boolean;
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

/** About how many tokens are tagged at once: memory holds one such batch (or the longest sentence). */
const BATCH_TOKENS = 4096;

/** The sentences of `sentences` in batches of about `BATCH_TOKENS` tokens (one sentence at least). */
async function* batchesOf(sentences: AsyncIterable<ConllSentence>): AsyncGenerator<ConllSentence[]> {
  let batch: ConllSentence[] = [];
  let tokens = 0;
  for await (const sentence of sentences) {
    batch.push(sentence);
    tokens += sentence.tokens.length;
    if (tokens >= BATCH_TOKENS) {
      yield batch;
      batch = [];
      tokens = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * The gold tags' scheme, read in a first pass over the file (which also finds any malformed line before
 * anything is tagged or written); the model's when the tags do not tell.
 */
async function schemeOfFile(path: string, tagger: NerTagger): Promise<TagScheme> {
  const detector = new SchemeDetector();
  for await (const sentence of readConllSentences(path)) detector.add(sentence.tags);
  const detected = detector.result();
  return detected.certain ? detected.scheme : tagger.scheme;
}

/**
 * Tags the file's sentences batch by batch, feeding each to `count`, and yields them with their predictions:
 * memory holds one batch, whatever the size of the file.
 */
async function* predictFile(
  path: string,
  tagger: NerTagger,
  scheme: TagScheme,
  count: (sentence: PredictedSentence) => void,
): AsyncGenerator<PredictedSentence> {
  for await (const batch of batchesOf(readConllSentences(path))) {
    const predicted = tagger.tagSentences(
      batch.map((s) => s.tokens),
      { scheme },
    );
    for (let i = 0; i < batch.length; i++) {
      const sentence = { tokens: batch[i]!.tokens, gold: batch[i]!.tags, predicted: predicted[i]! };
      count(sentence);
      yield sentence;
    }
  }
}

async function evalCommand(o: EvalCommandOptions): Promise<void> {
  if (o.out !== undefined && o.output !== undefined && o.out !== o.output) {
    throw new ValueError(`--out and --output name the same file (--output is the old name): give one`);
  }
  const out = o.out ?? o.output;
  // Output paths are checked before the work.
  if (out !== undefined) await checkOutputFile(out, o.out !== undefined ? "--out" : "--output");
  if (o.metrics !== undefined) await checkOutputFile(o.metrics, "--metrics");
  const tagger = await loadTagger(o.model, { allowNonFinite: o.allowNonFinite === true });
  await requireFile(o.data, "--data");
  // The file is read twice, as a stream each time: once for the scheme, once to tag and score it.
  const scheme = await schemeOfFile(o.data, tagger);
  const type = tagger.binary;
  const binary = new BinaryScoreCounter();
  const counter = type === null ? new ConllevalCounter({ scheme }) : null;
  const count = (s: PredictedSentence): void => {
    if (counter !== null) counter.addSentence(s.gold, s.predicted, s.tokens);
    else {
      for (let t = 0; t < s.gold.length; t++) {
        const tag = s.gold[t]!;
        binary.add(tag.slice(tag.indexOf("-") + 1) === type && tag !== "O", s.predicted[t] !== "O");
      }
    }
  };
  const sentences = predictFile(o.data, tagger, scheme, count);
  if (out !== undefined) await writePredictionsFile(out, sentences);
  else for await (const _sentence of sentences);
  let report: string;
  let metrics: EvalMetrics;
  if (counter === null) {
    const scores = binary.scores();
    const tokens = binary.tokenCount;
    report =
      `processed ${formatCount(tokens)} tokens; binary classifier for ${type} (per token, positive class):\n` +
      `precision: ${scores.precision.toFixed(2)}%; recall: ${scores.recall.toFixed(2)}%; F1: ${scores.f1.toFixed(2)}; accuracy: ${scores.accuracy.toFixed(2)}%\n`;
    metrics = { model: o.model, data: o.data, scheme, tokens, ...scores, binary: type! };
  } else {
    const result = counter.result();
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
}

export function registerEval(ner: Command): void {
  ner
    .command("eval")
    .description("score a model on a CoNLL file, printing conlleval's report")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .option(ALLOW_NON_FINITE, "load a model whose weights hold NaN or infinity (refused by default)")
    .requiredOption("--data <file>", "CoNLL file with gold tags")
    .option("--out <file>", "write predictions (token gold predicted) for the conlleval script")
    .option("--output <file>", "the same as --out (its older name)")
    .option("--json", "print the scores as JSON instead of the report")
    .option("--metrics <file>", "also write the scores as JSON to this file")
    .action((o: EvalCommandOptions) => evalCommand(o));
}
