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

/**
 * Runs `fn` with anomaly detection: the first op whose forward output or backward gradient contains NaN or
 * Inf throws an {@link AnomalyError} naming the op, its input shapes and the stack where it was created.
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
