import type { RowSparse, Tensor } from "../tensor/tensor.js";

/** What a backward rule sees: the op's inputs and output as saved by the forward pass. */
export interface BackwardContext<A> {
  /** The op's inputs, as they were in the forward pass. */
  readonly inputs: readonly Tensor[];
  /** The op's output, which some rules reuse (exp, tanh, softmax, …). */
  readonly output: Tensor;
  /** The op's attributes (an axis, the targets, …). */
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
  /** The op's inputs (primal values). */
  readonly inputs: readonly Tensor[];
  /** The op's output (primal value). */
  readonly output: Tensor;
  /** The op's attributes. */
  readonly attrs: A;
}

/** A node's operands as a trace labels them: `grouped` wraps an infix label in parentheses, `plain` does not. */
export interface LabelOperands {
  /** The operands' labels, an infix one wrapped in parentheses (for use inside an infix label: `(a + b) · c`). */
  readonly grouped: readonly string[];
  /** The operands' labels as they are (for use as function arguments: `max(a + b, c)`). */
  readonly plain: readonly string[];
}

/** How the backprop trace and the graph picture show an op (autograd/trace.ts, viz/dot.ts). */
export interface OpPresentation<A> {
  /**
   * The label of the op's output in terms of its operands' labels (`a + b`, `x²`, `max(a, b)`); by default
   * `op(x, y)`. Set `infix` when the label is an infix expression, which must be parenthesised as an operand.
   */
  label?(operands: LabelOperands, attrs: A): string;
  /** True when `label` gives an infix expression (`a + b`), so that it is parenthesised as an operand. */
  readonly infix?: boolean;
  /**
   * Each input's local Jacobian ∂output/∂input in the lecture's notation, given short symbols for the inputs
   * and which inputs were broadcast; shown when the Jacobian is too large to list.
   */
  jacobian(symbols: readonly string[], attrs: A, broadcast: readonly boolean[]): string[];
}

/**
 * Everything about a primitive, in one place: how to compute it, its derivative in both directions, whether
 * it is differentiable at all, and how traces show it. The op table (ops/) holds one per primitive; a recorded node keeps the rule of its op, so that
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
  /** How traces and graph pictures show the op. */
  readonly describe: OpPresentation<A>;
}

/** The attributes type of a rule. */
export type AttrsOf<R> = R extends OpRule<infer A> ? A : never;
