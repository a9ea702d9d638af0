import type { Tensor } from "../tensor/tensor.js";
import { gradNodeOf } from "../tensor/tensor.js";
import { Node } from "./node.js";
import { autogradState } from "./mode.js";
import { getOpTable } from "../ops/table.js";
import type { OpAttrs, OpName } from "../ops/types.js";
import { checkFiniteForward } from "./anomaly.js";
import { propagateTangents } from "./forward.js";

/**
 * Runs primitive `op` on `inputs` and, when grad mode is on and an input requires grad, records a graph node
 * so that backward can later apply the op's rule. This is the only place nodes are created. Inside `jvp`
 * it also computes the output's tangent (forward mode).
 */
export function apply<P extends OpName>(op: P, inputs: Tensor[], attrs: OpAttrs[P]): Tensor {
  const rule = getOpTable()[op];
  const output = rule.forward(inputs, attrs);
  if (autogradState.anomaly) checkFiniteForward(op, inputs, output);
  if (autogradState.gradEnabled && anyRequiresGrad(inputs) && !NON_DIFFERENTIABLE.has(op)) {
    const next = new Array<Node | null>(inputs.length);
    for (let i = 0; i < inputs.length; i++) next[i] = gradNodeOf(inputs[i]!);
    const node = new Node(op, attrs, inputs, next, null);
    node.output = output;
    if (autogradState.anomaly) node.stack = new Error().stack?.split("\n").slice(2).join("\n");
    output._node = node;
    output._requiresGrad = true;
  }
  // After recording: a jvp rule that reads the output must see it as part of the graph (grad of a jvp).
  if (autogradState.forwardDepth !== 0) propagateTangents(op, inputs, attrs, output);
  return output;
}

function anyRequiresGrad(inputs: readonly Tensor[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i]!._requiresGrad) return true;
  return false;
}

/** Ops whose output is piecewise constant in their inputs (gradient zero): never recorded. */
const NON_DIFFERENTIABLE: ReadonlySet<OpName> = new Set<OpName>([
  "sign",
  "greater",
  "greaterEqual",
  "less",
  "lessEqual",
  "equal",
]);
