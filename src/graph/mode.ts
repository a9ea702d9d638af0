import type { BackwardOptions, Tensor } from "../tensor/tensor.js";
import type { OpRule } from "./rule.js";

/** Computes an op's output tangents from its inputs' (forward mode); see autograd/forward.ts. */
export type TangentPropagator = (
  op: string,
  rule: OpRule<unknown>,
  inputs: readonly Tensor[],
  attrs: unknown,
  output: Tensor,
) => void;

/**
 * Sees every op and every backward pass while a compiled function (compile/) traces or replays: `apply`
 * runs in place of `applyRule`'s body, `backward` in place of `tensor.backward` (it returns true when it ran
 * the pass itself), and `functionalGradient` is told of a functional gradient (`grad`, `vjp`, …).
 */
export interface OpInterceptor {
  apply(op: string, rule: OpRule<unknown>, inputs: Tensor[], attrs: unknown): Tensor;
  backward(output: Tensor, seed: unknown, options: BackwardOptions): boolean;
  functionalGradient(): void;
}

/** Global switches of the autograd engine: grad mode, anomaly mode and forward mode. */
export const autogradState = {
  /** When false, ops record nothing (inside `noGrad`, and while backward runs without `createGraph`). */
  gradEnabled: true,
  /** When true, every op checks its outputs and every backward step its gradients for NaN and infinity. */
  anomaly: false,
  /** Number of open forward-mode (jvp) levels whose tangents ops propagate; 0 outside `jvp`. */
  forwardDepth: 0,
  /**
   * What `apply` calls while a forward-mode level is open: set by `jvp` (autograd/forward.ts) when it opens
   * a level, so that this layer runs jvp rules without depending on the forward-mode machinery above it.
   */
  propagateTangents: null as TangentPropagator | null,
  /** Set while a compiled function traces or replays (see {@link OpInterceptor}); null otherwise. */
  interceptor: null as OpInterceptor | null,
  /**
   * While a backward rule runs: its upstream gradient when nothing but the backward engine holds that gradient's
   * array (no seed, hook, capture, leaf or other node sees it), so that the rule may write its result over it
   * instead of a new array; null otherwise (see `visit` in autograd/engine.ts).
   */
  overwritable: null as object | null,
};

/** Runs `fn` with recording switched off and returns its result: tensors it creates have no graph. */
export function noGrad<T>(fn: () => T): T {
  const previous = autogradState.gradEnabled;
  autogradState.gradEnabled = false;
  try {
    return fn();
  } finally {
    autogradState.gradEnabled = previous;
  }
}

/** Runs `fn` with recording switched on (for use inside `noGrad`). */
export function enableGrad<T>(fn: () => T): T {
  const previous = autogradState.gradEnabled;
  autogradState.gradEnabled = true;
  try {
    return fn();
  } finally {
    autogradState.gradEnabled = previous;
  }
}

/** Whether ops are being recorded for backward right now (false inside `noGrad`, true inside `enableGrad`). */
export function isGradEnabled(): boolean {
  return autogradState.gradEnabled;
}
