import type { DType } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import type { RowSparse } from "../tensor/sparse.js";

/** Loss reductions. */
export type Reduction = "mean" | "sum" | "none";

/**
 * Every primitive op and the attributes its forward and backward read. Adding a name here without a rule in
 * the op table (`table.ts`) is a compile error, and so is a rule without a backward.
 */
export interface OpAttrs {
  // elementwise unary
  neg: null;
  exp: null;
  log: null;
  sqrt: null;
  abs: null;
  sigmoid: null;
  tanh: null;
  relu: null;
  sin: null;
  cos: null;
  square: null;
  sign: null;
  clamp: { min: number; max: number };
  astype: { dtype: DType };
  // elementwise binary
  add: null;
  sub: null;
  mul: null;
  div: null;
  pow: null;
  maximum: null;
  minimum: null;
  greater: null;
  greaterEqual: null;
  less: null;
  lessEqual: null;
  equal: null;
  // reductions
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  min: { axes: number[]; keepDims: boolean };
  logSumExp: { axes: number[]; keepDims: boolean };
  // shape
  reshape: { shape: number[] };
  broadcastTo: { shape: number[] };
  transpose: { perm: number[] };
  slice: { begin: number[]; size: number[] };
  pad: { begin: number[]; shape: number[] };
  concat: { axis: number };
  gather: { axis: number; indices: Int32Array; sparse: boolean };
  scatterAdd: { axis: number; indices: Int32Array; shape: number[] };
  // linear algebra
  matmul: { transA: boolean; transB: boolean };
  inv: null;
  det: null;
  logdet: null;
  // neural-net functions
  softmax: { axis: number };
  logSoftmax: { axis: number };
  crossEntropy: {
    targets: Int32Array;
    weight: Float64Array | null;
    ignoreIndex: number;
    reduction: Reduction;
  };
  binaryCrossEntropyWithLogits: { reduction: Reduction; posWeight: number };
}

export type OpName = keyof OpAttrs;

/** What a backward rule sees: the op's inputs and output as saved by the forward pass. */
export interface BackwardContext<A> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: A;
  /** For each input, whether its gradient is wanted (rules skip the others). */
  readonly needsGrad: readonly boolean[];
  /** True when the backward pass is being recorded (gradients must then be dense tensors). */
  readonly createGraph: boolean;
}

/** A gradient returned by a rule: a tensor (of the input's shape, or broadcastable to it), row-sparse, or none. */
export type InputGrad = Tensor | RowSparse | null;

/** What a forward-mode (jvp) rule sees: the op's inputs, its output and its attributes. */
export interface JvpContext<A> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: A;
}

export interface OpRule<A> {
  /** Computes the output from the inputs (a kernel call); records nothing. */
  forward(inputs: readonly Tensor[], attrs: A): Tensor;
  /**
   * The vector–Jacobian product: given the upstream gradient ∂L/∂output, returns ∂L/∂input for each input,
   * written with tensor ops so that it can itself be recorded (grad of grad).
   */
  backward(upstream: Tensor, context: BackwardContext<A>): InputGrad[];
  /**
   * The Jacobian–vector product (forward mode): given a tangent for each input (null where an input has
   * none, i.e. a zero tangent), returns the output's tangent, or null when it is zero. Written with tensor
   * ops, so that it composes with reverse mode (a Hessian–vector product is a jvp of a grad). A tangent of a
   * broadcast operand's shape is broadcast to the output's shape centrally, like gradients are summed back.
   */
  jvp(tangents: readonly (Tensor | null)[], context: JvpContext<A>): Tensor | null;
}

export type OpTable = { [P in OpName]: OpRule<OpAttrs[P]> };
