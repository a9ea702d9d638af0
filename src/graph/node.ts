import type { RowSparse, Tensor } from "../tensor/tensor.js";
import type { OpRule } from "./rule.js";

/** A function called with the gradient flowing into a tensor; it may return a replacement. */
export type GradHook = (grad: Tensor) => Tensor | void | undefined;

let nextNodeId = 1;

/**
 * One vertex of the computation graph. An op node records which primitive produced a tensor, its rule, the
 * inputs its backward rule needs (freed after backward unless the graph is retained) and, per input, the edge
 * along which that input's gradient flows (`next`). A leaf node stands for a tensor created by the user with
 * `requiresGrad: true`; the engine accumulates its gradient into that tensor's `.grad`.
 */
export class Node {
  /** A number unique to this node in the process (creation order), used to tell nodes apart in traces. */
  readonly id: number;
  /** The primitive's name (a key of the op table), or "leaf". */
  readonly op: string;
  /** The op's attributes (an axis, a target list, …) as its rule reads them; null for a leaf. */
  readonly attrs: unknown;
  /** The op's rule (forward, backward, jvp): the engine runs `rule.backward`; null for a leaf. */
  readonly rule: OpRule<unknown> | null;
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
  /** Hooks registered with `registerHook`, called in order with the gradient arriving here; null when none. */
  hooks: GradHook[] | null = null;
  /** Where the op was called, recorded only under `detectAnomaly`. */
  stack: string | undefined = undefined;

  constructor(
    op: string,
    attrs: unknown,
    inputs: Tensor[] | null,
    next: (Node | null)[],
    leaf: Tensor | null,
    rule: OpRule<unknown> | null = null,
  ) {
    this.id = nextNodeId++;
    this.op = op;
    this.attrs = attrs;
    this.rule = rule;
    this.inputs = inputs;
    this.output = null;
    this.next = next;
    this.leaf = leaf;
  }

  /** Shapes of the inputs, for messages (empty once the graph is freed). */
  get inputShapes(): (readonly number[])[] {
    return this.inputs ? this.inputs.map((t) => t.shape) : [];
  }

  /**
   * True once backward has released the values this op node saved (the graph was not retained): running
   * backward through it again throws a `GraphError`.
   */
  get freed(): boolean {
    return this.op !== "leaf" && this.inputs === null;
  }
}

// A tensor refers to the node that produced it without the tensor layer importing this one: tensor.ts
// declares an (almost) empty `GraphNode` interface, completed here with the members of `Node`.
declare module "../tensor/tensor.js" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GraphNode extends Node {}
}

/** The accumulation node of a leaf tensor that requires grad, created on first use. */
export function leafNodeOf(t: Tensor): Node {
  let node = t._leafNode;
  if (node === null) {
    node = new Node("leaf", null, null, [], t);
    t._leafNode = node;
  }
  return node;
}

/** The node gradients of `t` flow into, or null when `t` does not require grad. */
export function gradNodeOf(t: Tensor): Node | null {
  if (!t._requiresGrad) return null;
  return t._node ?? leafNodeOf(t);
}
