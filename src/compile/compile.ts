import { CompileError } from "../errors.js";
import { autogradState, type OpInterceptor } from "../graph/mode.js";
import { recordRule } from "../graph/apply.js";
import type { OpRule } from "../graph/rule.js";
import { freeNode, runBackward } from "../autograd/engine.js";
import { Tensor, type BackwardOptions, type NestedArray } from "../tensor/tensor.js";
import type { TypedArray } from "../tensor/dtype.js";
import { Plan } from "./plan.js";
import type { Trace, TraceStep, TraceValue } from "./trace.js";

/** Options of {@link compile}. */
export interface CompileOptions {
  /**
   * Called once per argument signature whose trace cannot be compiled, with the reason (an op without a
   * compiled kernel, say); calls with that signature then run the function eagerly.
   */
  onFallback?: (reason: string) => void;
}

/** How often a compiled function traced, replayed a plan, and ran eagerly. */
export interface CompileStats {
  /** Calls that traced the function (the first call of each argument signature). */
  traces: number;
  /** Calls that replayed a plan. */
  replays: number;
  /** Calls that ran eagerly because their signature fell back (or the call was nested in another). */
  eager: number;
}

/** A function compiled by {@link compile}: call it like the original. */
export interface CompiledFunction<Args extends unknown[], R> {
  (...args: Args): R;
  /** Why the last call's argument signature runs eagerly, or null when it runs a compiled plan. */
  readonly fallbackReason: string | null;
  /** Counts of traces, replays and eager calls so far. */
  readonly stats: Readonly<CompileStats>;
  /** Forgets every plan: the next call of each signature traces again. */
  reset(): void;
}

/** Records the ops of one eager call of the function: the trace a plan is built from. */
class Tracer implements OpInterceptor {
  readonly values: TraceValue[] = [];
  readonly steps: TraceStep[] = [];
  private readonly ids = new Map<Tensor, number>();
  backwardRoot: { root: number; seeded: boolean } | null = null;
  reason: string | null = null;
  private afterBackward = false;

  apply(op: string, rule: OpRule<unknown>, inputs: Tensor[], attrs: unknown): Tensor {
    const gradEnabled = autogradState.gradEnabled;
    const output = recordRule(op, rule, inputs, attrs);
    if (this.afterBackward || this.reason !== null) return output;
    const ids = inputs.map((t) => this.idOf(t));
    const value: TraceValue = {
      shape: output.shape,
      dtype: output.dtype,
      producer: this.steps.length,
      parameter: false,
    };
    const id = this.values.push(value) - 1;
    this.ids.set(output, id);
    this.steps.push({
      op,
      rule,
      attrs,
      inputs: ids,
      output: id,
      recorded: output._node !== null,
      gradEnabled,
    });
    return output;
  }

  private idOf(t: Tensor): number {
    let id = this.ids.get(t);
    if (id === undefined) {
      if (t._requiresGrad && t._node !== null) {
        this.reason ??= "an input was computed by recorded ops outside the compiled function";
      }
      const parameter = t._requiresGrad && t._node === null;
      id = this.values.push({ shape: t.shape, dtype: t.dtype, producer: -1, parameter }) - 1;
      this.ids.set(t, id);
    }
    return id;
  }

  backward(output: Tensor, seed: unknown, options: BackwardOptions): boolean {
    if (this.afterBackward) this.reason ??= "backward runs more than once in the compiled function";
    else if (options.createGraph === true) this.reason ??= "backward with createGraph runs eagerly";
    const root = this.ids.get(output);
    if (root === undefined)
      this.reason ??= "backward ran from a tensor computed outside the compiled function";
    else this.backwardRoot = { root, seeded: seed !== undefined };
    const first = !this.afterBackward;
    this.afterBackward = true;
    const previous = autogradState.interceptor;
    autogradState.interceptor = null;
    try {
      // The ops before the first backward are the whole trace: its plan is built now, and this call's ops and
      // backward run on it rather than on the eager graph. The eager pass's gradients (at a large batch, about
      // half of its memory) are then never allocated, and the plan's buffers are filled as by a replay.
      // A scalar's backward needs no seed: without one, a larger output is left to the eager engine's error.
      const seeds = seed !== undefined || output.size === 1;
      if (first && seeds && this.reason === null && this.planBackward(seed, options)) return true;
      runBackward(output, seed as Tensor | NestedArray | TypedArray | undefined, options);
    } finally {
      autogradState.interceptor = previous;
    }
    return true;
  }

  /** The plan built at the first backward (see `backward`), or why it could not be built; null before. */
  plan: Plan | string | null = null;

  /**
   * Builds the plan of the trace so far and runs the ops and the backward on it; false (nothing run) when it
   * cannot be built. The eager graph is then freed, as the eager backward frees it, unless `retainGraph`.
   */
  private planBackward(seed: unknown, options: BackwardOptions): boolean {
    const trace = this.finish();
    this.plan = typeof trace === "string" ? trace : Plan.build(trace);
    if (typeof this.plan === "string") return false;
    const outside = new Map<number, Tensor>();
    for (const [t, id] of this.ids) if (this.values[id]!.producer < 0) outside.set(id, t);
    this.plan.runTrace(outside, seed);
    if (options.retainGraph !== true) {
      for (const [t] of this.ids) if (t._node !== null) freeNode(t._node);
    }
    return true;
  }

  functionalGradient(): void {
    this.reason ??= "a functional gradient (grad, vjp, jacobian, …) inside the function runs eagerly";
  }

  /** The trace, or the reason it cannot be compiled. */
  finish(): Trace | string {
    if (this.reason !== null) return this.reason;
    for (const [t] of this.ids) {
      if (t._node?.hooks) return "a gradient hook is registered on a tensor inside the function";
    }
    return { values: this.values, steps: this.steps, backward: this.backwardRoot };
  }
}

/** Replays a plan: the interceptor of the calls after the first of a signature. */
class Replayer implements OpInterceptor {
  constructor(private readonly plan: Plan) {}

  apply(op: string, rule: OpRule<unknown>, inputs: Tensor[], attrs: unknown): Tensor {
    // After backward (gradient clipping, metrics), ops run eagerly, outside the plan.
    if (this.plan.afterBackward) return recordRule(op, rule, inputs, attrs);
    return this.plan.apply(op, inputs, attrs);
  }

  backward(output: Tensor, seed: unknown): boolean {
    this.plan.backward(output, seed);
    return true;
  }

  functionalGradient(): void {
    // Not reached: a trace with a functional gradient falls back before any replay.
  }
}

/** The part of a call's arguments a plan depends on: tensors' shapes and dtypes, arrays' lengths, numbers. */
function signatureOf(value: unknown): string {
  if (value instanceof Tensor) {
    return `${value.dtype}[${value.shape.join(",")}]${value._requiresGrad ? (value._node === null ? "g" : "n") : ""}`;
  }
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as TypedArray).length})`;
  if (Array.isArray(value)) return `[${value.map(signatureOf).join(";")}]`;
  if (value === null || typeof value !== "object") return `${typeof value}:${String(value)}`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${k}=${signatureOf(v)}`)
    .join(";")}}`;
}

/** Returned tensors that belong to the plan (overwritten by the next call) are handed out as copies. */
function detachOutputs(result: unknown, plan: Plan): unknown {
  if (result instanceof Tensor) {
    return plan.owns(result) ? new Tensor(result._data.slice(), result.shape, result.dtype) : result;
  }
  if (Array.isArray(result)) return result.map((r) => detachOutputs(r, plan));
  if (result !== null && typeof result === "object" && Object.getPrototypeOf(result) === Object.prototype) {
    return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, detachOutputs(v, plan)]));
  }
  return result;
}

function withInterceptor<T>(interceptor: OpInterceptor, fn: () => T): T {
  const previous = autogradState.interceptor;
  autogradState.interceptor = interceptor;
  try {
    return fn();
  } finally {
    autogradState.interceptor = previous;
  }
}

/**
 * Compiles a function of tensors — typically one training step: forward, `loss.backward()` and the
 * optimiser's `step()` — into a fixed plan, traced once per argument signature (the shapes and dtypes of its
 * tensor arguments, the lengths of its typed arrays, the values of its numbers).
 *
 * The first call of a signature runs eagerly while recording every op, until its `backward`: there the plan is
 * built, and the call's ops and backward run on it (the eager pass computes no gradients). Later calls replay
 * the plan: each op returns a tensor whose buffer was allocated once and is reused by every call (no per-op
 * allocation and no graph nodes), elementwise work is fused into the pass that produces it (an affine layer's
 * bias and activation into its matmul's output, the softmax cross-entropy's gradient into one kernel), and
 * `backward` runs the planned gradient kernels, leaving each parameter's gradient in `.grad` (or
 * `.sparseGrad`) as the eager engine does. Code that is not an op (an optimiser's `step()`, `loss.item()`) runs
 * as written, and ops after `backward` run eagerly. Results equal the eager path's (the window network's, to the bit).
 *
 * A function whose trace cannot be compiled (an op without a compiled kernel, a functional gradient, a
 * hook) runs eagerly for that signature; the reason is in `fallbackReason` and passed to `onFallback`.
 * A call that runs different ops than its trace throws a {@link CompileError}, and that signature runs
 * eagerly from then on.
 *
 * Tensors the function returns are copies; other intermediate tensors belong to the plan and are
 * overwritten by the next call.
 *
 * @example
 * ```ts
 * const model = new nn.Linear(4, 3);
 * const optimizer = new nn.SGD(model.parameters(), { lr: 0.1 });
 * const step = compile((x: Tensor, targets: Int32Array) => {
 *   const loss = crossEntropy(model.forward(x).tanh(), targets);
 *   optimizer.zeroGrad();
 *   loss.backward();
 *   optimizer.step();
 *   return loss;
 * });
 * const x = randn([8, 4]);
 * const targets = Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]);
 * step(x, targets); // traces
 * step(x, targets); // replays the plan
 * ```
 */
export function compile<Args extends unknown[], R>(
  fn: (...args: Args) => R,
  options: CompileOptions = {},
): CompiledFunction<Args, R> {
  const plans = new Map<string, Plan | string>();
  const stats: CompileStats = { traces: 0, replays: 0, eager: 0 };
  let fallbackReason: string | null = null;

  const fallBack = (key: string, reason: string): void => {
    plans.set(key, reason);
    fallbackReason = reason;
    options.onFallback?.(reason);
  };

  const compiled = (...args: Args): R => {
    if (autogradState.interceptor !== null || autogradState.anomaly || autogradState.forwardDepth !== 0) {
      // Inside another compiled function, under detectAnomaly or inside jvp: the ops run as they come.
      stats.eager++;
      return fn(...args);
    }
    const key = signatureOf(args);
    const entry = plans.get(key);
    if (entry === undefined) {
      stats.traces++;
      const tracer = new Tracer();
      const result = withInterceptor(tracer, () => fn(...args));
      const trace = tracer.finish();
      // The plan built at the backward, unless the rest of the call gave a reason not to compile it.
      const plan = typeof trace === "string" ? trace : tracer.plan !== null ? tracer.plan : Plan.build(trace);
      if (typeof plan === "string") fallBack(key, plan);
      else {
        plans.set(key, plan);
        fallbackReason = null;
      }
      return result;
    }
    if (typeof entry === "string") {
      fallbackReason = entry;
      stats.eager++;
      return fn(...args);
    }
    fallbackReason = null;
    stats.replays++;
    entry.begin();
    try {
      const result = withInterceptor(new Replayer(entry), () => fn(...args));
      entry.finish();
      return detachOutputs(result, entry) as R;
    } catch (error) {
      // A call that does not fit the plan: this signature runs eagerly from now on.
      if (error instanceof CompileError) fallBack(key, error.message);
      throw error;
    }
  };
  Object.defineProperties(compiled, {
    fallbackReason: { get: () => fallbackReason },
    stats: { get: () => ({ ...stats }) },
  });
  (compiled as { reset?: () => void }).reset = () => {
    plans.clear();
    fallbackReason = null;
  };
  return compiled as CompiledFunction<Args, R>;
}
