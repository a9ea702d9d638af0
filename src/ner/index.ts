/**
 * Named-entity recognition: the data layer (CoNLL I/O, tag schemes, conlleval-equivalent scoring, vocabularies
 * and casing features, windows, pretrained embeddings, the tokenizer) and the lecture's window classifier
 * (model, decoding, trainer, tagger). Browser-safe: it imports nothing from Node. The file readers and writers
 * and `NerTagger.load` are in `node.ts`, which is what `chainrule/ner` resolves to in Node.
 *
 * These are the public names; the helpers behind them (validators, float16 conversion, the streaming
 * builders, …) stay exported from their own files for the CLI and the tests, not from here.
 */
import { installTensorMethods } from "../autograd/tensor-methods.js";

// Tensor methods (t.add(u), t.backward(), …) sit above the tensor layer; attach them for this entry point.
installTensorMethods();
// Naming the type keeps the methods' declarations in this entry point's .d.ts, so `t.add(u)` type-checks.
export type { TensorMethods } from "../autograd/tensor-type.js";
export {
  parseConll,
  formatConll,
  formatPredictions,
  PredictionsFormatter,
  parsePredictions,
  DOCSTART,
  type ConllSentence,
  type ConllCorpus,
  type ParseConllOptions,
  type PredictedSentence,
} from "./conll.js";
export { CompactCorpus, type CompactCorpusParts, type TaggedSentence } from "./conll-compact.js";
export {
  splitTag,
  extractEntities,
  encodeEntities,
  convertTags,
  detectScheme,
  SchemeDetector,
  entityTypes,
  isTagScheme,
  TAG_SCHEMES,
  OUTSIDE_TAG,
  type TagScheme,
  type SplitTag,
  type EntitySpan,
  type SchemeDetection,
} from "./tags.js";
export {
  conlleval,
  formatConllevalReport,
  ConllevalCounter,
  type ScoredSentence,
  type ConllevalOptions,
  type ConllevalResult,
  type EntityTypeScore,
} from "./conlleval.js";
export {
  Vocabulary,
  TagSet,
  UNKNOWN_WORD,
  SENTENCE_START,
  SENTENCE_END,
  SPECIAL_WORDS,
  type VocabularyOptions,
  type VocabularyJSON,
  type TagSetJSON,
} from "./vocab.js";
export { casingOf, CASING_CLASSES, type CasingClass, type CasingJSON } from "./features.js";
export {
  buildWindows,
  buildTokenWindows,
  copyWindowRows,
  selectWindows,
  windowTensors,
  type Windows,
  type TokenWindows,
  type TokenWindowOptions,
  type WindowPadding,
  type ExtraWindowIds,
  type WindowOptions,
  type WindowSentence,
} from "./windows.js";
export {
  parseEmbeddings,
  parseEmbeddingsForVocabulary,
  type EmbeddingReadOptions,
  type EmbeddingTable,
  type VocabularyEmbeddings,
} from "./embeddings.js";
export {
  tokenize,
  splitSentences,
  tokenizeSentences,
  type Token,
  type TokenizedSentence,
} from "./tokenizer.js";
export {
  WindowModel,
  ACTIVATIONS,
  type Activation,
  type WindowModelConfig,
  type WindowModelOptions,
  type WindowModelInit,
  type Objective,
} from "./model.js";
export type { CrfParameters } from "./crf.js";
export type { TokenFeatureConfig, TokenFeatureKind } from "./char-features.js";
export {
  checkModelConfigSizes,
  checkWeightsFitConfig,
  checkFiniteWeights,
  MAX_MODEL_SIZE,
  type FiniteWeightsOptions,
} from "./model-config.js";
export {
  greedyDecode,
  viterbiDecode,
  transitionTable,
  DECODINGS,
  type Decoding,
  type TransitionTable,
} from "./decode.js";
export {
  NerTagger,
  NER_MODEL_FORMAT,
  NER_MODEL_VERSION,
  MODEL_WEIGHTS_FILE,
  MODEL_CONFIG_FILE,
  type NerModelConfig,
  type NerTaggerParts,
  type TaggedText,
  type TaggedToken,
  type TaggedEntity,
  type TagOptions,
  type SentencePrediction,
  forEachPrediction,
  windowMatrixSource,
  tokenWindowSource,
  type WindowRowSource,
  type WindowRows,
  type PredictionOptions,
} from "./tagger.js";
export {
  trainNer,
  evaluateTagger,
  evaluateCorpus,
  TrainingInterrupted,
  checkpointToBytes,
  checkpointToParts,
  checkpointFromBytes,
  OPTIMIZERS,
  type OptimizerName,
  type LabelledSentence,
  type NerTrainingOptions,
  type ResolvedTrainingOptions,
  type PretrainedInfo,
  type NerTrainingData,
  type NerTrainingResult,
  type TrainingHooks,
  type TrainingCheckpoint,
  type CheckpointState,
  type EpochRecord,
  type BatchProgress,
  type DevScores,
} from "./trainer.js";
export {
  embeddingTableToSafetensors,
  embeddingTableFromSafetensors,
  type EmbeddingTableOptions,
} from "./embedding-table.js";
