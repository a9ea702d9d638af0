import type { Tensor } from "../tensor/tensor.js";
import { Node, gradNodeOf } from "./node.js";
import { autogradState } from "./mode.js";
import { checkFiniteForward } from "./anomaly.js";
import type { OpRule } from "./rule.js";

/**
 * Runs primitive `op` (its `rule`) on `inputs` and, when grad mode is on and an input requires grad, records a
 * graph node holding the rule, so that backward can later run it. This is the only place op nodes are
 * created. Inside `jvp` it also computes the output's tangent (forward mode).
 */
export function applyRule<A>(op: string, rule: OpRule<A>, inputs: Tensor[], attrs: A): Tensor {
  const interceptor = autogradState.interceptor;
  if (interceptor !== null) return interceptor.apply(op, rule as OpRule<unknown>, inputs, attrs);
  return recordRule(op, rule, inputs, attrs);
}

/** `applyRule` without the interceptor of a compiled function: runs the rule and records its node. */
export function recordRule<A>(op: string, rule: OpRule<A>, inputs: Tensor[], attrs: A): Tensor {
  const output = rule.forward(inputs, attrs);
  if (autogradState.anomaly) checkFiniteForward(op, inputs, output);
  if (autogradState.gradEnabled && rule.differentiable !== false && anyRequiresGrad(inputs)) {
    const next = new Array<Node | null>(inputs.length);
    for (let i = 0; i < inputs.length; i++) next[i] = gradNodeOf(inputs[i]!);
    const node = new Node(op, attrs, inputs, next, null, rule as OpRule<unknown>);
    node.output = output;
    if (autogradState.anomaly) node.stack = new Error().stack?.split("\n").slice(2).join("\n");
    output._node = node;
    output._requiresGrad = true;
  }
  // After recording: a jvp rule that reads the output must see it as part of the graph (grad of a jvp).
  const propagate = autogradState.propagateTangents;
  if (autogradState.forwardDepth !== 0 && propagate !== null) {
    propagate(op, rule as OpRule<unknown>, inputs, attrs, output);
  }
  return output;
}

function anyRequiresGrad(inputs: readonly Tensor[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i]!._requiresGrad) return true;
  return false;
}
