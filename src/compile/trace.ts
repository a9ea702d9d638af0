/** What one traced call of a compiled function did, op by op: the input of the planner (plan.ts). */
import type { OpRule } from "../graph/rule.js";
import type { DType } from "../tensor/dtype.js";

/** A tensor of the trace: an op's output, or a tensor from outside (an argument, a parameter, a constant). */
export interface TraceValue {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** The step that produced it, or −1 for a tensor from outside. */
  readonly producer: number;
  /** From outside: whether it is a leaf that requires grad (a parameter), whose gradient the plan computes. */
  readonly parameter: boolean;
}

/** One op call of the trace. */
export interface TraceStep {
  readonly op: string;
  readonly rule: OpRule<unknown>;
  readonly attrs: unknown;
  readonly inputs: readonly number[];
  readonly output: number;
  /** Whether the op was recorded for backward (grad mode on and an input requiring grad). */
  readonly recorded: boolean;
  /** Grad mode when the op ran. */
  readonly gradEnabled: boolean;
}

/** What one call of a function did, op by op. */
export interface Trace {
  readonly values: readonly TraceValue[];
  readonly steps: readonly TraceStep[];
  /** The value backward ran from, and whether it was given a seed; null without a backward. */
  readonly backward: { readonly root: number; readonly seeded: boolean } | null;
}
