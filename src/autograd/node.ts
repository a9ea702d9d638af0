import type { Tensor } from "../tensor/tensor.js";
import type { RowSparse } from "../tensor/sparse.js";
import type { OpName } from "../ops/types.js";

/** A function called with the gradient flowing into a tensor; it may return a replacement. */
export type GradHook = (grad: Tensor) => Tensor | void | undefined;

let nextNodeId = 1;

/**
 * One vertex of the computation graph. An op node records which primitive produced a tensor, the inputs its
 * backward rule needs (freed after backward unless the graph is retained) and, per input, the edge along which
 * that input's gradient flows (`next`). A leaf node stands for a tensor created by the user with
 * `requiresGrad: true`; the engine accumulates its gradient into that tensor's `.grad`.
 */
export class Node {
  readonly id: number;
  readonly op: OpName | "leaf";
  readonly attrs: unknown;
  /** The tensors the backward rule reads (the op's inputs); null once freed. */
  inputs: Tensor[] | null;
  /** The op's output, which some rules read (exp, tanh, softmax, …); null once freed. */
  output: Tensor | null;
  /** For each input, the node its gradient flows to, or null if that input needs no gradient. */
  readonly next: (Node | null)[];
  /** The leaf tensor of a leaf node. */
  readonly leaf: Tensor | null;
  /** Gradient accumulated while backward runs (fan-out sums here). */
  pending: Tensor | RowSparse | null = null;
  /** Topological-sort visit mark. */
  mark = 0;
  hooks: GradHook[] | null = null;
  /** Where the op was called, recorded only under `detectAnomaly`. */
  stack: string | undefined = undefined;

  constructor(
    op: OpName | "leaf",
    attrs: unknown,
    inputs: Tensor[] | null,
    next: (Node | null)[],
    leaf: Tensor | null,
  ) {
    this.id = nextNodeId++;
    this.op = op;
    this.attrs = attrs;
    this.inputs = inputs;
    this.output = null;
    this.next = next;
    this.leaf = leaf;
  }

  /** Shapes of the inputs, for messages (empty once the graph is freed). */
  get inputShapes(): (readonly number[])[] {
    return this.inputs ? this.inputs.map((t) => t.shape) : [];
  }

  get freed(): boolean {
    return this.op !== "leaf" && this.inputs === null;
  }
}
