/**
 * Named-entity recognition: the data layer (CoNLL I/O, tag schemes, conlleval-equivalent scoring, vocabularies
 * and casing features, windows, pretrained embeddings, the tokenizer) and the lecture's window classifier
 * (model, decoding, trainer, tagger). Browser-safe: it imports nothing from Node. The file readers and writers
 * and `NerTagger.load` are in `node.ts`, which is what `chainrule/ner` resolves to in Node.
 */
export {
  parseConll,
  formatConll,
  formatPredictions,
  parsePredictions,
  splitLines,
  sortTags,
  DOCSTART,
  type ConllSentence,
  type ConllCorpus,
  type ParseConllOptions,
  type PredictedSentence,
} from "./conll.js";
export {
  splitTag,
  tagProblem,
  isChunkStart,
  isChunkEnd,
  iobesToIob2,
  extractEntities,
  encodeEntities,
  convertTags,
  detectScheme,
  entityTypes,
  isTagScheme,
  checkTagScheme,
  compareCodePoints,
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
  formatFixed2,
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
export {
  casingOf,
  casingId,
  casingToJSON,
  casingFromJSON,
  CASING_CLASSES,
  CASING_PADDING_ID,
  type CasingClass,
  type CasingJSON,
} from "./features.js";
export {
  buildWindows,
  selectWindows,
  windowTensors,
  type Windows,
  type WindowOptions,
  type WindowSentence,
} from "./windows.js";
export {
  parseEmbeddings,
  parseEmbeddingsForVocabulary,
  EmbeddingTableBuilder,
  VocabularyEmbeddingsBuilder,
  GloveLineReader,
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
  windowModelConfig,
  checkActivation,
  ACTIVATIONS,
  type Activation,
  type WindowModelConfig,
  type WindowModelOptions,
  type WindowModelInit,
} from "./model.js";
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
  logSoftmaxRows,
  checkDecoding,
  DECODINGS,
  type Decoding,
  type TransitionTable,
} from "./decode.js";
export {
  NerTagger,
  predictWindows,
  parseNerModelConfig,
  checksumOf,
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
} from "./tagger.js";
export {
  trainNer,
  resolveTrainingOptions,
  evaluateTagger,
  binaryScores,
  checkpointToBytes,
  checkpointFromBytes,
  fingerprintSentences,
  TrainingInterrupted,
  OPTIMIZERS,
  type OptimizerName,
  type LabelledSentence,
  type NerTrainingOptions,
  type ResolvedTrainingOptions,
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
  floatToHalf,
} from "./embedding-table.js";
