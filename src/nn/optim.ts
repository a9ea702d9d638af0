/**
 * Optimisers: SGD (with momentum and Nesterov), Adam, AdamW and AdaGrad.
 *
 * Every optimiser reads each parameter's row-sparse gradient (`sparseGrad`, left by an embedding lookup)
 * before its dense `.grad`. With a row-sparse gradient the update visits only the rows the batch used (after
 * summing repeated rows), so its cost scales with the rows used rather than with the table:
 * - SGD without momentum or weight decay, and AdaGrad without weight decay, are then *exactly* the dense
 *   update (a zero gradient row leaves the dense update unchanged, so skipping it changes nothing).
 * - Momentum, Adam's moments and weight decay would move every row at every step in the dense update. In
 *   the default `sparse: "lazy"` mode they are applied to the used rows only (Adam then is "lazy Adam", like
 *   PyTorch's SparseAdam): a row's moments decay only when the row is used. This keeps a 20,000-word table's
 *   step at the cost of the batch, and a rare word's moment estimates are not worn down while it is absent.
 *   With `sparse: "dense"` the row-sparse gradient is made dense first and the update is the textbook one,
 *   at O(rows × columns) per step.
 *
 * Updates run without recording and write the parameters' values in place (optimisers and modules keep
 * referring to the same tensors). Gradients are only read, never modified. Arithmetic is done in double
 * precision and rounded once to the parameter's dtype. On the wasm backend the updates run as WebAssembly SIMD
 * kernels (src/backend/wasm/optim.ts) that follow the JavaScript loops below operation for operation, so both
 * backends give the same parameters bit for bit; small parameters stay in JavaScript.
 */
import { DTypeError, ShapeError, ValueError, quoteInput } from "../errors.js";
import { Tensor, type RowSparse } from "../tensor/tensor.js";
import type { StateDictOptions } from "./module.js";
import { isFloatDType } from "../tensor/dtype.js";
import { shapeToString, shapesEqual } from "../tensor/shape.js";
import { noGrad } from "../autograd/mode.js";
import { getBackend, wasmBackend } from "../backend/index.js";
import { wasmAdaGrad, wasmAdam, wasmSgd, type OptimizerSpans } from "../backend/wasm/optim.js";
import { residentArray, residentCopy, residentPool } from "../backend/wasm/resident.js";
import { kernelsOf } from "../backend/wasm/runtime.js";
import { TOUCH_BLOCK_ROWS, TOUCHED_ROW_VALUES, touchRows } from "../backend/js/layout.js";
import { Module, tensorEntries, type AnyModule, type TensorMap } from "./module.js";

/** The storage of a float tensor, as an optimiser's rule reads and writes it. */
export type FloatArray = Float32Array | Float64Array;

/** How an optimiser treats a row-sparse gradient: update the used rows only, or make it dense first. */
export type SparseMode = "lazy" | "dense";

/** What the last `step()` did: counts of what it wrote, for monitoring (and tests of the sparse path). */
export interface OptimizerStepStats {
  /** Parameters that had a gradient and were updated. */
  parameters: number;
  /** Of those, the ones updated through a row-sparse gradient. */
  sparseParameters: number;
  /** Distinct rows written through row-sparse gradients. */
  sparseRows: number;
  /** Parameter values written in all. */
  valuesUpdated: number;
}

/** A parameter's optimiser state: how many updates it has had and its buffers (moments, accumulators). */
export interface ParameterState {
  /** The number of updates so far, this one included (t in Adam's bias correction). */
  step: number;
  /** The state buffers by name (`momentum`, `expAvg`, `expAvgSq`, `sum`), each of the parameter's shape. */
  buffers: Map<string, Tensor>;
}

/** One parameter's update as handed to an optimiser's rule. */
export interface ParameterUpdate {
  /** The parameter's values, updated in place. */
  param: FloatArray;
  /** The gradient: dense (the parameter's size) or, with `rows`, the used rows only. */
  grad: FloatArray;
  /**
   * null for a dense gradient (`grad` has the parameter's size); otherwise the distinct rows (ascending) that
   * `grad` holds, one after the other, each of `rowSize` values.
   */
  rows: Int32Array | null;
  /** The number of values in one row of the parameter (its size over its first dimension). */
  rowSize: number;
  /** The parameter's state; `step` already counts this update. */
  state: ParameterState;
  /** A state buffer of the parameter's shape, created filled with `initial` on first use. */
  buffer(name: string, initial?: number): FloatArray;
}

/**
 * Calls `visit(paramStart, gradStart, length)` for each contiguous span an update covers: the whole
 * parameter for a dense gradient, each used row for a row-sparse one. For a row-sparse one, the used rows of
 * the parameter and of the `state` buffers the update also writes (a momentum buffer, Adam's moments) are first
 * read once each (see `touchRows`): scattered rows of a large table are mostly out of cache, and the update
 * then finds them in cache instead of waiting for each row in turn.
 */
export function forEachSpan(
  update: ParameterUpdate,
  visit: (paramStart: number, gradStart: number, length: number) => void,
  state: readonly FloatArray[] = [],
): void {
  const { rows, rowSize } = update;
  if (rows === null) {
    visit(0, 0, update.param.length);
    return;
  }
  for (let k = 0; k < rows.length; k++) {
    if (k % TOUCH_BLOCK_ROWS === 0) touchAhead(rows, k, rowSize, update.param, state);
    visit(rows[k]! * rowSize, k * rowSize, rowSize);
  }
}

/**
 * Reads the rows rows[first], … (the next TOUCH_BLOCK_ROWS of them) of `param` and of each `state` buffer once,
 * ahead of their update (see `touchRows`), where the rows are short enough and lie far enough apart: on average
 * 4 rows or more from one to the next (ascending, as a coalesced gradient's). The processor's own prefetching
 * finds closer rows: updating 8,000 ascending rows of 50 float32 among 20,000 took 1,035 µs as they are and
 * 1,089 µs touched first, while 1,240 rows took 405 against 206 µs (out of cache).
 */
function touchAhead(
  rows: Int32Array,
  first: number,
  rowSize: number,
  param: FloatArray,
  state: readonly FloatArray[],
): void {
  if (rowSize > TOUCHED_ROW_VALUES) return;
  const end = Math.min(rows.length, first + TOUCH_BLOCK_ROWS);
  if (rows[end - 1]! - rows[first]! < 4 * (end - first)) return;
  touchRows(param, rows, 0, rowSize, first, end);
  for (const buffer of state) touchRows(buffer, rows, 0, rowSize, first, end);
}

/** No state buffers (for `touchAhead`). */
const NO_STATE: readonly FloatArray[] = [];

/** The update's arrays for the WebAssembly kernels, or null when the current backend is not wasm. */
function wasmSpans(update: ParameterUpdate, state: FloatArray[]): OptimizerSpans | null {
  if (getBackend() !== wasmBackend) return null;
  return { param: update.param, grad: update.grad, rows: update.rows, rowSize: update.rowSize, state };
}

/**
 * Moves a large parameter's values into the thread pool's shared memory (src/backend/wasm/resident.ts) on the
 * wasm backend with two threads or more: its products and lookups then read it in place and its update runs there,
 * instead of copying it in and out on every step. Its `data` becomes a view of that memory (the values are the
 * same); code that kept the old `data` array from before the first step keeps a stale copy, so read
 * `parameter.data` afresh. Its state buffers move with it.
 */
function moveResident(p: Tensor, state: ParameterState): void {
  if (p.dtype !== "float32" && p.dtype !== "float64") return;
  const data = p._data as FloatArray;
  // Already in WebAssembly memory: the pool's, or a compiled plan's own (whose kernels read it there).
  if (kernelsOf(data) === null) {
    const moved = residentCopy(data);
    if (moved !== null && moved !== data) p._data = moved;
  }
  // Its state buffers join it (those made before it moved, or restored by loadStateDict): the update runs in
  // place only when all of them live beside it.
  if (residentPool(p._data) === null) return;
  for (const buffer of state.buffers.values()) {
    if (kernelsOf(buffer._data) !== null) continue;
    const moved = residentCopy(buffer._data as FloatArray);
    if (moved !== null) buffer._data = moved;
  }
}

function checkNumber(value: unknown, name: string, where: string, min = 0, max = Infinity): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new ValueError(`${where}: ${name} must be a finite number ${range}, got ${quoteInput(value)}`);
  }
  return value;
}

function collectParameters(parameters: Iterable<Tensor> | AnyModule, where: string): Tensor[] {
  const list = parameters instanceof Module ? parameters.parameters() : [...(parameters as Iterable<Tensor>)];
  const seen = new Set<Tensor>();
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ValueError(`${where}: parameter ${i} is not a Tensor`);
    if (!isFloatDType(p.dtype)) throw new DTypeError(`${where}: parameter ${i} is ${p.dtype}, not float`);
    if (!p.isLeaf || !p.requiresGrad) {
      throw new ValueError(
        `${where}: parameter ${i} (shape ${shapeToString(p.shape)}) must be a leaf tensor that requires grad`,
      );
    }
    if (seen.has(p)) throw new ValueError(`${where}: parameter ${i} appears twice in the list`);
    seen.add(p);
  });
  return list;
}

/** Options every optimiser takes. */
export interface OptimizerOptions {
  /** The learning rate α. */
  lr: number;
  /** Row-sparse gradients: "lazy" (default) updates the used rows only; "dense" makes them dense first. */
  sparse?: SparseMode;
}

/** The state of a parameter before its first update: no buffers to move (see `moveResident`). */
const FIRST_STATE: ParameterState = { step: 0, buffers: new Map() };

/** The buffers an optimiser sums a parameter's row-sparse gradient into (`RowSparse.coalesceInto`). */
interface CoalescingBuffers {
  unique: Int32Array;
  slot: Int32Array;
  values: FloatArray;
}

/** The base class: bookkeeping of parameters, gradients, state and statistics. */
export abstract class Optimizer {
  /** The parameters it updates, in the order given. */
  readonly parameters: readonly Tensor[];
  /** How row-sparse gradients are applied (see {@link SparseMode}). */
  readonly sparse: SparseMode;
  /** Counts of what the last `step()` wrote. */
  lastStep: OptimizerStepStats = { parameters: 0, sparseParameters: 0, sparseRows: 0, valuesUpdated: 0 };
  private learningRate: number;
  private readonly states: (ParameterState | null)[];
  /** Each parameter's buffers for coalescing its row-sparse gradient (see `coalesce`), made at its first one. */
  private readonly coalescing: (CoalescingBuffers | undefined)[] = [];

  constructor(parameters: Iterable<Tensor> | AnyModule, options: OptimizerOptions) {
    const where = this.constructor.name;
    this.parameters = collectParameters(parameters, where);
    this.learningRate = checkNumber(options.lr, "lr", where);
    const sparse = options.sparse ?? "lazy";
    if (sparse !== "lazy" && sparse !== "dense") {
      throw new ValueError(`${where}: sparse must be "lazy" or "dense", got ${JSON.stringify(sparse)}`);
    }
    this.sparse = sparse;
    this.states = this.parameters.map(() => null);
  }

  /** The learning rate α (a schedule may change it between steps). */
  get lr(): number {
    return this.learningRate;
  }

  /** Sets the learning rate; throws a `ValueError` unless it is a finite number ≥ 0. */
  set lr(value: number) {
    this.learningRate = checkNumber(value, "lr", this.constructor.name);
  }

  /** The names of the state buffers this optimiser keeps per parameter. */
  protected abstract readonly bufferNames: readonly string[];

  /** Applies the rule to one parameter. */
  protected abstract update(update: ParameterUpdate): void;

  /** The state of parameter `index` (null before its first update). */
  stateOf(index: number): ParameterState | null {
    return this.states[index] ?? null;
  }

  /** One update of every parameter that has a gradient; parameters without one are left alone. */
  step(): void {
    const stats: OptimizerStepStats = { parameters: 0, sparseParameters: 0, sparseRows: 0, valuesUpdated: 0 };
    const wasm = getBackend() === wasmBackend;
    noGrad(() => {
      for (let i = 0; i < this.parameters.length; i++) {
        const p = this.parameters[i]!;
        const sparse = p.sparseGrad;
        let grad: Tensor;
        let rows: Int32Array | null = null;
        let rowSize = p.size;
        if (sparse !== null) {
          if (this.sparse === "dense") grad = sparse.toDense();
          else {
            // Moved first (with its state, if it has one yet), so that the buffers join it.
            if (wasm) moveResident(p, this.states[i] ?? FIRST_STATE);
            const coalesced = this.coalesce(i, sparse);
            grad = coalesced.values;
            rows = coalesced.indices;
            rowSize = coalesced.rowSize;
          }
        } else {
          const dense = p.grad;
          if (dense === null) continue;
          grad = dense;
        }
        if (grad.dtype !== p.dtype) {
          throw new DTypeError(
            `${this.constructor.name}: the gradient of parameter ${i} is ${grad.dtype} but the parameter is ${p.dtype}`,
          );
        }
        let state = this.states[i];
        if (state === null || state === undefined) {
          state = { step: 0, buffers: new Map() };
          this.states[i] = state;
        }
        state.step += 1;
        const owner = state;
        // A row-sparse update's parameter moved before coalescing (rows !== null).
        if (wasm && rows === null) moveResident(p, state);
        this.update({
          param: p.data as FloatArray,
          grad: grad.data as FloatArray,
          rows,
          rowSize,
          state,
          buffer: (name, initial = 0) => {
            let b = owner.buffers.get(name);
            if (b === undefined) {
              const data = p.data.slice().fill(initial) as FloatArray;
              // Beside a parameter in the pool's shared memory, so that its update runs there in place.
              const resident = wasm && residentPool(p.data) !== null ? residentCopy(data) : null;
              b = new Tensor(resident ?? data, p.shape, p.dtype);
              owner.buffers.set(name, b);
            }
            return b.data as FloatArray;
          },
        });
        stats.parameters += 1;
        if (rows !== null) {
          stats.sparseParameters += 1;
          stats.sparseRows += rows.length;
          stats.valuesUpdated += rows.length * rowSize;
        } else stats.valuesUpdated += p.size;
      }
    });
    this.lastStep = stats;
  }

  /**
   * Parameter `i`'s row-sparse gradient with each row once (`RowSparse.coalesce`), summed into buffers this
   * optimiser keeps for the parameter and reuses at every step: no new arrays a step, and where the parameter
   * lives in the thread pool's shared memory (see `moveResident`) the buffers live beside it, so that the sums
   * are written there and the update reads them in place (at batch 256 of the NER step, 1,240 rows of 50: the
   * coalescing and the update took 138 and 70 µs with a new array a step, copied out of the pool and back in).
   * The result is read by this step's update only: the next step writes over it.
   */
  private coalesce(i: number, sparse: RowSparse): RowSparse {
    if (sparse.coalesced || !isFloatDType(sparse.dtype)) return sparse.coalesce();
    const n = sparse.indices.length;
    const values = n * sparse.rowSize;
    const f64 = sparse.dtype === "float64";
    const Values = f64 ? Float64Array : Float32Array;
    let buffers = this.coalescing[i];
    const home = residentPool(this.parameters[i]!._data);
    if (
      buffers === undefined ||
      buffers.unique.length < n ||
      buffers.values.length < values ||
      !(buffers.values instanceof Values) ||
      residentPool(buffers.values) !== home
    ) {
      const unique = home === null ? null : residentArray(home, Int32Array, n);
      const summed =
        home === null || unique === null
          ? null
          : f64
            ? residentArray(home, Float64Array, values)
            : residentArray(home, Float32Array, values);
      buffers = {
        unique: summed === null ? new Int32Array(n) : unique!,
        slot: new Int32Array(n),
        values: summed ?? new Values(values),
      };
      this.coalescing[i] = buffers;
    }
    return sparse.coalesceInto(buffers.unique, buffers.slot, buffers.values);
  }

  /** Clears the gradients (dense and row-sparse) of all parameters. */
  zeroGrad(): void {
    for (const p of this.parameters) p.grad = null;
  }

  /**
   * The optimiser's state as named tensors, ready for `safetensors.save` to resume training later: `lr`, and per
   * parameter index i, `i.step` and `i.<buffer>`. The buffers are copies; with `{ copy: false }` they are the
   * optimiser's own, which change at every step (to write them out without copying them first).
   */
  stateDict(options: StateDictOptions = {}): Record<string, Tensor> {
    const copy = options.copy ?? true;
    const out: Record<string, Tensor> = { lr: scalar(this.learningRate) };
    this.states.forEach((state, i) => {
      if (state === null) return;
      out[`${i}.step`] = scalar(state.step);
      for (const [name, buffer] of state.buffers) {
        out[`${i}.${name}`] = copy ? new Tensor(buffer.data.slice(), buffer.shape, buffer.dtype) : buffer;
      }
    });
    return out;
  }

  /**
   * Restores a state from `stateDict()` (for the same parameters in the same order). Everything is checked
   * before anything changes; parameters with no entries start fresh.
   */
  loadStateDict(state: TensorMap): void {
    const where = `${this.constructor.name}.loadStateDict`;
    const entries = tensorEntries(state, where);
    let lr = this.learningRate;
    const fresh: (ParameterState | null)[] = this.parameters.map(() => null);
    const buffers: [number, string, Tensor][] = [];
    for (const [name, value] of entries) {
      if (name === "lr") {
        lr = checkNumber(scalarValue(value, name, where), "lr", where);
        continue;
      }
      const match = /^(\d+)\.([A-Za-z]+)$/.exec(name);
      const index = match ? Number(match[1]) : -1;
      if (!match || index >= this.parameters.length) {
        throw new ValueError(
          `${where}: unexpected entry ${JSON.stringify(name)} (this optimiser has ${this.parameters.length} parameters)`,
        );
      }
      const field = match[2]!;
      const p = this.parameters[index]!;
      const slot = (fresh[index] ??= { step: 0, buffers: new Map() });
      if (field === "step") {
        const step = scalarValue(value, name, where);
        if (!Number.isInteger(step) || step < 0) {
          throw new ValueError(`${where}: ${name} must be a non-negative integer, got ${step}`);
        }
        slot.step = step;
      } else if (this.bufferNames.includes(field)) {
        if (!shapesEqual(value.shape, p.shape)) {
          throw new ShapeError(
            `${where}: entry ${JSON.stringify(name)} has shape ${shapeToString(value.shape)}, but parameter ${index} has shape ${shapeToString(p.shape)}`,
          );
        }
        if (!isFloatDType(value.dtype)) {
          throw new DTypeError(`${where}: entry ${JSON.stringify(name)} must be float, not ${value.dtype}`);
        }
        buffers.push([index, field, value]);
      } else {
        throw new ValueError(
          `${where}: unexpected entry ${JSON.stringify(name)} (${this.constructor.name} keeps ${["step", ...this.bufferNames].join(", ")})`,
        );
      }
    }
    for (const [index, field, value] of buffers) {
      const p = this.parameters[index]!;
      const copy = new Tensor(p.data.slice(), p.shape, p.dtype);
      copy.data.set(value.data);
      fresh[index]!.buffers.set(field, copy);
    }
    this.learningRate = lr;
    for (let i = 0; i < fresh.length; i++) this.states[i] = fresh[i]!;
  }
}

function scalar(value: number): Tensor {
  return new Tensor(Float64Array.of(value), [], "float64");
}

function scalarValue(t: Tensor, name: string, where: string): number {
  if (t.size !== 1) {
    throw new ShapeError(
      `${where}: entry ${JSON.stringify(name)} must hold one number, got ${shapeToString(t.shape)}`,
    );
  }
  return t.data[0]!;
}

/** Options of {@link SGD}. */
export interface SGDOptions extends OptimizerOptions {
  /** Momentum μ (default 0: none). */
  momentum?: number;
  /** Dampening of the gradient added to the momentum buffer (default 0). */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and no dampening). */
  nesterov?: boolean;
  /** L2 penalty λ: the gradient becomes g + λθ (default 0). */
  weightDecay?: number;
}

/**
 * Stochastic gradient descent. With only `lr` it is exactly the lecture's θ_new = θ_old − α ∇_θ J.
 * With momentum μ (PyTorch's formulation): b ← μ b + (1 − dampening) g (b = g on the first step), then
 * θ ← θ − α b, or θ ← θ − α (g + μ b) with Nesterov.
 */
export class SGD extends Optimizer {
  /** Momentum μ (0: plain SGD, θ ← θ − α∇θJ as in the lecture). */
  readonly momentum: number;
  /** Dampening of the gradient added to the momentum buffer. */
  readonly dampening: number;
  /** Whether Nesterov momentum is used. */
  readonly nesterov: boolean;
  /** L2 penalty λ added to the gradient as λθ. */
  readonly weightDecay: number;
  protected readonly bufferNames = ["momentum"] as const;

  constructor(parameters: Iterable<Tensor> | AnyModule, options: SGDOptions) {
    super(parameters, options);
    this.momentum = checkNumber(options.momentum ?? 0, "momentum", "SGD");
    this.dampening = checkNumber(options.dampening ?? 0, "dampening", "SGD", 0, 1);
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = checkNumber(options.weightDecay ?? 0, "weightDecay", "SGD");
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0)) {
      throw new ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening 0");
    }
  }

  protected update(u: ParameterUpdate): void {
    const { param, grad } = u;
    const lr = this.lr;
    const weightDecay = this.weightDecay;
    const mu = this.momentum;
    const spans = wasmSpans(u, mu === 0 ? [] : [u.buffer("momentum")]);
    const settings = {
      lr,
      weightDecay,
      momentum: mu,
      keep: 1 - this.dampening,
      nesterov: this.nesterov,
      first: u.state.step === 1,
    };
    if (spans !== null && wasmSgd(spans, settings)) return;
    if (mu === 0 && param instanceof Float32Array && grad instanceof Float32Array) {
      plainSgdF32(param, grad, u.rows, u.rowSize, lr, weightDecay);
      return;
    }
    if (mu === 0) {
      forEachSpan(u, (p0, g0, n) => {
        for (let j = 0; j < n; j++) {
          const i = p0 + j;
          const g = grad[g0 + j]! + weightDecay * param[i]!;
          param[i] = param[i]! - lr * g;
        }
      });
      return;
    }
    const buffer = u.buffer("momentum");
    const first = u.state.step === 1;
    const keep = 1 - this.dampening;
    const nesterov = this.nesterov;
    forEachSpan(
      u,
      (p0, g0, n) => {
        for (let j = 0; j < n; j++) {
          const i = p0 + j;
          const g = grad[g0 + j]! + weightDecay * param[i]!;
          const b = first ? g : mu * buffer[i]! + keep * g;
          buffer[i] = b;
          param[i] = param[i]! - lr * (nesterov ? g + mu * buffer[i]! : buffer[i]!);
        }
      },
      [buffer],
    );
  }
}

/**
 * Plain SGD (no momentum) on float32 arrays, dense (`rows` null) or on the rows of a row-sparse gradient: the
 * loop of SGD.update for one array type (a loop the engine compiles for one typed-array class runs several
 * times faster than one that has seen both), with the same float64 arithmetic, so the same bits.
 */
function plainSgdF32(
  param: Float32Array,
  grad: Float32Array,
  rows: Int32Array | null,
  rowSize: number,
  lr: number,
  weightDecay: number,
): void {
  const spans = rows === null ? 1 : rows.length;
  const length = rows === null ? param.length : rowSize;
  for (let k = 0; k < spans; k++) {
    if (rows !== null && k % TOUCH_BLOCK_ROWS === 0) touchAhead(rows, k, rowSize, param, NO_STATE);
    const p0 = rows === null ? 0 : rows[k]! * rowSize;
    const g0 = k * length;
    for (let j = 0; j < length; j++) {
      const i = p0 + j;
      const g = grad[g0 + j]! + weightDecay * param[i]!;
      param[i] = param[i]! - lr * g;
    }
  }
}

/** Options of {@link Adam} and {@link AdamW}. */
export interface AdamOptions extends Partial<OptimizerOptions> {
  /** Learning rate α (default 0.001). */
  lr?: number;
  /** Decay rates (β₁, β₂) of the moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty added to the gradient; AdamW: decoupled decay of the weights. */
  weightDecay?: number;
}

/**
 * Adam (Kingma and Ba, 2015): m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², and, at step t,
 * θ ← θ − (α / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε). With `weightDecay` λ the gradient is g + λθ.
 * Row-sparse gradients: lazy Adam by default (see the module comment); t counts the parameter's steps.
 */
export class Adam extends Optimizer {
  /** Decay rate β₁ of the first-moment (mean) estimate. */
  readonly beta1: number;
  /** Decay rate β₂ of the second-moment (uncentred variance) estimate. */
  readonly beta2: number;
  /** Added to the denominator for stability. */
  readonly eps: number;
  /** Adam: L2 penalty added to the gradient; AdamW: decoupled decay of the weights. */
  readonly weightDecay: number;
  protected readonly bufferNames = ["expAvg", "expAvgSq"] as const;
  /** Decoupled weight decay (AdamW) instead of an L2 term in the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(parameters: Iterable<Tensor> | AnyModule, options: AdamOptions = {}) {
    super(parameters, { lr: options.lr ?? 1e-3, sparse: options.sparse });
    const where = this.constructor.name;
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new ValueError(`${where}: betas must be a pair [β₁, β₂]`);
    }
    this.beta1 = checkNumber(betas[0], "β₁", where, 0, 1);
    this.beta2 = checkNumber(betas[1], "β₂", where, 0, 1);
    if (this.beta1 === 1 || this.beta2 === 1) throw new ValueError(`${where}: β₁ and β₂ must be below 1`);
    this.eps = checkNumber(options.eps ?? 1e-8, "eps", where);
    this.weightDecay = checkNumber(options.weightDecay ?? this.defaultWeightDecay(), "weightDecay", where);
  }

  protected defaultWeightDecay(): number {
    return 0;
  }

  protected update(u: ParameterUpdate): void {
    const { param, grad } = u;
    const m = u.buffer("expAvg");
    const v = u.buffer("expAvgSq");
    const { beta1, beta2, eps } = this;
    const lr = this.lr;
    const t = u.state.step;
    const stepSize = lr / (1 - Math.pow(beta1, t));
    const correction2 = Math.sqrt(1 - Math.pow(beta2, t));
    const l2 = this.decoupled ? 0 : this.weightDecay;
    const shrink = this.decoupled ? 1 - lr * this.weightDecay : 1;
    const spans = wasmSpans(u, [m, v]);
    if (spans !== null && wasmAdam(spans, { beta1, beta2, stepSize, correction2, eps, l2, shrink })) return;
    forEachSpan(
      u,
      (p0, g0, n) => {
        for (let j = 0; j < n; j++) {
          const i = p0 + j;
          const theta = param[i]! * shrink;
          const g = grad[g0 + j]! + l2 * theta;
          m[i] = beta1 * m[i]! + (1 - beta1) * g;
          v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
          param[i] = theta - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / correction2 + eps);
        }
      },
      [m, v],
    );
  }
}

/**
 * AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay, θ ← θ(1 − αλ) before the Adam
 * step, so the decay is not scaled by the adaptive denominator. Default λ = 0.01.
 */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  protected override defaultWeightDecay(): number {
    return 0.01;
  }
}

/** Options of {@link AdaGrad}. */
export interface AdaGradOptions extends Partial<OptimizerOptions> {
  /** Learning rate α (default 0.01). */
  lr?: number;
  /** The rate is α / (1 + (t − 1)·lrDecay) at step t (default 0). */
  lrDecay?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Starting value of the accumulated squares (default 0). */
  initialAccumulatorValue?: number;
  /** Added to the denominator for stability (default 1e-10). */
  eps?: number;
}

/**
 * AdaGrad (Duchi et al., 2011): G ← G + g², θ ← θ − α g / (√G + ε). Each value's rate shrinks with the
 * gradients it has seen, which suits sparse features such as rare words. With a row-sparse gradient and no
 * weight decay, updating only the used rows is exact.
 */
export class AdaGrad extends Optimizer {
  /** The rate is α / (1 + (t − 1)·lrDecay) at step t. */
  readonly lrDecay: number;
  /** L2 penalty added to the gradient. */
  readonly weightDecay: number;
  /** Starting value of the accumulated squares. */
  readonly initialAccumulatorValue: number;
  /** Added to the denominator for stability. */
  readonly eps: number;
  protected readonly bufferNames = ["sum"] as const;

  constructor(parameters: Iterable<Tensor> | AnyModule, options: AdaGradOptions = {}) {
    super(parameters, { lr: options.lr ?? 1e-2, sparse: options.sparse });
    this.lrDecay = checkNumber(options.lrDecay ?? 0, "lrDecay", "AdaGrad");
    this.weightDecay = checkNumber(options.weightDecay ?? 0, "weightDecay", "AdaGrad");
    this.initialAccumulatorValue = checkNumber(
      options.initialAccumulatorValue ?? 0,
      "initialAccumulatorValue",
      "AdaGrad",
    );
    this.eps = checkNumber(options.eps ?? 1e-10, "eps", "AdaGrad");
  }

  protected update(u: ParameterUpdate): void {
    const { param, grad } = u;
    const sum = u.buffer("sum", this.initialAccumulatorValue);
    const rate = this.lr / (1 + (u.state.step - 1) * this.lrDecay);
    const { weightDecay, eps } = this;
    const spans = wasmSpans(u, [sum]);
    if (spans !== null && wasmAdaGrad(spans, { rate, weightDecay, eps })) return;
    forEachSpan(
      u,
      (p0, g0, n) => {
        for (let j = 0; j < n; j++) {
          const i = p0 + j;
          const g = grad[g0 + j]! + weightDecay * param[i]!;
          sum[i] = sum[i]! + g * g;
          param[i] = param[i]! - (rate * g) / (Math.sqrt(sum[i]!) + eps);
        }
      },
      [sum],
    );
  }
}
