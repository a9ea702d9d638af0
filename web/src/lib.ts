/**
 * Everything the playground takes from chainrule, in one place. The library runs in the page itself: the
 * public API comes from its browser entry points (`chainrule`, `chainrule/nn`, `chainrule/ner`), and the
 * calculus front end that turns text fields into a shaped expression from its own browser-safe modules.
 */
export {
  tensor,
  Random,
  ChainruleError,
  ParseError,
  noGrad,
  traceBackward,
  traceExpression,
  type ExpressionTrace,
  initWasm,
  getBackend,
  parseExpression,
  expressionVariables,
  derive,
  checkDerivation,
  NerTagger,
  type Tensor,
  type NestedArray,
  type BackpropTrace,
  type TraceNode,
  type TraceStep,
  type Derivation,
  type CheckReport,
} from "../../src/index.js";
export { parse as parseSafetensors, serialize as serializeSafetensors } from "../../src/nn/index.js";
export {
  parseConll,
  embeddingTableFromSafetensors,
  checkpointFromBytes,
  checkpointToBytes,
  trainNer,
  buildWindows,
  CASING_CLASSES,
  NER_MODEL_FORMAT,
  MODEL_CONFIG_FILE,
  MODEL_WEIGHTS_FILE,
  type TaggedText,
  type EpochRecord,
  type BatchProgress,
  type NerTrainingOptions,
} from "../../src/ner/index.js";
export {
  parseSymbolicShape,
  parseAssignments,
  parseValueAssignments,
  nodeFormula,
  type SymbolicShape,
} from "../../src/calculus/index.js";
export { TRAINING_OPTIONS, defaultOption, optionHelp, parseOptionText } from "../../src/ner/train/options.js";
export { buildFeatureWindows } from "../../src/ner/char-features.js";
export { DEMO_OPTIONS } from "../../src/cli/commands/ner/demo-options.js";
