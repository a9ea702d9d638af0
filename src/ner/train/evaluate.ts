/**
 * Scoring a tagger on labelled sentences: conlleval's entity-level figures for the softmax model, the
 * positive class per token for the lecture's binary classifier.
 */
import { ConllevalCounter, conlleval } from "../conlleval.js";
import type { TagScheme } from "../tags.js";
import { tokenWindowSource, type NerTagger } from "../tagger.js";
import type { CompactCorpus } from "../conll-compact.js";
import type { TokenWindows } from "../windows.js";
import { corpusWindows, typeOf } from "./prepare.js";
import type { DevScores, LabelledSentence } from "./types.js";

/** Positive-class precision, recall and F1 per token (percentages), and token accuracy. */
export function binaryScores(gold: ArrayLike<number>, predicted: ArrayLike<number>): DevScores {
  const counter = new BinaryScoreCounter();
  for (let i = 0; i < gold.length; i++) counter.add(gold[i] === 1, predicted[i] === 1);
  return counter.scores();
}

/** {@link binaryScores} one token at a time, for input read as a stream. */
export class BinaryScoreCounter {
  private truePositive = 0;
  private falsePositive = 0;
  private falseNegative = 0;
  private correct = 0;
  private tokens = 0;

  /** Counts one token: whether its gold and its predicted class are the positive one. */
  add(gold: boolean, predicted: boolean): void {
    if (gold && predicted) this.truePositive++;
    else if (predicted) this.falsePositive++;
    else if (gold) this.falseNegative++;
    if (gold === predicted) this.correct++;
    this.tokens++;
  }

  /** The number of tokens counted. */
  get tokenCount(): number {
    return this.tokens;
  }

  /** The scores of the tokens counted so far. */
  scores(): DevScores {
    const { truePositive, falsePositive, falseNegative, correct, tokens } = this;
    const precision =
      truePositive + falsePositive === 0 ? 0 : (100 * truePositive) / (truePositive + falsePositive);
    const recall =
      truePositive + falseNegative === 0 ? 0 : (100 * truePositive) / (truePositive + falseNegative);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1, accuracy: tokens === 0 ? 0 : (100 * correct) / tokens };
  }
}

/**
 * Scores a tagger on labelled sentences: conlleval's entity-level figures for the softmax model (predictions
 * written in `scheme`, the gold tags' scheme), positive-class figures per token for the binary classifier.
 */
export function evaluateTagger(
  tagger: NerTagger,
  sentences: readonly LabelledSentence[],
  scheme: TagScheme = tagger.scheme,
): DevScores {
  if (tagger.binary !== null) {
    const predictions = tagger.predict(sentences.map((s) => s.tokens));
    const gold: number[] = [];
    const predicted: number[] = [];
    sentences.forEach((s, i) => {
      s.tags.forEach((tag, t) => {
        gold.push(typeOf(tag) === tagger.binary ? 1 : 0);
        predicted.push(predictions[i]!.ids[t]!);
      });
    });
    return binaryScores(gold, predicted);
  }
  const predicted = tagger.tagSentences(
    sentences.map((s) => s.tokens),
    { scheme },
  );
  const result = conlleval(
    sentences.map((s, i) => ({ gold: s.tags, predicted: predicted[i]!, tokens: s.tokens })),
    { scheme },
  );
  return { precision: result.precision, recall: result.recall, f1: result.f1, accuracy: result.accuracy };
}

/**
 * Scores a tagger on a {@link CompactCorpus}: the figures {@link evaluateTagger} gives on the corpus's
 * sentences (predictions written in `scheme`, the gold tags' scheme), bit for bit, computed a chunk of windows
 * at a time without the sentences as strings or the scores of the whole set in memory. `windows`, the
 * corpus's windows for the tagger's vocabulary and token features, can be built once and passed for every
 * evaluation (a training run's dev set); they are built from the tagger when omitted.
 */
export function evaluateCorpus(
  tagger: NerTagger,
  corpus: CompactCorpus,
  scheme: TagScheme = tagger.scheme,
  windows: TokenWindows = corpusWindows(corpus, tagger.vocabulary, tagger.model.config, null),
  options: { compile?: boolean } = {},
): DevScores {
  const { offsets, tagIds } = corpus;
  const source = tokenWindowSource(windows);
  if (tagger.binary !== null) {
    const positive = corpus.tagTable.map((tag) => typeOf(tag) === tagger.binary);
    const counter = new BinaryScoreCounter();
    tagger.forEachPrediction(
      source,
      (prediction, s) => {
        const first = offsets[s]!;
        for (let t = 0; t < prediction.ids.length; t++) {
          counter.add(positive[tagIds[first + t]!]!, prediction.ids[t] === 1);
        }
      },
      options,
    );
    return counter.scores();
  }
  const counter = new ConllevalCounter({ scheme });
  tagger.forEachPrediction(
    source,
    (prediction, s) => {
      counter.addSentence(corpus.tagsOf(s), tagger.tagsOfPrediction(prediction, scheme), corpus.tokensOf(s));
    },
    options,
  );
  const result = counter.result();
  return { precision: result.precision, recall: result.recall, f1: result.f1, accuracy: result.accuracy };
}
