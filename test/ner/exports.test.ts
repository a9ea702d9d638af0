import { describe, expect, it } from "vitest";
import * as ner from "../../src/ner/index.js";
import * as nerNode from "../../src/ner/node.js";

// chainrule/ner's public surface, listed so that adding or removing a name is a decision made here. The helpers
// behind these (validators, float16 conversion, the streaming builders, conlleval's internals, …) are exported
// from their own files for the CLI and the tests, not from the entry point.
const PUBLIC = [
  "ACTIVATIONS",
  "CASING_CLASSES",
  "CompactCorpus",
  "ConllevalCounter",
  "DECODINGS",
  "DOCSTART",
  "MAX_MODEL_SIZE",
  "MODEL_CONFIG_FILE",
  "MODEL_WEIGHTS_FILE",
  "NER_MODEL_FORMAT",
  "NER_MODEL_VERSION",
  "NerTagger",
  "OPTIMIZERS",
  "OUTSIDE_TAG",
  "PredictionsFormatter",
  "SENTENCE_END",
  "SENTENCE_START",
  "SPECIAL_WORDS",
  "SchemeDetector",
  "TAG_SCHEMES",
  "TagSet",
  "TrainingInterrupted",
  "UNKNOWN_WORD",
  "Vocabulary",
  "WindowModel",
  "buildTokenWindows",
  "buildWindows",
  "casingOf",
  "checkFiniteWeights",
  "checkModelConfigSizes",
  "checkWeightsFitConfig",
  "checkpointFromBytes",
  "checkpointToBytes",
  "checkpointToParts",
  "conlleval",
  "convertTags",
  "copyWindowRows",
  "detectScheme",
  "embeddingTableFromSafetensors",
  "embeddingTableToSafetensors",
  "encodeEntities",
  "entityTypes",
  "evaluateCorpus",
  "evaluateTagger",
  "extractEntities",
  "forEachPrediction",
  "formatConll",
  "formatConllevalReport",
  "formatPredictions",
  "greedyDecode",
  "isTagScheme",
  "parseConll",
  "parseEmbeddings",
  "parseEmbeddingsForVocabulary",
  "parsePredictions",
  "selectWindows",
  "splitSentences",
  "splitTag",
  "tokenWindowSource",
  "tokenize",
  "tokenizeSentences",
  "trainNer",
  "transitionTable",
  "viterbiDecode",
  "windowMatrixSource",
  "windowTensors",
];
const NODE_ONLY = [
  "readCompactCorpus",
  "readConllFile",
  "readConllSentences",
  "readEmbeddingsFile",
  "readEmbeddingsForVocabulary",
  "readNerModelFiles",
  "readPredictionsFile",
  "saveNerModel",
  "writeFileAtomic",
  "writePredictionsFile",
];

describe("chainrule/ner's public surface", () => {
  it("is the listed names, without internal helpers", () => {
    expect(Object.keys(ner).sort()).toEqual(PUBLIC);
    for (const helper of [
      "floatToHalf",
      "compareCodePoints",
      "formatFixed2",
      "checksumOf",
      "predictWindows",
    ]) {
      expect(Object.keys(ner)).not.toContain(helper);
    }
  });

  it("in Node, adds only the file I/O", () => {
    expect(Object.keys(nerNode).sort()).toEqual([...PUBLIC, ...NODE_ONLY].sort());
  });
});
