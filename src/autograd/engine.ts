import { GradientError, GraphError, ShapeError, ValueError } from "../errors.js";
import { gradNodeOf } from "../graph/node.js";
import { RowSparse, Tensor, type BackwardOptions, type NestedArray } from "../tensor/tensor.js";
import { shapeToString, shapesEqual } from "../tensor/shape.js";
import type { TypedArray } from "../tensor/dtype.js";
import type { GradHook, Node } from "../graph/node.js";
import { autogradState } from "../graph/mode.js";
import type { InputGrad } from "../graph/rule.js";
import { checkFiniteGradient, checkFiniteRoots, inBackwardOf } from "../graph/anomaly.js";
import { add, astype, sumToShape } from "../ops/index.js";
import { tensor } from "../tensor/creation.js";

/** One backward step as the engine took it, reported to `onStep` (used by the backprop trace). */
export interface BackwardStep {
  /** The graph node whose backward rule ran. */
  node: Node;
  /** ∂L/∂(this node's output), after hooks. */
  upstream: Tensor;
  /** ∂L/∂input for each input (null where none flows), already summed back to the input's shape. */
  downstream: (Tensor | null)[];
}

export interface EngineOptions {
  retainGraph: boolean;
  createGraph: boolean;
  /** Accumulate into the `.grad` of leaves (ordinary backward) or leave every `.grad` untouched. */
  accumulate: boolean;
  /** Nodes whose incoming gradient is wanted (functional transforms); their gradient is returned. */
  capture?: readonly Node[];
  onStep?: (step: BackwardStep) => void;
  /** Called when a leaf receives a gradient contribution (with the contribution). */
  onLeaf?: (node: Node, grad: Tensor) => void;
}

let epoch = 0;

/**
 * Nodes reachable from `roots`, children before parents (reverse it for backward). Iterative depth-first
 * search with a visit mark on each node, so there is no recursion limit and no Set per call.
 */
export function topologicalSort(roots: readonly Node[]): Node[] {
  const mark = ++epoch;
  const order: Node[] = [];
  const stack: Node[] = [];
  const cursor: number[] = [];
  for (const root of roots) {
    if (root.mark === mark) continue;
    root.mark = mark;
    stack.push(root);
    cursor.push(0);
    while (stack.length > 0) {
      const top = stack.length - 1;
      const node = stack[top]!;
      const i = cursor[top]!;
      if (i < node.next.length) {
        cursor[top] = i + 1;
        const child = node.next[i];
        if (child && child.mark !== mark) {
          child.mark = mark;
          stack.push(child);
          cursor.push(0);
        }
      } else {
        stack.pop();
        cursor.pop();
        order.push(node);
      }
    }
  }
  return order;
}

/** Checks a backward seed against `output` (1 when omitted for a one-element output) and converts it. */
export function toSeed(output: Tensor, seed: Tensor | NestedArray | TypedArray | undefined): Tensor {
  if (seed === undefined) {
    if (output.size !== 1) {
      throw new GraphError(
        `backward: the output has shape ${shapeToString(output.shape)}; only a one-element output can be ` +
          `seeded implicitly with 1. Pass a seed of shape ${shapeToString(output.shape)} (the upstream gradient).`,
      );
    }
    return tensor(1, { dtype: output.dtype, shape: output.shape as number[] });
  }
  let t = seed instanceof Tensor ? seed : tensor(seed as NestedArray, { dtype: output.dtype });
  if (
    !shapesEqual(t.shape, output.shape) &&
    t.size === output.size &&
    t.ndim <= 1 &&
    !(seed instanceof Tensor)
  ) {
    t = tensor(t.data, { dtype: output.dtype, shape: output.shape as number[] });
  }
  if (!shapesEqual(t.shape, output.shape)) {
    throw new ShapeError(
      `backward: the seed has shape ${shapeToString(t.shape)} but the output has shape ${shapeToString(output.shape)}`,
    );
  }
  if (t.dtype !== output.dtype) t = astype(t.detach(), output.dtype);
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!))
      throw new ValueError(`backward: the seed holds a non-finite value (${data[i]}) at index ${i}`);
  }
  return t;
}

/** `tensor.backward(seed, options)`: accumulates ∂output/∂leaf into every leaf's `.grad`. */
export function runBackward(
  output: Tensor,
  seed: Tensor | NestedArray | TypedArray | undefined,
  options: BackwardOptions,
): void {
  // A compiled function runs (or records) the backward pass of its plan itself.
  const interceptor = autogradState.interceptor;
  if (interceptor !== null && interceptor.backward(output, seed, options)) return;
  const root = gradNodeOf(output);
  if (root === null) {
    throw new GraphError(
      "backward: the tensor does not require grad; create its inputs with { requiresGrad: true } (and not inside noGrad)",
    );
  }
  const seedTensor = toSeed(output, seed);
  const createGraph = options.createGraph ?? false;
  runEngine([root], [seedTensor], {
    // A recorded backward refers to the forward graph, so it is kept by default (as in PyTorch).
    retainGraph: options.retainGraph ?? createGraph,
    createGraph,
    accumulate: true,
  });
}

/**
 * The backward pass over the graph behind `roots`, seeded with `seeds`. Like micrograd's `backward()`: sort
 * the nodes topologically, then visit them in reverse order, each handing its gradient on to its inputs.
 * Returns the gradient that reached each node of `options.capture` (null where none did).
 */
export function runEngine(
  roots: readonly Node[],
  seeds: readonly Tensor[],
  options: EngineOptions,
): (Tensor | null)[] {
  autogradState.interceptor?.functionalGradient();
  const walk = new BackwardWalk(roots, options.capture ?? []);
  walk.checkNotFreed();
  const shared: SharedArrays = new WeakSet();
  for (const seed of seeds) shared.add(seed._data);
  if (autogradState.anomaly) checkFiniteRoots(roots, walk.all);
  const previousMode = autogradState.gradEnabled;
  autogradState.gradEnabled = options.createGraph;
  let finished = false;
  try {
    for (let r = 0; r < roots.length; r++) accumulatePending(roots[r], seeds[r]);
    for (let o = walk.order.length - 1; o >= 0; o--) visit(walk.order[o]!, walk, options, shared);
    finished = true;
  } finally {
    autogradState.gradEnabled = previousMode;
    // Gradients left waiting (after an error midway, or on nodes beyond the captured ones) must not leak
    // into a later backward through the same nodes (leaves are shared by every backward).
    if (!finished || walk.isPartial) for (const node of walk.all) node.pending = null;
  }
  return walk.captured;
}

/**
 * The buffers of one backward pass that a leaf must not take as its `.grad` without copying: buffers that
 * something else may also hold — the seeds, whatever a hook saw or returned, a gradient a rule handed on that is
 * its upstream gradient or one of the node's saved tensors (add hands its upstream to both inputs), a buffer a
 * rule returned twice, and a buffer a leaf already took. A gradient in none of them is one a rule computed
 * afresh for that input alone, and its leaf takes it as it is (saving a copy of every weight's gradient per
 * step). Arrays, not tensors: a reshape's gradient is another tensor over the same array (the library's views
 * share their array; none is a `subarray`). Only what is found shared is recorded (nothing per node otherwise,
 * and no `.buffer`, which V8 must materialise for a small array), in a weak set, so that the pass keeps alive
 * nothing the nodes free.
 */
type SharedArrays = WeakSet<TypedArray>;

/**
 * One node's turn: the upstream gradient that reached it (summed over its consumers) goes through its hooks,
 * then into a leaf's `.grad`, or through its rule to give each input its downstream gradient.
 */
function visit(node: Node, walk: BackwardWalk, options: EngineOptions, shared: SharedArrays): void {
  const pending = node.pending;
  node.pending = null;
  if (pending === null) {
    release(node, options); // no gradient flows through this node
    return;
  }
  if (pending instanceof RowSparse && node.leaf !== null && keepsSparse(node, walk, options)) {
    // A row-sparse gradient reaches its leaf (an embedding table) without ever being made dense.
    if (options.accumulate) accumulateSparseLeaf(node.leaf, pending);
    return;
  }
  let upstream = pending instanceof RowSparse ? pending.toDense() : pending;
  if (node.hooks !== null) {
    shared.add(upstream._data);
    upstream = runHooks(node.hooks, upstream);
    shared.add(upstream._data);
  }
  if (walk.isCaptured(node)) shared.add(upstream._data); // the caller receives it
  if (walk.capture(node, upstream)) return; // a captured node with nothing captured below it
  if (node.leaf !== null) {
    reachLeaf(node, node.leaf, upstream, options, shared);
    return;
  }
  // The rule may write over its upstream gradient when the engine alone holds its array: not a seed, not seen
  // by a hook or a capture (all in `shared`), not recorded for a higher-order backward, not reported to onStep.
  const overwritable = !options.createGraph && options.onStep === undefined && !shared.has(upstream._data);
  const downstream = backwardStep(node, upstream, options.createGraph, overwritable);
  markShared(node, upstream, downstream, shared);
  if (options.onStep) {
    const reported = downstream.map(densify);
    options.onStep({ node, upstream, downstream: reported });
    for (const g of reported) if (g !== null) shared.add(g._data); // the callback may keep them
  }
  for (let i = 0; i < downstream.length; i++) {
    const g = downstream[i];
    const target = node.next[i];
    if (g && target) accumulatePending(target, g);
  }
  release(node, options);
}

/**
 * The nodes one backward pass visits (children before parents) and, for functional gradients, the captured
 * nodes with the gradient that reached each.
 */
class BackwardWalk {
  /** Every node reachable from the roots. */
  readonly all: Node[];
  /** The nodes visited: all of them, or only those on a path to a captured node. */
  readonly order: Node[];
  /** The gradient that reached each captured node (null until one does). */
  readonly captured: (Tensor | null)[];
  private readonly targets: readonly Node[];
  private readonly needed: Set<Node> | null;

  constructor(roots: readonly Node[], targets: readonly Node[]) {
    this.all = topologicalSort(roots);
    this.targets = targets;
    this.captured = targets.map(() => null);
    // With captured nodes (functional gradients), only the nodes on a path to one of them run: the graph
    // beyond them (an enclosing computation's) is neither walked nor freed, and its hooks do not fire.
    const needed = targets.length > 0 ? pathsTo(this.all, targets) : null;
    this.needed = needed;
    this.order = needed === null ? this.all : this.all.filter((node) => needed.has(node));
  }

  /** True when some reachable nodes are not visited (they lie beyond the captured ones). */
  get isPartial(): boolean {
    return this.order !== this.all;
  }

  isCaptured(node: Node): boolean {
    return this.targets.length > 0 && this.targets.includes(node);
  }

  /** True for a captured node whose own rule does not run, because no other captured node lies below it. */
  endsAt(node: Node): boolean {
    return this.needed !== null && this.isCaptured(node) && !leadsFurther(node, this.needed);
  }

  /** Keeps the gradient reaching `node` if it is captured; true when the walk ends there. */
  capture(node: Node, upstream: Tensor): boolean {
    const c = this.targets.length === 0 ? -1 : this.targets.indexOf(node);
    if (c < 0) return false;
    this.captured[c] = upstream;
    return this.endsAt(node);
  }

  /** Throws if a node whose rule must run has had its saved tensors freed by an earlier backward. */
  checkNotFreed(): void {
    for (const node of this.order) {
      if (node.freed && !this.endsAt(node)) {
        throw new GraphError(
          `backward: the graph through ${node.op} has already been freed by an earlier backward; ` +
            "pass { retainGraph: true } to the first backward to run backward through it again",
        );
      }
    }
  }
}

/** A row-sparse gradient stays sparse on its way into a leaf unless something must see it as a tensor. */
function keepsSparse(node: Node, walk: BackwardWalk, options: EngineOptions): boolean {
  return node.hooks === null && !walk.isCaptured(node) && !options.onLeaf;
}

/** A leaf receives its gradient: reported to `onLeaf`, and added to `.grad` in an ordinary backward. */
function reachLeaf(
  node: Node,
  leaf: Tensor,
  upstream: Tensor,
  options: EngineOptions,
  shared: SharedArrays,
): void {
  if (options.onLeaf) {
    options.onLeaf(node, upstream);
    shared.add(upstream._data); // the callback may keep it
  }
  if (options.accumulate) accumulateLeaf(leaf, upstream, options.createGraph, shared);
}

/**
 * Records the gradients a rule returned that are not its own fresh result (see SharedArrays): its upstream
 * gradient or a tensor the node saved, handed on as it is or as a view, and a buffer returned for two inputs.
 */
function markShared(
  node: Node,
  upstream: Tensor,
  downstream: readonly InputGrad[],
  shared: SharedArrays,
): void {
  for (let i = 0; i < downstream.length; i++) {
    const g = downstream[i];
    if (!(g instanceof Tensor)) continue;
    const array = g._data;
    let held = array === upstream._data || array === node.output?._data;
    for (let j = 0; !held && node.inputs !== null && j < node.inputs.length; j++) {
      held = array === node.inputs[j]!._data;
    }
    for (let j = 0; !held && j < i; j++) {
      const h = downstream[j];
      held = h instanceof Tensor && h._data === array;
    }
    if (held) shared.add(array);
  }
}

/** After its turn a node drops the tensors it saved for backward, unless the graph is to be kept. */
function release(node: Node, options: EngineOptions): void {
  if (!options.retainGraph) freeNode(node);
}

/** Whether a node of `needed` lies directly below `node`. */
function leadsFurther(node: Node, needed: ReadonlySet<Node>): boolean {
  return node.next.some((child) => child !== null && needed.has(child));
}

/** The nodes of `order` (children first) from which a node of `targets` can be reached (targets included). */
function pathsTo(order: readonly Node[], targets: readonly Node[]): Set<Node> {
  const reaches = new Set<Node>(targets);
  for (const node of order) {
    for (let i = 0; i < node.next.length && !reaches.has(node); i++) {
      const child = node.next[i];
      if (child && reaches.has(child)) reaches.add(node);
    }
  }
  return reaches;
}

function densify(g: InputGrad): Tensor | null {
  return g instanceof RowSparse ? g.toDense() : g;
}

/**
 * Drops the tensors a node saved for backward (not a leaf's), as a backward without `retainGraph` does after
 * the node's turn; a later backward through it then throws. A compiled function's first call frees its eager
 * graph with it after running the backward on its plan.
 */
export function freeNode(node: Node): void {
  if (node.leaf === null) {
    node.inputs = null;
    node.output = null;
  }
}

/** Runs one node's rule: ∂L/∂input for each input that needs one, brought back to the input's shape. */
function backwardStep(node: Node, upstream: Tensor, createGraph: boolean, overwritable = false): InputGrad[] {
  const { op, inputs, output, rule, next } = node;
  if (inputs === null || output === null || rule === null) {
    throw new GraphError(`backward: the ${op} node has no saved inputs or rule to run`);
  }
  const needsGrad = new Array<boolean>(next.length);
  for (let i = 0; i < next.length; i++) needsGrad[i] = next[i] !== null;
  const context = { inputs, output, attrs: node.attrs, needsGrad, createGraph };
  let grads: InputGrad[];
  autogradState.overwritable = overwritable ? upstream : null;
  try {
    // Under anomaly mode, a NaN or Inf made by the ops inside the rule is blamed on this node.
    grads = autogradState.anomaly
      ? inBackwardOf(node, () => rule.backward(upstream, context))
      : rule.backward(upstream, context);
  } finally {
    autogradState.overwritable = null;
  }
  if (grads.length !== inputs.length) {
    throw new GradientError(
      `${op}: the backward rule returned ${grads.length} gradients for ${inputs.length} inputs`,
    );
  }
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i];
    grads[i] = g === null || !needsGrad[i] ? null : fitGradient(node, i, g, inputs[i]);
  }
  return grads;
}

/**
 * Brings the gradient a rule returned for input `i` to the input's shape, undoing broadcasting (here, in one
 * place, for every op), and checks its shape and dtype.
 */
function fitGradient(node: Node, i: number, g: Tensor | RowSparse, input: Tensor): Tensor | RowSparse {
  const op = node.op;
  if (g instanceof RowSparse) {
    if (!shapesEqual(g.shape, input.shape) || g.dtype !== input.dtype) {
      throw new GradientError(
        `${op}: row-sparse gradient of shape ${shapeToString(g.shape)} for input ${i} of shape ${shapeToString(input.shape)}`,
      );
    }
    return g;
  }
  if (!shapesEqual(g.shape, input.shape)) g = sumToShape(g, input.shape, op);
  if (g.dtype !== input.dtype) {
    throw new GradientError(
      `${op}: the gradient for input ${i} has dtype ${g.dtype} but the input is ${input.dtype}`,
    );
  }
  if (autogradState.anomaly) checkFiniteGradient(node, i, g);
  return g;
}

/** Runs the hooks registered on a node on its gradient; each may return a replacement (checked). */
function runHooks(hooks: readonly GradHook[], grad: Tensor): Tensor {
  for (const hook of hooks.slice()) {
    const replaced = hook(grad);
    if (replaced === undefined || replaced === null) continue;
    if (!(replaced instanceof Tensor))
      throw new GradientError("registerHook: a hook must return a Tensor or nothing");
    if (!shapesEqual(replaced.shape, grad.shape) || replaced.dtype !== grad.dtype) {
      throw new GradientError(
        `registerHook: the hook returned a gradient of shape ${shapeToString(replaced.shape)} (${replaced.dtype}) ` +
          `for a tensor of shape ${shapeToString(grad.shape)} (${grad.dtype})`,
      );
    }
    grad = replaced;
  }
  return grad;
}

/** Fan-out: gradients arriving at a node from several consumers are summed. */
function accumulatePending(node: Node, g: Tensor | RowSparse): void {
  const current = node.pending;
  if (current === null) {
    node.pending = g;
    return;
  }
  if (current instanceof RowSparse && g instanceof RowSparse) {
    node.pending = current.concat(g);
    return;
  }
  const a = current instanceof RowSparse ? current.toDense() : current;
  const b = g instanceof RowSparse ? g.toDense() : g;
  node.pending = add(a, b);
}

/** Adds a row-sparse gradient to a leaf: kept sparse unless the leaf already has a dense gradient. */
function accumulateSparseLeaf(leaf: Tensor, g: RowSparse): void {
  if (leaf._grad !== null) leaf._grad = add(leaf._grad, g.toDense());
  else leaf._sparseGrad = leaf._sparseGrad === null ? g : leaf._sparseGrad.concat(g);
}

/**
 * Adds a dense gradient to a leaf's `.grad` (a row-sparse gradient it holds is made dense first). A leaf
 * without one takes the gradient as it is when it is part of a recorded graph or no one else holds its buffer
 * (see SharedArrays), and a copy otherwise.
 */
function accumulateLeaf(leaf: Tensor, g: Tensor, createGraph: boolean, shared: SharedArrays): void {
  leaf._densifyGrad();
  if (leaf._grad === null) {
    const array = g._data;
    if (createGraph || !shared.has(array)) leaf._grad = g;
    else leaf._grad = new Tensor(g._data.slice(), g.shape, g.dtype);
    shared.add(array);
  } else {
    leaf._grad = add(leaf._grad, g);
  }
}

/** Options of {@link gradients}. */
export interface GradientsOptions {
  /** Upstream gradients for the outputs (default: 1 for each one-element output). */
  seeds?: readonly (Tensor | undefined)[];
  /** Keep the graph's saved values, so that backward can run through it again (default: `createGraph`). */
  retainGraph?: boolean;
  /** Record the backward pass, so that the returned gradients can be differentiated again (Hessians). */
  createGraph?: boolean;
}

/**
 * ∂(outputs)/∂(inputs) contracted with the seeds, without touching any `.grad`: the functional core that
 * `grad`, `vjp`, `jacobian` and `gradcheck` build on. An input the outputs do not depend on gets zeros.
 */
export function gradients(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  options: GradientsOptions = {},
): Tensor[] {
  const roots: Node[] = [];
  const seeds: Tensor[] = [];
  outputs.forEach((output, i) => {
    const node = gradNodeOf(output);
    if (node === null) return; // a constant output contributes nothing
    roots.push(node);
    seeds.push(toSeed(output, options.seeds?.[i]));
  });
  const capture = inputs.map((input, i) => {
    const node = gradNodeOf(input);
    if (node === null) {
      throw new GraphError(
        `gradients: input ${i} (shape ${shapeToString(input.shape)}) does not require grad`,
      );
    }
    return node;
  });
  const createGraph = options.createGraph ?? false;
  const captured =
    roots.length === 0
      ? capture.map(() => null)
      : runEngine(roots, seeds, {
          retainGraph: options.retainGraph ?? createGraph,
          createGraph,
          accumulate: false,
          capture,
        });
  return captured.map((g, i) => g ?? zerosOf(inputs[i]!));
}

function zerosOf(t: Tensor): Tensor {
  return tensor(new Array<number>(t.size).fill(0), { dtype: t.dtype, shape: t.shape as number[] });
}
