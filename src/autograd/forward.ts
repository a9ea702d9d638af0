/**
 * Forward-mode automatic differentiation: tangents ride along with the values.
 *
 * Inside `jvp` a forward-mode *level* is open. A tensor carries at most one tangent per level (`_tangents`, a
 * short linked list); when an op runs while a level is open and one of its inputs carries a tangent of that
 * level, `apply` calls `propagateTangents`, which evaluates the op's `jvp` rule (the op's differential, with
 * the input tangents as dx) and attaches the result to the output. The rules are written with tensor ops, so
 * the tangent computation is itself recorded for reverse mode (gradients of jvps) and carries the tangents of
 * enclosing levels (jvp of jvp).
 *
 * Levels nest. Each gets a fresh id that is never reused, so a tensor that outlives its `jvp` keeps only
 * inert tangents. While a rule computes the tangent of level k, only the levels outside k are open: the
 * tangent's own tangents are those of the enclosing levels, never of k itself (no perturbation confusion).
 */
import { GradientError, GraphError } from "../errors.js";
import type { Tangent, Tensor } from "../tensor/tensor.js";
import { shapeToString, shapesEqual } from "../tensor/shape.js";
import { autogradState } from "../graph/mode.js";
import type { OpRule } from "../graph/rule.js";
import { broadcastTo } from "../ops/index.js";

export type { Tangent };

/** Ids of the open levels, outermost first. `autogradState.forwardDepth` says how many are active. */
const levels: number[] = [];
let nextLevel = 1;

/** Opens a forward-mode level and returns its id. Pair with {@link closeLevel} in a `finally`. */
export function openLevel(): number {
  const level = nextLevel++;
  levels.push(level);
  autogradState.forwardDepth = levels.length;
  autogradState.propagateTangents = propagateTangents;
  return level;
}

/** Closes the innermost level, which must be `level`. */
export function closeLevel(level: number): void {
  if (levels[levels.length - 1] !== level) {
    throw new GraphError(`jvp: forward-mode level ${level} closed out of order`);
  }
  levels.pop();
  autogradState.forwardDepth = levels.length;
}

/** The tangent `t` carries at `level`, or null (a zero tangent). */
export function tangentOf(t: Tensor, level: number): Tensor | null {
  for (let entry = t._tangents; entry !== null; entry = entry.next) {
    if (entry.level === level) return entry.value;
  }
  return null;
}

function withoutLevel(list: Tangent | null, level: number): Tangent | null {
  if (list === null) return null;
  if (list.level === level) return list.next;
  const rest = withoutLevel(list.next, level);
  return rest === list.next ? list : { level: list.level, value: list.value, next: rest };
}

/** Gives `t` the tangent `value` at `level` (replacing any it had there). */
export function setTangent(t: Tensor, level: number, value: Tensor): void {
  t._tangents = { level, value, next: withoutLevel(t._tangents, level) };
}

/** Removes the tangent of `level` from `t` (when a level closes, its outputs are handed back without it). */
export function dropTangent(t: Tensor, level: number): void {
  t._tangents = withoutLevel(t._tangents, level);
}

/**
 * Called by `apply` while a level is open: for each open level, outermost first, computes the output's
 * tangent from the inputs' tangents with the op's jvp rule. Outer levels go first because an inner level's
 * rule may read the output, whose outer tangents must then already be attached.
 */
export function propagateTangents(
  op: string,
  rule: OpRule<unknown>,
  inputs: readonly Tensor[],
  attrs: unknown,
  output: Tensor,
): void {
  const depth = autogradState.forwardDepth;
  for (let d = 0; d < depth; d++) {
    const level = levels[d]!;
    let tangents: (Tensor | null)[] | null = null;
    for (let i = 0; i < inputs.length; i++) {
      const tangent = tangentOf(inputs[i]!, level);
      if (tangent !== null) (tangents ??= new Array<Tensor | null>(inputs.length).fill(null))[i] = tangent;
    }
    if (tangents === null) continue;
    autogradState.forwardDepth = d;
    let tangent: Tensor | null;
    try {
      tangent = rule.jvp(tangents, { inputs, output, attrs });
      if (tangent !== null) tangent = fitTangent(op, tangent, output);
    } finally {
      autogradState.forwardDepth = depth;
    }
    if (tangent !== null) setTangent(output, level, tangent);
  }
}

/** Broadcasts a tangent to the output's shape (forward mode's counterpart of summing gradients back), checked. */
function fitTangent(op: string, tangent: Tensor, output: Tensor): Tensor {
  if (!shapesEqual(tangent.shape, output.shape)) {
    try {
      tangent = broadcastTo(tangent, output.shape);
    } catch {
      throw new GradientError(
        `${op}: the jvp rule returned a tangent of shape ${shapeToString(tangent.shape)} for an output of shape ` +
          shapeToString(output.shape),
      );
    }
  }
  if (tangent.dtype !== output.dtype) {
    throw new GradientError(
      `${op}: the jvp rule returned a ${tangent.dtype} tangent for a ${output.dtype} output`,
    );
  }
  return tangent;
}
