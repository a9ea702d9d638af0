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
import { allocate, type DType, type TypedArray } from "../tensor/dtype.js";
import { shapeToString, shapesEqual, sizeOf } from "../tensor/shape.js";
import { lowerings, type Lowering, type StepKernels, type StepView, type Workspace } from "./lowering.js";
import { fuse, fusedChains } from "./fuse.js";
import { Arena } from "./arena.js";
import type { Trace } from "./trace.js";

/** One share of a value's gradient in the backward pass. */
interface GradientShare {
  /** The value receiving it. */
  readonly value: number;
  /** The value whose gradient the kernel reads (the output of the step that computes the share). */
  readonly upstream: number;
  /** Whether it is added to earlier shares (fan-out) rather than written. */
  readonly accumulate: boolean;
  /** Whether the share is the upstream gradient itself, value for value (see StepKernels.identity). */
  readonly identity: boolean;
  /** Whether the share's kernel may write over its upstream gradient (see StepKernels.inPlace). */
  readonly inPlace: boolean;
  readonly contribution: (out: TypedArray) => void;
}

/** A planned gradient flowing into a parameter, dense or row-sparse (an embedding lookup's). */
interface ParameterGradient {
  readonly value: number;
  /** For a row-sparse gradient, the gather step whose indices pick the rows; −1 when dense. */
  readonly gatherStep: number;
  /**
   * For a row-sparse gradient, where the plan coalesces it (see coalesceRows): the distinct rows, each
   * position's slot among them, the summed rows, and a mark per row of the table; null when dense.
   */
  readonly coalesced: { unique: Int32Array; slot: Int32Array; values: TypedArray; mark: Int32Array } | null;
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
  /** Where the plan's buffers live: WebAssembly memory of its own, or null for JavaScript arrays. */
  private readonly arena: Arena | null;
  /** By value: the planned output tensors, and the tensors bound from outside for the current call. */
  private readonly tensors: Tensor[];
  /** By value: what the kernels read (the tensor, or the arena's copy of a tensor from outside). */
  private readonly reads: Tensor[];
  /** By value from outside: its copy in the arena, made when it is bound, for kernels that run in place. */
  private readonly mirrors: (Tensor | null)[];
  /** The products' packing and scratch space in the arena (one area: products run one at a time). */
  private readonly workspace: Workspace = { at: 0, bytes: 0 };
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
  /**
   * Whether the last backward kernel may be left running while the row-sparse gradients are coalesced (see
   * `backward`): it writes a dense parameter's gradient, which nothing reads before the parameters receive
   * them, and it is its value's only share (not one added to others through a shared area).
   */
  private deferLast = false;
  private readonly owned: Set<Tensor>;
  private cursor = 0;
  private backwardDone = false;

  private constructor(trace: Trace, arena: Arena | null) {
    this.trace = trace;
    this.arena = arena;
    this.tensors = new Array<Tensor>(trace.values.length);
    this.reads = new Array<Tensor>(trace.values.length);
    this.mirrors = trace.values.map(() => null);
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

  /**
   * Builds the plan of a trace, or returns why it cannot be compiled (the function then runs eagerly). On the
   * wasm backend the plan is built twice: once with a counting arena, which gives the bytes its buffers take,
   * then for real in an arena of exactly that size.
   */
  static build(trace: Trace): Plan | string {
    const counting = Arena.counting();
    if (counting !== null) {
      const probe = new Plan(trace, counting);
      const reason = probe.lower();
      if (reason !== null) return reason;
      const arena = Arena.create(counting.used, counting.hasSplittableProduct);
      if (arena !== null) {
        const plan = new Plan(trace, arena);
        return plan.lower() ?? plan;
      }
    }
    const plan = new Plan(trace, null);
    return plan.lower() ?? plan;
  }

  /** A zeroed buffer: in the arena, or a JavaScript array without one. */
  private buffer(dtype: DType, size: number): TypedArray {
    return this.arena !== null ? this.arena.allocate(dtype, size) : allocate(dtype, size);
  }

  private lower(): string | null {
    const { values, steps } = this.trace;
    const consumers = this.consumers();
    const chains = fusedChains(this.trace, consumers);
    // Values that share another's storage: a reshape's output its input's (when computed here), and the
    // intermediates of a fused chain (never written) its result's.
    const storageOf = values.map((_, v) => v);
    for (const chain of chains) {
      for (const s of chain.steps) storageOf[steps[s]!.output] = steps[chain.last]!.output;
    }
    for (const step of steps) {
      const input = step.inputs[0]!;
      if (step.op === "reshape" && values[input]!.producer >= 0) storageOf[step.output] = storageOf[input]!;
    }
    for (let v = 0; v < values.length; v++) {
      const value = values[v]!;
      if (value.producer < 0 || storageOf[v] !== v) continue;
      this.tensors[v] = new Tensor(this.buffer(value.dtype, sizeOf(value.shape)), value.shape, value.dtype);
    }
    for (let v = 0; v < values.length; v++) {
      const value = values[v]!;
      if (value.producer < 0) continue;
      let target = storageOf[v]!;
      while (storageOf[target] !== target) target = storageOf[target]!;
      if (target !== v) {
        const data = this.tensors[target]!._data;
        this.tensors[v] = new Tensor(data.subarray(0, sizeOf(value.shape)), value.shape, value.dtype);
        this.arena?.keep(this.tensors[v]!._data);
      }
      this.owned.add(this.tensors[v]!);
      this.reads[v] = this.tensors[v]!;
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
    fuse(this.trace, chains, this.forwards, (s) => this.view(s));
    if (this.arena !== null && this.workspace.bytes > 0) {
      this.workspace.at = this.arena.reserve(this.workspace.bytes);
    }
    return null;
  }

  /**
   * Whether value v's data will be in the arena during a call (kernels may then run on it in place): a value
   * computed here is, and a tensor from outside gets a copy in the arena, refreshed each time it is bound
   * (a parameter already in memory the arena's kernels reach is read where it is instead; see `apply`).
   */
  private makeResident(v: number): boolean {
    if (this.arena === null) return false;
    const value = this.trace.values[v]!;
    if (value.producer >= 0) return true;
    this.mirrors[v] ??= new Tensor(this.buffer(value.dtype, sizeOf(value.shape)), value.shape, value.dtype);
    return true;
  }

  /** Whether the plan runs a backward pass (a training step's) rather than only a forward one. */
  private get trains(): boolean {
    return this.trace.backward !== null;
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
    const reads = this.reads;
    const grads = this.grads;
    const attrs = this.attrs;
    const output = values[step.output]!;
    const workspace = this.workspace;
    return {
      input: (j) => reads[step.inputs[j]!]!,
      output: () => tensors[step.output]!,
      upstream: () => grads[step.output]!,
      attrs: () => attrs[s],
      tracedAttrs: step.attrs,
      inputShapes: step.inputs.map((v) => values[v]!.shape),
      outputShape: output.shape,
      dtype: output.dtype,
      scratch: (size, dtype) => this.buffer(dtype ?? output.dtype, size),
      arena: this.arena,
      resident: (j) => this.makeResident(step.inputs[j]!),
      isParameter: (j) => values[step.inputs[j]!]!.parameter,
      trains: this.trains,
      workspace: (bytes) => {
        workspace.bytes = Math.max(workspace.bytes, bytes);
        return workspace;
      },
    };
  }

  /**
   * The backward pass as kernels, steps in reverse order: each step hands each input that leads to a
   * parameter its share of the gradient. The first share a value receives is written into its buffer, later
   * ones (fan-out) are added to it. Gradient buffers of intermediate values are shared by values whose
   * gradients are never needed at the same time (see assignGradients).
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
    const schedule: GradientShare[] = [];
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
        const identity = kernels[s]!.identity?.(j) === true;
        const inPlace = kernels[s]!.inPlace?.(j) === true;
        const accumulate = written[v]!;
        schedule.push({ value: v, upstream: step.output, accumulate, identity, inPlace, contribution });
        written[v] = true;
      }
    }
    // Gradients that outlive the backward pass: the parameters' (handed to them), the row-sparse rows, the seed.
    const kept = new Set<number>([backward.root]);
    for (let v = 0; v < values.length; v++) {
      if (!values[v]!.parameter || !flows[v]) continue;
      const gatherStep = sparseParameters.get(v) ?? -1;
      let coalesced: ParameterGradient["coalesced"] = null;
      if (gatherStep >= 0) {
        const rows = values[steps[gatherStep]!.output]!;
        const n = (steps[gatherStep]!.attrs as { indices: Int32Array }).indices.length;
        coalesced = {
          unique: this.buffer("int32", n) as Int32Array,
          slot: this.buffer("int32", n) as Int32Array,
          values: this.buffer(rows.dtype, sizeOf(rows.shape)),
          mark: new Int32Array(values[v]!.shape[0]!).fill(-1),
        };
      }
      this.parameterGradients.push({ value: v, gatherStep, coalesced });
      if (!sparseParameters.has(v)) kept.add(v);
    }
    for (const [, s] of sparseParameters) kept.add(steps[s]!.output);
    const shared = this.assignGradients(schedule, kept);
    const shares = new Map<DType, TypedArray>();
    for (const entry of schedule) {
      const { value, contribution, accumulate } = entry;
      // A gradient that shares its upstream's buffer already holds its values.
      if (shared.has(entry)) continue;
      const grad = this.grads[value]!;
      this.deferLast = !accumulate && values[value]!.parameter && !sparseParameters.has(value);
      if (!accumulate) {
        this.backwardKernels.push(() => contribution(grad._data));
        continue;
      }
      // One area per dtype for the later shares of fan-out, each added to the gradient once written.
      let area = shares.get(grad.dtype);
      if (area === undefined || area.length < grad.size) {
        const largest = Math.max(
          ...schedule.filter((c) => c.accumulate).map((c) => this.grads[c.value]!.size),
        );
        area = this.buffer(grad.dtype, largest);
        shares.set(grad.dtype, area);
      }
      const share = area.subarray(0, grad.size);
      this.backwardKernels.push(() => {
        contribution(share);
        const data = grad._data;
        for (let i = 0; i < data.length; i++) data[i] = data[i]! + share[i]!;
      });
    }
    return null;
  }

  /**
   * A gradient buffer for every value of the schedule. Kept ones get their own; the others live from the
   * first share they receive to the last kernel that reads them as its upstream, and a buffer freed before a
   * gradient's life starts is reused for it (the smallest free one of its dtype that is large enough).
   *
   * A value whose only share is an identity one (a reshape's input, an unbroadcast sum's terms) shares its
   * upstream's buffer instead of receiving a copy: both are complete by then (every share of the upstream
   * comes before the kernel that reads it) and only read from then on. A value whose first share is written
   * in place (an elementwise derivative's) takes its upstream's buffer too, where that share is the upstream's
   * only reader and no kept gradient lives there. Such values form groups with one buffer, living as long as
   * the longest-lived of them, or a kept member's own (at most one kept member, never written over).
   * Returns the identity shares that need no kernel.
   */
  private assignGradients(schedule: readonly GradientShare[], kept: ReadonlySet<number>): Set<GradientShare> {
    const { values } = this.trace;
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    const count = new Map<number, number>();
    const readers = new Map<number, number>();
    schedule.forEach(({ value, upstream }, i) => {
      if (!first.has(value)) first.set(value, i);
      last.set(upstream, i);
      count.set(value, (count.get(value) ?? 0) + 1);
      readers.set(upstream, (readers.get(upstream) ?? 0) + 1);
    });
    // Groups of values with one buffer: each member to the group's first value (its head), and the group's
    // kept member, if it has one. Shares come in order, so a share's upstream is grouped before its value.
    const headOf = new Map<number, number>();
    const membersOf = new Map<number, number[]>();
    const keeperOf = new Map<number, number>();
    const shared = new Set<GradientShare>();
    const join = (v: number, head: number): void => {
      headOf.set(v, head);
      membersOf.set(head, [...(membersOf.get(head) ?? [head]), v]);
    };
    for (let i = 0; i < schedule.length; i++) {
      const share = schedule[i]!;
      const { value: v, upstream: u } = share;
      if (share.accumulate || !(share.identity || share.inPlace)) continue;
      if (values[u]!.dtype !== values[v]!.dtype || sizeOf(values[u]!.shape) !== sizeOf(values[v]!.shape))
        continue;
      const head = headOf.get(u) ?? u;
      const keeper = keeperOf.get(head) ?? (kept.has(head) ? head : -1);
      if (!share.identity) {
        // Written over its upstream, so only where no other gradient in that buffer is still to be read (a
        // sibling's: the two inputs of a sum share its upstream's buffer); later shares of v are added there.
        if (readers.get(u) !== 1 || keeper >= 0 || kept.has(v)) continue;
        const members = membersOf.get(head) ?? [head];
        if (members.some((m) => m !== u && (last.get(m) ?? -1) > i)) continue;
        join(v, head);
        continue;
      }
      if (count.get(v) !== 1 || (kept.has(v) && keeper >= 0)) continue;
      join(v, head);
      if (kept.has(v)) keeperOf.set(head, v);
      else if (keeper >= 0) keeperOf.set(head, keeper);
      shared.add(share);
    }
    const end = new Map<number, number>();
    for (const [v, start] of first) {
      const head = headOf.get(v) ?? v;
      end.set(head, Math.max(end.get(head) ?? -1, last.get(v) ?? start));
    }
    for (const v of kept) this.gradientOf(v);
    const ending: { end: number; dtype: DType; data: TypedArray }[] = [];
    const free: { dtype: DType; data: TypedArray }[] = [];
    for (const [v, start] of first) {
      if (this.grads[v] !== null) continue;
      const value = values[v]!;
      const size = sizeOf(value.shape);
      const head = headOf.get(v) ?? v;
      const owner = keeperOf.get(head) ?? head;
      if (owner !== v) {
        // The group's buffer exists: the keeper's, or the head's (whose first share came earlier).
        this.grads[v] = new Tensor(this.grads[owner]!._data.subarray(0, size), value.shape, value.dtype);
        continue;
      }
      for (let k = ending.length - 1; k >= 0; k--) {
        if (ending[k]!.end < start) free.push(...ending.splice(k, 1));
      }
      let best = -1;
      free.forEach((block, k) => {
        if (block.dtype !== value.dtype || block.data.length < size) return;
        if (best < 0 || block.data.length < free[best]!.data.length) best = k;
      });
      const block =
        best >= 0 ? free.splice(best, 1)[0]! : { dtype: value.dtype, data: this.buffer(value.dtype, size) };
      ending.push({ ...block, end: end.get(v)! });
      this.grads[v] = new Tensor(block.data.subarray(0, size), value.shape, value.dtype);
    }
    return shared;
  }

  private gradientOf(v: number): Tensor {
    let grad = this.grads[v];
    if (grad === null || grad === undefined) {
      const value = this.trace.values[v]!;
      grad = new Tensor(this.buffer(value.dtype, sizeOf(value.shape)), value.shape, value.dtype);
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
        const mirror = this.mirrors[v];
        if (mirror === null) this.reads[v] = t;
        else {
          this.reads[v] = mirror;
          if (t._data !== mirror._data) {
            const whole = t._data.length === mirror.size && t._data.constructor === mirror._data.constructor;
            if (value.parameter && whole && this.arena!.readsInPlace(t._data)) {
              // Already where the kernels reach it (another plan's region of the shared memory): read in
              // place, and left there, so that plans of several signatures take turns without copies.
              this.reads[v] = t;
            } else {
              mirror._data.set(t._data.length === mirror.size ? t._data : t._data.subarray(0, mirror.size));
              // A parameter moves into the arena: the optimiser then updates it there, and nothing is copied.
              // Not for a plan without backward (an evaluation's): it would only take it from a training plan.
              if (value.parameter && whole && this.trains) t._data = mirror._data;
            }
          }
        }
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
    const kernels = this.backwardKernels;
    const last = kernels.length - 1;
    for (let i = 0; i < last; i++) kernels[i]!();
    // The last kernel, when it is a dense parameter's share and a product that splits, is left running on the
    // workers while this thread coalesces the row-sparse gradients, which neither read its output nor write its
    // operands (see `deferLast`); the dense gradients are handed over once it is done.
    const pool = this.deferLast ? (this.arena?.pool ?? null) : null;
    try {
      if (last >= 0) {
        pool?.deferNextProduct();
        try {
          kernels[last]!();
        } finally {
          pool?.cancelDeferral();
        }
      }
      for (const { value, gatherStep, coalesced } of this.parameterGradients) {
        if (coalesced === null) continue;
        // Coalesced here, into the plan's buffers (RowSparse.coalesce's sums in its order): where the parameter
        // lives in the arena too, the optimiser then updates its rows in place.
        const parameter = this.tensors[value]!;
        const { indices } = this.attrs[gatherStep] as { indices: Int32Array };
        const rows = this.grads[this.trace.steps[gatherStep]!.output]!;
        const { unique, slot, values, mark } = coalesced;
        const grad = new RowSparse(parameter.shape, indices, rows).coalesceInto(unique, slot, values, mark);
        this.arena?.keep(grad.values._data, grad.indices); // views the parameter's gradient holds after the call
        giveSparse(parameter, grad);
      }
    } finally {
      pool?.join();
    }
    for (const { value, coalesced } of this.parameterGradients) {
      if (coalesced === null) giveDense(this.tensors[value]!, this.grads[value]!);
    }
    this.backwardDone = true;
  }

  /**
   * A parameter still holding the plan's gradient tensor from the previous call (no `zeroGrad` in between)
   * gets a copy of it, since this call's kernels are about to overwrite that buffer.
   */
  private keepPreviousGradients(): void {
    for (const { value, coalesced } of this.parameterGradients) {
      const parameter = this.tensors[value]!;
      const own = this.grads[value];
      if (own !== null && own !== undefined && parameter._grad === own) parameter._grad = copyOf(own);
      const sparse = parameter._sparseGrad;
      if (sparse !== null && coalesced !== null && sparse.values._data.buffer === coalesced.values.buffer) {
        const { shape, indices, values } = sparse;
        parameter._sparseGrad = new RowSparse(shape, indices.slice(), copyOf(values), sparse.coalesced);
      }
    }
  }

  /**
   * Runs the traced call's ops and backward on the plan, in the call that traced them (see `Tracer.backward` in
   * compile.ts): `outside` gives the tensor from outside behind each such value of the trace, each op runs in
   * the grad mode it was traced in, and the backward is seeded with `seed`. The parameters then hold the
   * plan's gradients, as after a replayed call.
   */
  runTrace(outside: ReadonlyMap<number, Tensor>, seed: unknown): void {
    const { steps, values, backward } = this.trace;
    if (backward === null) throw new CompileError("compile: the trace has no backward to run");
    const previousMode = autogradState.gradEnabled;
    this.begin();
    try {
      for (const step of steps) {
        const inputs = step.inputs.map((v) =>
          values[v]!.producer >= 0 ? this.tensors[v]! : outside.get(v)!,
        );
        autogradState.gradEnabled = step.gradEnabled;
        this.apply(step.op, inputs, step.attrs);
      }
    } finally {
      autogradState.gradEnabled = previousMode;
    }
    this.backward(this.tensors[backward.root]!, seed);
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
