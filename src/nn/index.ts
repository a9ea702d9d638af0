/**
 * chainrule/nn: the building blocks to define, train and save networks — modules and layers, seeded
 * initialisers, losses, optimisers (with row-sparse embedding updates), learning-rate schedules, gradient
 * clipping and safetensors serialisation. Also available from the main entry as the namespace `nn`.
 *
 * Browser-safe: safetensors are read and written as bytes (`parse`, `serialize`). In Node, this entry point
 * resolves to `nn/node.ts`, which adds the file functions `save` and `load`.
 */
import { installTensorMethods } from "../autograd/tensor-methods.js";

// Tensor methods (t.add(u), t.backward(), …) sit above the tensor layer; attach them for this entry point.
installTensorMethods();
// Naming the type keeps the methods' declarations in this entry point's .d.ts, so `t.add(u)` type-checks.
export type { TensorMethods } from "../autograd/tensor-type.js";
export {
  Module,
  Sequential,
  type AnyModule,
  type TensorMap,
  type LoadStateDictOptions,
  type StateDictOptions,
} from "./module.js";
export {
  Linear,
  Embedding,
  Dropout,
  Tanh,
  Sigmoid,
  ReLU,
  HardTanh,
  Identity,
  type LinearOptions,
  type EmbeddingOptions,
  type DropoutOptions,
} from "./layers.js";
export * as init from "./init.js";
export type { Initializer, InitOptions, ScaledInitOptions } from "./init.js";
export {
  CrossEntropyLoss,
  BinaryCrossEntropyWithLogitsLoss,
  MSELoss,
  crossEntropy,
  binaryCrossEntropyWithLogits,
  mseLoss,
  type CrossEntropyOptions,
  type BinaryCrossEntropyOptions,
  type Reduction,
} from "./loss.js";
export {
  Optimizer,
  SGD,
  Adam,
  AdamW,
  AdaGrad,
  forEachSpan,
  type OptimizerOptions,
  type SGDOptions,
  type AdamOptions,
  type AdaGradOptions,
  type SparseMode,
  type OptimizerStepStats,
  type ParameterState,
  type ParameterUpdate,
  type FloatArray,
} from "./optim.js";
export { clipGradNorm, type ClipGradNormOptions } from "./clip.js";
export {
  LearningRateScheduler,
  constantSchedule,
  stepDecay,
  exponentialDecay,
  linearWarmup,
  linearDecay,
  cosineDecay,
  type Schedule,
} from "./schedule.js";
export {
  parse,
  serialize,
  serializeParts,
  MAX_HEADER_LENGTH,
  type ParseOptions,
  type SerializeOptions,
  type SafetensorsContent,
} from "./safetensors.js";
