/**
 * chainrule: neural-network gradients by hand and by backpropagation.
 *
 * Tensors with reverse-mode autograd, the op table, the gradient checker, and (re-exported below) every
 * public function. See README.md for a tour.
 */
import { installTensorMethods } from "./autograd/tensor-methods.js";

// Tensor methods (t.add(u), t.backward(), …) sit above the tensor layer; attach them for this entry point.
installTensorMethods();
// Naming the type keeps the methods' declarations in this entry point's .d.ts, so `t.add(u)` type-checks.
export type { TensorMethods } from "./autograd/tensor-type.js";
export {
  Tensor,
  type NestedArray,
  type BackwardOptions,
  type HookHandle,
  type Axis,
} from "./tensor/tensor.js";
export type { DType, FloatDType, TypedArray } from "./tensor/dtype.js";
export type { Shape } from "./tensor/shape.js";
export {
  tensor,
  zeros,
  ones,
  full,
  arange,
  linspace,
  eye,
  rand,
  randn,
  zerosLike,
  onesLike,
  type TensorOptions,
  type CreationOptions,
} from "./tensor/creation.js";
export { seed, Random, globalRandom } from "./tensor/random.js";
export { RowSparse } from "./tensor/sparse.js";
export {
  ChainruleError,
  ShapeError,
  DTypeError,
  ValueError,
  GraphError,
  GradientError,
  AnomalyError,
  CompileError,
  ParseError,
  FormatError,
} from "./errors.js";

export {
  neg,
  exp,
  log,
  sqrt,
  abs,
  sigmoid,
  tanh,
  relu,
  sin,
  cos,
  square,
  sign,
  clamp,
  hardtanh,
  astype,
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  greater,
  greaterEqual,
  less,
  lessEqual,
  equal,
  sum,
  mean,
  max,
  min,
  logSumExp,
  argmax,
  matmul,
  inv,
  det,
  logdet,
  transpose,
  reshape,
  squeeze,
  unsqueeze,
  broadcastTo,
  sumToShape,
  concat,
  stack,
  slice,
  pad,
  gather,
  scatterAdd,
  softmax,
  logSoftmax,
  crossEntropy,
  binaryCrossEntropyWithLogits,
  mseLoss,
  type MatmulOptions,
  type GatherOptions,
  type CrossEntropyOptions,
  type BinaryCrossEntropyOptions,
  type Reduction,
  type OpName,
} from "./ops/index.js";
export { getOpTable, type OpTable, type OpAttrs } from "./ops/table.js";
export type { ElementwiseRule } from "./ops/elementwise.js";
export type {
  OpRule,
  OpPresentation,
  BackwardContext,
  JvpContext,
  InputGrad,
  LabelOperands,
  AttrsOf,
} from "./graph/rule.js";

export { noGrad, enableGrad, isGradEnabled } from "./autograd/mode.js";
export { detectAnomaly } from "./autograd/anomaly.js";
export { gradients, topologicalSort, type GradientsOptions, type BackwardStep } from "./autograd/engine.js";
export { Node, type GradHook } from "./autograd/node.js";
export {
  gradcheck,
  type GradcheckOptions,
  type GradcheckReport,
  type GradcheckInputReport,
} from "./autograd/gradcheck.js";
export { zeroGrad } from "./autograd/zero-grad.js";
export {
  grad,
  valueAndGrad,
  vjp,
  jvp,
  jacobian,
  hessian,
  type TensorLike,
  type TensorFunction,
  type ArgnumsOptions,
  type JacobianOptions,
} from "./autograd/transforms.js";
export {
  traceBackward,
  describeGraph,
  LOCAL_JACOBIAN_LIMIT,
  type BackpropTrace,
  type TraceNode,
  type TraceStep,
  type TraceFanOut,
  type LocalGradient,
} from "./autograd/trace.js";
export { compile, type CompileOptions, type CompiledFunction, type CompileStats } from "./compile/index.js";
export { toDot, type DotOptions } from "./viz/dot.js";
export {
  derive,
  checkDerivation,
  parseExpression,
  expressionVariables,
  parseSymbolicShape,
  expressionToText,
  expressionToLatex,
  EXPRESSION_FUNCTIONS,
  type Derivation,
  type DerivationData,
  type DerivationStep,
  type StepLine,
  type DeriveOptions,
  type DerivativeKind,
  type DerivativeResult,
  type Definition,
  type ShapeDeclarationInput,
  type ParsedExpression,
  type SyntaxNode,
  type SymbolicShape,
  type ShapeSpec,
  type Dim,
  type CheckOptions,
  type CheckReport,
  type VariableValue,
  type VariableValues,
  type Expr,
  traceExpression,
  type ExpressionTrace,
  type TraceExpressionOptions,
  type TracePiece,
  type TraceValue,
} from "./calculus/index.js";

export {
  getBackend,
  setBackend,
  registerBackend,
  listBackends,
  jsBackend,
  wasmBackend,
  wasmThresholds,
  initWasm,
  setThreads,
  getThreads,
  wasmKernelBuild,
  type ActivationKernel,
  type Backend,
} from "./backend/index.js";
export { VERSION } from "./version.js";
export * as nn from "./nn/index.js";
export * as ner from "./ner/index.js";
export { NerTagger } from "./ner/tagger.js";
