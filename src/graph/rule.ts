import type { RowSparse, Tensor } from "../tensor/tensor.js";

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

/**
 * Everything the graph needs to know about a primitive: how to compute it, and its derivative in both
 * directions. The op table (ops/) holds one per primitive; a recorded node keeps the rule of its op, so that
 * the backward engine runs it without looking anything up.
 */
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
  /**
   * False for an op whose output is piecewise constant in its inputs (a comparison, `sign`): its gradient is
   * zero everywhere it exists, so it is never recorded. Default true.
   */
  readonly differentiable?: boolean;
}
