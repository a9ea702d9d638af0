import { AnomalyError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { shapeToString } from "../tensor/shape.js";
import { autogradState } from "./mode.js";
import type { Node } from "./node.js";

function firstNonFinite(t: Tensor): number {
  if (t.dtype === "int32") return -1;
  const data = t._data;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

function describeInputs(shapes: readonly (readonly number[])[]): string {
  return shapes.map(shapeToString).join(", ");
}

/** The node whose backward rule is running under anomaly mode (its ops' results are blamed on it). */
let backwardNode: Node | null = null;

/** Runs `fn`, the backward rule of `node`, so that a NaN or Inf computed inside it names `node`. */
export function inBackwardOf<T>(node: Node, fn: () => T): T {
  const previous = backwardNode;
  backwardNode = node;
  try {
    return fn();
  } finally {
    backwardNode = previous;
  }
}

/** Under anomaly mode: throws if an op's output holds NaN or ±Inf while its inputs were finite. */
export function checkFiniteForward(op: string, inputs: readonly Tensor[], output: Tensor): void {
  const bad = firstNonFinite(output);
  if (bad < 0) return;
  for (const input of inputs) if (firstNonFinite(input) >= 0) return; // not this op's fault
  if (backwardNode !== null) {
    const node = backwardNode;
    throw new AnomalyError(
      `detectAnomaly: the backward of ${node.op} (inputs ${describeInputs(node.inputShapes)}) produced ` +
        `${output._data[bad]} in a ${op} of its rule.\nThe ${node.op} was created at:\n${node.stack ?? "(unknown)"}`,
    );
  }
  const where = new Error().stack?.split("\n").slice(3).join("\n") ?? "";
  throw new AnomalyError(
    `detectAnomaly: ${op} produced ${output._data[bad]} at flat index ${bad} of its output ` +
      `(inputs ${describeInputs(inputs.map((t) => t.shape))}).\nCreated at:\n${where}`,
  );
}

/** Under anomaly mode: throws if a backward rule produced a NaN or ±Inf gradient. */
export function checkFiniteGradient(node: Node, inputIndex: number, grad: Tensor): void {
  const bad = firstNonFinite(grad);
  if (bad < 0) return;
  throw new AnomalyError(
    `detectAnomaly: the backward of ${node.op} produced ${grad._data[bad]} in the gradient of input ${inputIndex} ` +
      `(inputs ${describeInputs(node.inputShapes)}).\nThe ${node.op} was created at:\n${node.stack ?? "(unknown)"}`,
  );
}

/** The tensor a node stands for in the forward pass: an op's output or a leaf. */
function valueOf(node: Node): Tensor | null {
  return node.leaf ?? node.output;
}

/**
 * Under anomaly mode, before backward: throws if an output backward starts from holds NaN or ±Inf, even when
 * every gradient would be finite (a non-finite input makes a NaN loss, which the forward check lets pass since
 * the op that carried it did not make it). The message names where the non-finite value entered the graph:
 * the first op (in forward order) whose output is not finite, and its input that was already not finite.
 * `order` is the graph behind `roots`, children before parents.
 */
export function checkFiniteRoots(roots: readonly Node[], order: readonly Node[]): void {
  let root: Node | null = null;
  let bad = -1;
  for (const candidate of roots) {
    const value = valueOf(candidate);
    bad = value === null ? -1 : firstNonFinite(value);
    if (bad >= 0) {
      root = candidate;
      break;
    }
  }
  if (root === null) return;
  const rootValue = valueOf(root)!;
  const start =
    `detectAnomaly: backward was called on an output holding ${rootValue._data[bad]} ` +
    `(flat index ${bad} of a ${shapeToString(rootValue.shape)} tensor)`;
  if (root.leaf !== null) {
    throw new AnomalyError(`${start}: the output is itself a leaf tensor (created with requiresGrad).`);
  }
  // The first op in forward order whose output is not finite: its op-node inputs come before it, so they are
  // finite, and a non-finite input of its is a leaf or a constant, the place where the value entered.
  for (const node of order) {
    if (node.leaf !== null || node.output === null || firstNonFinite(node.output) < 0) continue;
    const inputs = node.inputs ?? [];
    const culprit = inputs.findIndex((input) => firstNonFinite(input) >= 0);
    let source = `${node.op} (inputs ${describeInputs(node.inputShapes)}) made it from finite inputs`;
    if (culprit >= 0) {
      const input = inputs[culprit]!;
      const at = firstNonFinite(input);
      const kind = input._requiresGrad ? "a leaf tensor" : "a tensor that does not require grad";
      source =
        `it entered the graph as input ${culprit} of ${node.op} (inputs ${describeInputs(node.inputShapes)}), ` +
        `${kind} which holds ${input._data[at]} at flat index ${at}`;
    }
    throw new AnomalyError(
      `${start}: ${source}.\nThe ${node.op} was created at:\n${node.stack ?? "(unknown)"}`,
    );
  }
  throw new AnomalyError(`${start}.`);
}

/**
 * Runs `fn` with anomaly detection: the first op whose forward output or backward gradient contains NaN or
 * Inf throws an {@link AnomalyError} naming the op, its input shapes and the stack where it was created. A
 * backward started from a non-finite output (a NaN loss made from a non-finite input, say) throws as well,
 * naming where the non-finite value entered the graph, even if every gradient would be finite.
 * Slower than normal mode; meant for debugging.
 */
export function detectAnomaly<T>(fn: () => T): T {
  const previous = autogradState.anomaly;
  autogradState.anomaly = true;
  try {
    return fn();
  } finally {
    autogradState.anomaly = previous;
  }
}
