/**
 * A plan: the ops one call of a function ran (its trace), turned into a fixed list of kernels over buffers
 * allocated once. Replaying it, each op the function calls returns its planned output tensor (the same object
 * every call, no graph node), and `backward` runs the planned gradient kernels and hands each parameter its
 * gradient. The gradient of every op is the vector–Jacobian product of its lowering (lowering.ts).
 */
import { CompileError } from "../errors.js";
import { getBackend } from "../backend/index.js";
import { autogradState } from "../graph/mode.js";
import { toSeed } from "../autograd/engine.js";
import { RowSparse } from "../tensor/sparse.js";
import { Tensor } from "../tensor/tensor.js";
import { allocate, type TypedArray } from "../tensor/dtype.js";
import { shapeToString, shapesEqual, sizeOf } from "../tensor/shape.js";
import { lowerings, type Lowering, type StepKernels, type StepView } from "./lowering.js";
import { fuse } from "./fuse.js";
import type { Trace } from "./trace.js";

/** A planned gradient flowing into a parameter, dense or row-sparse (an embedding lookup's). */
interface ParameterGradient {
  readonly value: number;
  /** For a row-sparse gradient, the gather step whose indices pick the rows; −1 when dense. */
  readonly gatherStep: number;
}

function attrsMatch(traced: unknown, live: unknown): boolean {
  if (traced === live) return true;
  if (traced === null || live === null || typeof traced !== "object" || typeof live !== "object")
    return false;
  const a = traced as Record<string, unknown>;
  const b = live as Record<string, unknown>;
  for (const key in a) {
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    if (ArrayBuffer.isView(x) && ArrayBuffer.isView(y)) {
      // Indices and targets change from call to call; their count is part of the plan.
      if ((x as TypedArray).length !== (y as TypedArray).length) return false;
    } else if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
    } else return false;
  }
  return true;
}

/** The plan of one trace, with its buffers; `apply` and `backward` replay it one call at a time. */
export class Plan {
  private readonly trace: Trace;
  /** By value: the planned output tensors, and the tensors bound from outside for the current call. */
  private readonly tensors: Tensor[];
  /** By value: the planned gradient buffers (null where no gradient flows). */
  private readonly grads: (Tensor | null)[];
  /** By step: the attributes of the current call. */
  private readonly attrs: unknown[];
  /** By step: the forward work when the step is reached (null when a fused kernel does it later). */
  private readonly forwards: ((() => void) | null)[];
  /** By step and input: whether this is the first use of a tensor from outside (which binds it). */
  private readonly binds: boolean[][];
  private readonly backwardKernels: (() => void)[];
  private readonly parameterGradients: ParameterGradient[];
  private readonly owned: Set<Tensor>;
  private cursor = 0;
  private backwardDone = false;

  private constructor(trace: Trace) {
    this.trace = trace;
    this.tensors = new Array<Tensor>(trace.values.length);
    this.grads = trace.values.map(() => null);
    this.attrs = trace.steps.map((step) => step.attrs);
    this.forwards = trace.steps.map(() => null);
    this.backwardKernels = [];
    this.parameterGradients = [];
    this.owned = new Set();
    const seen = new Set<number>();
    this.binds = trace.steps.map((step) =>
      step.inputs.map((v) => {
        if (trace.values[v]!.producer >= 0 || seen.has(v)) return false;
        seen.add(v);
        return true;
      }),
    );
  }

  /** Builds the plan of a trace, or returns why it cannot be compiled (the function then runs eagerly). */
  static build(trace: Trace): Plan | string {
    const plan = new Plan(trace);
    const reason = plan.lower();
    return reason ?? plan;
  }

  private lower(): string | null {
    const { values, steps } = this.trace;
    for (let v = 0; v < values.length; v++) {
      const value = values[v]!;
      if (value.producer >= 0) {
        this.tensors[v] = new Tensor(allocate(value.dtype, sizeOf(value.shape)), value.shape, value.dtype);
        this.owned.add(this.tensors[v]!);
      }
    }
    const kernels: StepKernels[] = [];
    for (let s = 0; s < steps.length; s++) {
      const step = steps[s]!;
      const lowering = lowerings.get(step.op) as Lowering | undefined;
      if (lowering === undefined) return `the op ${step.op} has no compiled kernel`;
      const built = lowering(this.view(s));
      if (typeof built === "string") return built;
      kernels.push(built);
      this.forwards[s] = built.forward;
    }
    const gradientReason = this.planBackward(kernels);
    if (gradientReason !== null) return gradientReason;
    fuse(this.trace, this.forwards, this.consumers(), (s) => this.view(s));
    return null;
  }

  /** For each value, the steps that read it. */
  private consumers(): number[][] {
    const out = this.trace.values.map((): number[] => []);
    this.trace.steps.forEach((step, s) => step.inputs.forEach((v) => out[v]!.push(s)));
    return out;
  }

  private view(s: number): StepView {
    const step = this.trace.steps[s]!;
    const { values } = this.trace;
    const tensors = this.tensors;
    const grads = this.grads;
    const attrs = this.attrs;
    const output = values[step.output]!;
    return {
      input: (j) => tensors[step.inputs[j]!]!,
      output: () => tensors[step.output]!,
      upstream: () => grads[step.output]!,
      attrs: () => attrs[s],
      tracedAttrs: step.attrs,
      inputShapes: step.inputs.map((v) => values[v]!.shape),
      outputShape: output.shape,
      dtype: output.dtype,
      scratch: (size) => allocate(output.dtype, size),
    };
  }

  /**
   * The backward pass as kernels, steps in reverse order: each step hands each input that leads to a
   * parameter its share of the gradient. The first share a value receives is written into its buffer, later
   * ones (fan-out) are added to it.
   */
  private planBackward(kernels: readonly StepKernels[]): string | null {
    const { values, steps, backward } = this.trace;
    if (backward === null) return null;
    const root = values[backward.root]!;
    if (root.producer < 0 || !steps[root.producer]!.recorded) {
      return "backward ran from a tensor the compiled ops did not compute";
    }
    // Which values lead to a parameter (their gradient is wanted).
    const wanted = values.map((value) => value.parameter);
    for (const step of steps) {
      if (step.recorded && step.inputs.some((v) => wanted[v])) wanted[step.output] = true;
    }
    const flows = values.map(() => false);
    flows[backward.root] = true;
    const written = values.map(() => false);
    const sparseParameters = new Map<number, number>();
    for (let s = steps.length - 1; s >= 0; s--) {
      const step = steps[s]!;
      if (!flows[step.output] || !step.recorded) continue;
      for (let j = 0; j < step.inputs.length; j++) {
        const v = step.inputs[j]!;
        if (!wanted[v]) continue;
        const value = values[v]!;
        if (value.producer < 0 && !value.parameter) continue;
        if (step.op === "gather" && value.parameter && (step.attrs as { sparse: boolean }).sparse) {
          if (flows[v]) return "a row-sparse gradient meets another gradient of the same parameter";
          sparseParameters.set(v, s);
          flows[v] = true;
          continue;
        }
        if (sparseParameters.has(v)) {
          return "a row-sparse gradient meets another gradient of the same parameter";
        }
        const contribution = kernels[s]!.backward?.(j) ?? null;
        if (contribution === null) return `the op ${step.op} has no compiled gradient for input ${j}`;
        flows[v] = true;
        const grad = this.gradientOf(v);
        if (!written[v]) {
          written[v] = true;
          this.backwardKernels.push(() => contribution(grad._data));
        } else {
          const share = allocate(value.dtype, grad.size);
          this.backwardKernels.push(() => {
            contribution(share);
            const data = grad._data;
            for (let i = 0; i < data.length; i++) data[i] = data[i]! + share[i]!;
          });
        }
      }
    }
    for (let v = 0; v < values.length; v++) {
      if (!values[v]!.parameter || !flows[v]) continue;
      this.parameterGradients.push({ value: v, gatherStep: sparseParameters.get(v) ?? -1 });
      if (!sparseParameters.has(v)) this.gradientOf(v);
    }
    for (const [, s] of sparseParameters) this.gradientOf(steps[s]!.output);
    this.gradientOf(backward.root);
    return null;
  }

  private gradientOf(v: number): Tensor {
    let grad = this.grads[v];
    if (grad === null || grad === undefined) {
      const value = this.trace.values[v]!;
      grad = new Tensor(allocate(value.dtype, sizeOf(value.shape)), value.shape, value.dtype);
      this.grads[v] = grad;
    }
    return grad;
  }

  /** Starts a call: ops are matched against the trace from its first step. */
  begin(): void {
    this.cursor = 0;
    this.backwardDone = false;
  }

  /** Whether the call has run its backward (ops after it run eagerly, outside the plan). */
  get afterBackward(): boolean {
    return this.backwardDone;
  }

  /** Whether `t` is one of the plan's own tensors (reused by every call). */
  owns(t: Tensor): boolean {
    return this.owned.has(t);
  }

  private diverged(what: string): CompileError {
    return new CompileError(
      `compile: this call ${what} (step ${this.cursor + 1} of ${this.trace.steps.length} traced ops); a ` +
        "compiled function must run the same ops on every call with the same argument shapes",
    );
  }

  /** The op `op` of the current call: checks it against the trace, runs its planned kernel, returns its output. */
  apply(op: string, inputs: readonly Tensor[], attrs: unknown): Tensor {
    const s = this.cursor;
    const { steps, values } = this.trace;
    const step = steps[s];
    if (step === undefined) throw this.diverged(`ran an op (${op}) after the last traced one`);
    if (step.op !== op || step.inputs.length !== inputs.length) {
      throw this.diverged(`ran ${op} where the trace has ${step.op}`);
    }
    if (step.gradEnabled !== autogradState.gradEnabled) throw this.diverged(`ran ${op} in another grad mode`);
    const binds = this.binds[s]!;
    for (let j = 0; j < inputs.length; j++) {
      const v = step.inputs[j]!;
      const t = inputs[j]!;
      if (binds[j]) {
        const value = values[v]!;
        if (t.dtype !== value.dtype || !shapesEqual(t.shape, value.shape)) {
          throw this.diverged(
            `gave ${op} a ${t.dtype} ${shapeToString(t.shape)} input where the trace has ${value.dtype} ${shapeToString(value.shape)}`,
          );
        }
        if ((t._requiresGrad && t._node === null) !== value.parameter) {
          throw this.diverged(
            `gave ${op} an input that ${value.parameter ? "does not require" : "requires"} grad`,
          );
        }
        this.tensors[v] = t;
      } else if (t !== this.tensors[v]) {
        throw this.diverged(`gave ${op} another tensor than the trace's as input ${j}`);
      }
    }
    if (!attrsMatch(step.attrs, attrs)) throw this.diverged(`called ${op} with other attributes`);
    this.attrs[s] = attrs;
    this.cursor = s + 1;
    this.forwards[s]?.();
    return this.tensors[step.output]!;
  }

  /** `output.backward(seed)` in the current call: runs the planned gradient kernels. */
  backward(output: Tensor, seed: unknown): void {
    const backward = this.trace.backward;
    if (backward === null || this.backwardDone || output !== this.tensors[backward.root]) {
      throw this.diverged("ran backward where the trace did not");
    }
    const rootGrad = this.grads[backward.root]!;
    if (seed === undefined) {
      if (rootGrad.size !== 1) throw this.diverged("ran backward without a seed on a tensor of many values");
      rootGrad._data[0] = 1;
    } else {
      rootGrad._data.set(toSeed(output, seed as Tensor)._data);
    }
    this.keepPreviousGradients();
    for (const kernel of this.backwardKernels) kernel();
    for (const { value, gatherStep } of this.parameterGradients) {
      const parameter = this.tensors[value]!;
      if (gatherStep < 0) giveDense(parameter, this.grads[value]!);
      else {
        const { indices } = this.attrs[gatherStep] as { indices: Int32Array };
        const rows = this.grads[this.trace.steps[gatherStep]!.output]!;
        giveSparse(parameter, new RowSparse(parameter.shape, indices, rows));
      }
    }
    this.backwardDone = true;
  }

  /**
   * A parameter still holding the plan's gradient tensor from the previous call (no `zeroGrad` in between)
   * gets a copy of it, since this call's kernels are about to overwrite that buffer.
   */
  private keepPreviousGradients(): void {
    for (const { value, gatherStep } of this.parameterGradients) {
      const parameter = this.tensors[value]!;
      const own = gatherStep < 0 ? this.grads[value]! : this.grads[this.trace.steps[gatherStep]!.output]!;
      if (parameter._grad === own) parameter._grad = copyOf(own);
      const sparse = parameter._sparseGrad;
      if (sparse !== null && sparse.values === own) {
        parameter._sparseGrad = new RowSparse(sparse.shape, sparse.indices.slice(), copyOf(own));
      }
    }
  }

  /** Checks, once the function returned, that the call ran every traced op and the traced backward. */
  finish(): void {
    if (this.cursor !== this.trace.steps.length) throw this.diverged("ended before the last traced op");
    if (this.trace.backward !== null && !this.backwardDone) throw this.diverged("ended without its backward");
  }
}

function copyOf(t: Tensor): Tensor {
  return new Tensor(t._data.slice(), t.shape, t.dtype);
}

/** A parameter receives a dense gradient: the plan's buffer itself when it has none, else added to it. */
function giveDense(parameter: Tensor, grad: Tensor): void {
  if (parameter._grad === null && parameter._sparseGrad === null) {
    parameter._grad = grad;
    return;
  }
  parameter._densifyGrad();
  const current = parameter._grad!;
  const sum = new Tensor(allocate(grad.dtype, grad.size), grad.shape, grad.dtype);
  getBackend().binary("add", current._data, current.shape, grad._data, grad.shape, sum._data, grad.shape);
  parameter._grad = sum;
}

/** A parameter receives a row-sparse gradient, as the backward engine hands it (kept sparse when it can be). */
function giveSparse(parameter: Tensor, grad: RowSparse): void {
  if (parameter._grad !== null) {
    giveDense(parameter, grad.toDense());
    return;
  }
  const current = parameter._sparseGrad;
  parameter._sparseGrad = current === null ? grad : current.concat(grad);
}
