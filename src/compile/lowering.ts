/**
 * How each op the compiler knows runs inside a plan: its forward as a kernel call into the op's planned output
 * buffer, and, for each input, its vector–Jacobian product as a kernel writing that input's gradient into a
 * planned buffer. The math is the op table's (ops/); here it is written against fixed buffers, so that a
 * replayed step allocates nothing. An op missing from this table makes `compile` fall back to eager.
 */
import {
  getBackend,
  getThreads,
  wasmThresholds,
  type BinaryKernel,
  type UnaryKernel,
} from "../backend/index.js";
import { activationBackward } from "../backend/js/elementwise.js";
import { FIRST_TRANSCENDENTAL, UNARY_CODES } from "../backend/wasm/elementwise.js";
import { splitProductInPlace, splitsAcrossThreads } from "../backend/wasm/matmul-threads.js";
import { softmax as wasmSoftmax, softmaxRowsWasm } from "../backend/wasm/softmax.js";
import { MATMUL_NO_ACTIVATION, align16 } from "../backend/wasm/runtime.js";
import type { Arena } from "./arena.js";
import type { Tensor } from "../tensor/tensor.js";
import type { DType, TypedArray } from "../tensor/dtype.js";
import { blockView, reducedShape, shapesEqual, sizeOf } from "../tensor/shape.js";

/** What a lowering sees of one step of the plan: its live tensors and attributes, and scratch space. */
export interface StepView<A = unknown> {
  /** Input j as bound for the current call. */
  input(j: number): Tensor;
  /** The step's planned output. */
  output(): Tensor;
  /** ∂L/∂output, during backward. */
  upstream(): Tensor;
  /** The attributes the op was called with in the current call (indices and targets change per call). */
  attrs(): A;
  /** The traced attributes (fixed for the plan). */
  readonly tracedAttrs: A;
  readonly inputShapes: readonly (readonly number[])[];
  readonly outputShape: readonly number[];
  readonly dtype: DType;
  /** Scratch space owned by the step (of its output's dtype, unless given), allocated once when the plan is built. */
  scratch(size: number, dtype?: DType): TypedArray;
  /** The plan's WebAssembly memory, or null when its buffers are JavaScript arrays. */
  readonly arena: Arena | null;
  /**
   * Asks for input j's data in the arena during calls (a tensor from outside is then copied in when it is
   * bound), so that kernels can run on it in place; false without an arena.
   */
  resident(j: number): boolean;
  /** Whether input j is a parameter (a leaf tensor from outside that requires grad). */
  isParameter(j: number): boolean;
  /** Whether the plan runs a backward pass (false for a forward-only plan, an evaluation's). */
  readonly trains: boolean;
  /** The products' shared packing and scratch area, made at least `bytes` long. */
  workspace(bytes: number): Workspace;
}

/** An area of the arena for the products' packed operand and scratch (its address is set once planned). */
export interface Workspace {
  at: number;
  bytes: number;
}

/** The kernels of one step: its forward, and the gradient of each input (written, not added, into `out`). */
export interface StepKernels {
  forward(): void;
  /** Writes ∂L/∂input j (of the input's shape) into `out`; null when the op has no gradient for it. */
  backward: ((j: number) => ((out: TypedArray) => void) | null) | null;
  /**
   * Whether ∂L/∂input j is the upstream gradient itself, value for value (a reshape's, an unbroadcast sum's):
   * the plan may then give the two one buffer and skip the copy `backward(j)` makes (see assignGradients).
   */
  identity?: (j: number) => boolean;
  /**
   * Whether `backward(j)` may write into its upstream gradient's buffer (each position's upstream value is read
   * before that position is written, as in an elementwise derivative): the plan may then give the two one buffer.
   */
  inPlace?: (j: number) => boolean;
}

/** Builds the kernels of a step, or returns the reason the op cannot be compiled as called. */
export type Lowering<A = unknown> = (view: StepView<A>) => StepKernels | string;

const backend = getBackend;

function copyInto(source: TypedArray, out: TypedArray): void {
  out.set(source.length === out.length ? source : source.subarray(0, out.length));
}

/**
 * The axes to sum `full` (of shape `fullShape`) over to bring it to `shape` (NumPy broadcasting undone), as
 * in ops' sumToShape; null when the shapes are equal.
 */
export function broadcastAxes(fullShape: readonly number[], shape: readonly number[]): number[] | null {
  if (shapesEqual(fullShape, shape)) return null;
  const lead = fullShape.length - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < fullShape.length; d++) {
    if (d < lead || (shape[d - lead] === 1 && fullShape[d] !== 1)) axes.push(d);
  }
  return axes;
}

/** A gradient computed at the output's shape, then summed down to input j's shape when it was broadcast. */
function reducedTo(view: StepView, j: number, compute: (out: TypedArray) => void): (out: TypedArray) => void {
  const axes = broadcastAxes(view.outputShape, view.inputShapes[j]!);
  if (axes === null) return compute;
  const full = view.scratch(sizeOf(view.outputShape));
  const shape = view.outputShape;
  return (out) => {
    compute(full);
    backend().reduce("sum", full, shape, axes, out);
  };
}

// ---- elementwise ------------------------------------------------------------------------------------------

/**
 * ∂L/∂x of a unary op as a loop over x, y and the upstream g, written into out. Each mirrors its rule's ops
 * (ops/elementwise.ts) one by one, rounding where an op stores its result (`out` is of the tensors' dtype),
 * so that a compiled step gives the eager step's numbers to the last bit.
 */
type UnaryDerivative = (x: TypedArray, y: TypedArray, g: TypedArray, out: TypedArray) => void;

const unaryDerivatives: Partial<Record<UnaryKernel, UnaryDerivative>> = {
  // d(−x) = −dx
  neg: (_x, _y, g, out) => {
    for (let i = 0; i < out.length; i++) out[i] = -g[i]!;
  },
  // d eˣ = eˣ dx
  exp: (_x, y, g, out) => {
    for (let i = 0; i < out.length; i++) out[i] = g[i]! * y[i]!;
  },
  // d log x = dx / x
  log: (x, _y, g, out) => {
    for (let i = 0; i < out.length; i++) out[i] = g[i]! / x[i]!;
  },
  // d √x = dx / (2√x)
  sqrt: (_x, y, g, out) => {
    for (let i = 0; i < out.length; i++) out[i] = g[i]! / (y[i]! * 2);
  },
  // d σ(x) = σ(x)(1 − σ(x)) dx, and d tanh(x) = (1 − tanh(x)²) dx: the JavaScript kernel the eager rules use
  sigmoid: (_x, y, g, out) => activationBackward("sigmoid", y, g, out),
  tanh: (_x, y, g, out) => activationBackward("tanh", y, g, out),
  // d relu(x) = 1(x > 0) dx, read off the output (relu(x) > 0 exactly when x > 0)
  relu: (_x, y, g, out) => {
    for (let i = 0; i < out.length; i++) out[i] = g[i]! * (y[i]! > 0 ? 1 : 0);
  },
  // d x² = 2x dx
  square: (x, _y, g, out) => {
    for (let i = 0; i < out.length; i++) out[i] = g[i]! * (x[i]! * 2);
  },
};

function allFloat32(y: TypedArray, g: TypedArray, out: TypedArray): y is Float32Array {
  return y instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array;
}

/*
 * The float32 loops of the σ and tanh derivatives, each on Float32Arrays only (one array type per loop, so the
 * engine compiles it for that type alone: a loop shared by every typed array runs several times slower). Each
 * rounds where the eager rule's ops store a float32 tensor.
 */
/** What storing into `array` does to a number: float32 rounding, or nothing for float64. */
function rounding(array: TypedArray): (value: number) => number {
  return array instanceof Float32Array ? Math.fround : (value) => value;
}

/**
 * out = f(x): in a plan's arena, the WebAssembly kernel on the arrays' addresses where the backend would run it
 * (the same size threshold and dtypes, so the same bits), else the backend's kernel.
 */
export function unaryInto(kernel: UnaryKernel, x: TypedArray, out: TypedArray, arena: Arena | null): void {
  const code = UNARY_CODES[kernel];
  const n = out.length;
  if (arena !== null && code !== undefined && n >= wasmThresholds.elementwise && x.length === n) {
    const f32 = x instanceof Float32Array && out instanceof Float32Array;
    const f64 = x instanceof Float64Array && out instanceof Float64Array && code < FIRST_TRANSCENDENTAL;
    const xAt = arena.addressOf(x);
    const outAt = arena.addressOf(out);
    if ((f32 || f64) && xAt >= 0 && outAt >= 0) {
      // A transcendental op of many values in the pool's memory splits across its threads (the same bits).
      const pool = arena.pool;
      if (code >= FIRST_TRANSCENDENTAL && pool?.splits(n, wasmThresholds.threadUnaryValues))
        pool.unary(f32, code, xAt, outAt, n);
      else if (f32) arena.kernels.exports.unaryF32(code, xAt, outAt, n);
      else arena.kernels.exports.unaryF64(code, xAt, outAt, n);
      return;
    }
  }
  backend().unary(kernel, x, out);
}

/**
 * The tanh or σ derivative as a WebAssembly SIMD kernel in place in a plan's arena (float32, the same bits as
 * the loops above); false (nothing done) for another op or arrays elsewhere.
 */
function residentDerivative(
  kernel: UnaryKernel,
  arena: Arena | null,
  y: TypedArray,
  g: TypedArray,
  out: TypedArray,
): boolean {
  if (arena === null || (kernel !== "tanh" && kernel !== "sigmoid") || !allFloat32(y, g, out)) return false;
  const yAt = arena.addressOf(y);
  const gAt = arena.addressOf(g);
  const outAt = arena.addressOf(out);
  if (yAt < 0 || gAt < 0 || outAt < 0 || y.length !== out.length || g.length !== out.length) return false;
  // Many values in the pool's memory split across its threads (the same bits).
  const pool = arena.pool;
  if (pool?.splits(out.length, wasmThresholds.threadDerivativeValues)) {
    pool.derivative(kernel, yAt, gAt, outAt, out.length);
    return true;
  }
  const exports = arena.kernels.exports;
  if (kernel === "tanh") exports.tanhBackwardF32(yAt, gAt, outAt, out.length);
  else exports.sigmoidBackwardF32(yAt, gAt, outAt, out.length);
  return true;
}

function unary(kernel: UnaryKernel): Lowering {
  const derivative = unaryDerivatives[kernel];
  return (view) => {
    const arena = view.resident(0) ? view.arena : null;
    return {
      forward: () => unaryInto(kernel, view.input(0)._data, view.output()._data, arena),
      backward:
        derivative === undefined
          ? null
          : () => (out) => {
              const y = view.output()._data;
              const g = view.upstream()._data;
              if (!residentDerivative(kernel, view.arena, y, g, out))
                derivative(view.input(0)._data, y, g, out);
            },
      inPlace: () => true,
    };
  };
}

/** The gradients of a binary op at the output's shape: each a kernel call or loop writing into out. */
type BinaryDerivative = (view: StepView, j: number) => (out: TypedArray) => void;

const binaryDerivatives: Partial<Record<BinaryKernel, BinaryDerivative>> = {
  // d(a + b) = da + db
  add: (view) => (out) => copyInto(view.upstream()._data, out),
  // d(a − b) = da − db
  sub: (view, j) => (out) => {
    const g = view.upstream()._data;
    if (j === 0) copyInto(g, out);
    else for (let i = 0; i < out.length; i++) out[i] = -g[i]!;
  },
  // d(a b) = b da + a db
  mul: (view, j) => (out) =>
    backend().binary(
      "mul",
      view.upstream()._data,
      view.outputShape,
      view.input(1 - j)._data,
      view.inputShapes[1 - j]!,
      out,
      view.outputShape,
    ),
  // d(a / b) = da / b − (a / b²) db = da / b − (y / b) db
  div: (view, j) => {
    if (j === 0) {
      return (out) =>
        backend().binary(
          "div",
          view.upstream()._data,
          view.outputShape,
          view.input(1)._data,
          view.inputShapes[1]!,
          out,
          view.outputShape,
        );
    }
    return (out) => {
      const shape = view.outputShape;
      const g = view.upstream()._data;
      const y = view.output()._data;
      for (let i = 0; i < out.length; i++) out[i] = g[i]! * -y[i]!;
      backend().binary("div", out, shape, view.input(1)._data, view.inputShapes[1]!, out, shape);
    };
  },
};

/** Whether input j's gradient of a binary op is its upstream gradient unchanged, where not broadcast. */
function passesThrough(kernel: BinaryKernel, j: number): boolean {
  return kernel === "add" || (kernel === "sub" && j === 0);
}

/**
 * The gradient of a binary op's input j: the op's derivative at the output's shape, summed down to the input's
 * shape when it was broadcast. Where the derivative is the upstream gradient itself (a sum's, a bias's), the
 * upstream is summed down directly (the same reduction, so the same bits) instead of a copy of it.
 */
function binaryGradient(kernel: BinaryKernel, derivative: BinaryDerivative, view: StepView, j: number) {
  const axes = broadcastAxes(view.outputShape, view.inputShapes[j]!);
  if (axes === null || !passesThrough(kernel, j)) return reducedTo(view, j, derivative(view, j));
  return (out: TypedArray) => backend().reduce("sum", view.upstream()._data, view.outputShape, axes, out);
}

function binary(kernel: BinaryKernel): Lowering {
  const derivative = binaryDerivatives[kernel];
  return (view) => ({
    forward: () =>
      backend().binary(
        kernel,
        view.input(0)._data,
        view.inputShapes[0]!,
        view.input(1)._data,
        view.inputShapes[1]!,
        view.output()._data,
        view.outputShape,
      ),
    backward: derivative === undefined ? null : (j) => binaryGradient(kernel, derivative, view, j),
    identity: (j) =>
      passesThrough(kernel, j) && broadcastAxes(view.outputShape, view.inputShapes[j]!) === null,
  });
}

// ---- linear algebra, reductions, layout --------------------------------------------------------------------

interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

/** The shapes of op(a) · op(b): m × k times k × n. */
function productShape(
  a: readonly number[],
  b: readonly number[],
  transA: boolean,
  transB: boolean,
): { m: number; n: number; k: number } {
  return { m: transA ? a[1]! : a[0]!, k: transA ? a[0]! : a[1]!, n: transB ? b[0]! : b[1]! };
}

/**
 * op(a) · op(b) for 2-D a and b into out. In a plan's arena, the product runs in place on the arrays' addresses
 * (B packed into the workspace), exactly as the backend's kernel runs it after copying them in, so that every
 * product gives the eager one's bits:
 * - in a region of the thread pool's shared memory (arena.ts), a product large enough to split in place
 *   (`splitsAcrossThreads` with `inPlace`, and `getThreads()` ≥ 2 now) is split, in place; any other, or
 *   any product once the pool failed or `setThreads(1)` was called, runs on one thread on the same memory;
 * - in a private arena, a product the backend would split goes to the backend (copied into the pool's memory
 *   and back), and the others run in place on one thread;
 * - a product too small for the WebAssembly kernel, or of arrays elsewhere, goes to the backend as eager ops do.
 *
 * With an `epilogue` (a float32 affine layer's bias and activation), a product that runs in place finishes its
 * output as act(out + bias) in the same pass (matmulBlockEpilogueF32: the bits of adding the bias row and then
 * applying the activation's kernel) and returns true; otherwise it returns false, and the caller applies it.
 */
export function product(
  a: Tensor,
  b: Tensor,
  transA: boolean,
  transB: boolean,
  out: TypedArray,
  arena: Arena | null = null,
  workspace: Workspace | null = null,
  epilogue: ProductEpilogue | null = null,
): boolean {
  const { m, n, k } = productShape(a.shape, b.shape, transA, transB);
  const flops = m * n * k;
  if (arena !== null && workspace !== null && workspace.bytes > 0 && flops >= wasmThresholds.matmulFlops) {
    const pool = arena.pool;
    // In the pool's memory a product splits in place (its own threshold); elsewhere the backend decides.
    const splits = getThreads() >= 2 && splitsAcrossThreads(m, n, k, pool !== null);
    const aAt = arena.addressOf(a._data);
    const bAt = arena.addressOf(b._data);
    const outAt = arena.addressOf(out);
    const f32 = out instanceof Float32Array;
    const float = f32 || out instanceof Float64Array;
    const sameType = a._data.constructor === out.constructor && b._data.constructor === out.constructor;
    if ((!splits || pool !== null) && aAt >= 0 && bAt >= 0 && outAt >= 0 && float && sameType) {
      const packedAt = workspace.at;
      // The epilogue runs in the kernel where its bias is a float32 row of n in the arena too.
      const biasAt =
        epilogue !== null && f32 && epilogue.bias instanceof Float32Array && epilogue.bias.length === n
          ? arena.addressOf(epilogue.bias)
          : -1;
      const finish = biasAt >= 0;
      const bias = finish ? biasAt : 0;
      const activation = finish ? epilogue!.activation : MATMUL_NO_ACTIVATION;
      if (
        splits &&
        pool !== null &&
        !pool.failed &&
        splitProductInPlace(pool, f32, aAt, bAt, outAt, m, n, k, transA, transB, packedAt, bias, activation)
      ) {
        return finish;
      }
      const e = arena.kernels.exports;
      const size = f32 ? 4 : 8;
      const scratchAt = packedAt + align16(e.matmulPackedBytes(n, k, size));
      (f32 ? e.matmulPackF32 : e.matmulPackF64)(bAt, n, k, transB ? 1 : 0, packedAt);
      if (finish) {
        e.matmulBlockEpilogueF32(
          aAt,
          packedAt,
          outAt,
          m,
          n,
          k,
          transA ? 1 : 0,
          0,
          m,
          0,
          n,
          scratchAt,
          bias,
          activation,
        );
        return true;
      }
      (f32 ? e.matmulRowsF32 : e.matmulRowsF64)(
        aAt,
        packedAt,
        outAt,
        m,
        n,
        k,
        transA ? 1 : 0,
        0,
        m,
        scratchAt,
      );
      return false;
    }
  }
  backend().matmul(a._data, b._data, out, {
    m,
    n,
    k,
    transA,
    transB,
    batch: 1,
    aOffsets: ZERO,
    bOffsets: ZERO,
    outOffsets: ZERO,
  });
  return false;
}

/**
 * What finishes an affine layer's product (`product`): out = act(out + bias), bias a row of the output's
 * columns, act a unary code of the kernels (relu, tanh, sigmoid) or MATMUL_NO_ACTIVATION.
 */
export interface ProductEpilogue {
  readonly bias: TypedArray;
  readonly activation: number;
}

const ZERO = [0] as const;

/**
 * Asks for the workspace the products of a matmul step and of its gradients need in the arena (null without
 * one); asking again for the same step changes nothing.
 */
export function planProducts(
  view: StepView,
  a: readonly number[],
  b: readonly number[],
  transA: boolean,
  transB: boolean,
): Workspace | null {
  const arena = view.arena;
  if (arena === null || view.dtype === "int32" || !view.resident(0) || !view.resident(1)) return null;
  const { m, n, k } = productShape(a, b, transA, transB);
  // The forward product and its gradients' (m × n · n × k and k × m · m × n, as flagged): one that would split
  // across threads makes the plan worth building in the thread pool's shared memory (arena.ts).
  arena.notesProduct(m, n, k);
  arena.notesProduct(m, k, n);
  arena.notesProduct(k, n, m);
  const size = view.dtype === "float32" ? 4 : 8;
  const e = arena.kernels.exports;
  // The forward product packs an n × k operand; the gradients' products pack k × n, m × n, n × m or k × m.
  const packed = [
    [n, k],
    [k, n],
    [m, n],
    [n, m],
    [k, m],
  ].map(([columns, depth]) => align16(e.matmulPackedBytes(columns!, depth!, size)));
  const bytes = Math.max(...packed);
  return view.workspace(bytes + e.matmulScratchBytes(size));
}

const matmul: Lowering<MatmulAttrs> = (view) => {
  if (view.inputShapes[0]!.length !== 2 || view.inputShapes[1]!.length !== 2) {
    return "matmul: only 2-D products are compiled (batched products run eagerly)";
  }
  const { transA, transB } = view.tracedAttrs;
  const workspace = planProducts(view, view.inputShapes[0]!, view.inputShapes[1]!, transA, transB);
  const arena = workspace === null ? null : view.arena;
  return {
    forward: () =>
      product(view.input(0), view.input(1), transA, transB, view.output()._data, arena, workspace),
    // C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC (with the transpose flags of the forward product)
    backward: (j) => (out) => {
      const g = view.upstream();
      const a = view.input(0);
      const b = view.input(1);
      if (j === 0) {
        if (transA) product(b, g, transB, true, out, arena, workspace);
        else product(g, b, false, !transB, out, arena, workspace);
      } else if (transB) product(g, a, true, transA, out, arena, workspace);
      else product(a, g, !transA, false, out, arena, workspace);
    },
  };
};

interface ReduceAttrs {
  axes: number[];
  keepDims: boolean;
}

const sum: Lowering<ReduceAttrs> = (view) => {
  const { axes } = view.tracedAttrs;
  const inputShape = view.inputShapes[0]!;
  const kept = reducedShape(inputShape, axes, true);
  return {
    forward: () => backend().reduce("sum", view.input(0)._data, inputShape, axes, view.output()._data),
    // d Σx = Σ dx: every entry receives the upstream gradient of its sum
    backward: () => (out) => backend().broadcastTo(view.upstream()._data, kept, out, inputShape),
  };
};

const reshape: Lowering = (view) => ({
  // A reshape shares its input's storage, whichever array that is in this call.
  forward: () => {
    view.output()._data = view.input(0)._data;
  },
  // d reshape(x) = reshape⁻¹(dx)
  backward: () => (out) => copyInto(view.upstream()._data, out),
  identity: () => true,
});

interface ConcatAttrs {
  axis: number;
}

const concat: Lowering<ConcatAttrs> = (view) => {
  const { axis } = view.tracedAttrs;
  const shape = view.outputShape;
  const { outer } = blockView(shape, [axis])!;
  const blocks = view.inputShapes.map((s) => (outer === 0 ? 0 : sizeOf(s) / outer));
  const parts: TypedArray[] = view.inputShapes.map(() => view.output()._data);
  const begins: number[][] = [];
  let offset = 0;
  for (const s of view.inputShapes) {
    begins.push(shape.map((_, d) => (d === axis ? offset : 0)));
    offset += s[axis]!;
  }
  return {
    // In the arena, a block copy per input in WebAssembly memory (see the wasm backend's concat).
    forward: () => {
      for (let j = 0; j < parts.length; j++) parts[j] = view.input(j)._data;
      backend().concat(parts, outer, blocks, view.output()._data);
    },
    // Each input receives its own block of the upstream gradient
    backward: (j) => (out) =>
      backend().slice(view.upstream()._data, shape, begins[j]!, view.inputShapes[j]!, out),
  };
};

interface GatherAttrs {
  axis: number;
  indices: Int32Array;
  sparse: boolean;
}

const gather: Lowering<GatherAttrs> = (view) => {
  const { axis } = view.tracedAttrs;
  const shape = view.inputShapes[0]!;
  const axisView = blockView(shape, [axis])!;
  // An embedding table (a parameter) moves into the arena, so that the optimiser updates its rows in place; a
  // forward-only plan reads it where it is (its rows are copied out one by one either way).
  if (view.isParameter(0) && view.trains) view.resident(0);
  // Each call's indices are copied into the arena too (once, by the forward; the backward reads that copy), so
  // that the backend's row kernels run there in place.
  const resident =
    view.arena === null ? null : (view.scratch(view.tracedAttrs.indices.length, "int32") as Int32Array);
  let bound: Int32Array = view.tracedAttrs.indices;
  return {
    forward: () => {
      const given = view.attrs().indices;
      bound = resident === null || given.length !== resident.length ? given : resident;
      if (bound !== given) bound.set(given);
      backend().gather(view.input(0)._data, axisView, bound, view.output()._data);
    },
    // Rows picked several times accumulate gradient (a row-sparse gradient is handled by the plan)
    backward: () => (out) => {
      out.fill(0);
      backend().scatterAdd(view.upstream()._data, axisView, bound, out);
    },
  };
};

// ---- losses -----------------------------------------------------------------------------------------------

interface CrossEntropyAttrs {
  targets: Int32Array;
  weight: Float64Array | null;
  ignoreIndex: number;
  reduction: "mean" | "sum" | "none";
}

/**
 * Softmax cross-entropy as two fused kernels: the forward computes the loss from the rows' log-softmax, and the
 * backward is one pass δ = w_t (softmax(x) − onehot(t)) dL (÷ Σw for the mean), the error signal of the
 * output layer. Both follow the op's rule (ops/nn.ts) number for number, rounding where its ops store.
 */
const crossEntropy: Lowering<CrossEntropyAttrs> = (view) => {
  const [n, c] = view.inputShapes[0] as [number, number];
  const { reduction } = view.tracedAttrs;
  if (reduction === "none") return 'crossEntropy: reduction "none" runs eagerly';
  const logProbabilities = new Float64Array(n * c);
  const probabilities = view.scratch(n * c);
  const exps = new Float64Array(c);
  // The wasm backend's kernel takes the exponentials in WebAssembly, in the arena where the logits live.
  const wasmExps = view.resident(0) ? (view.scratch(n * (c + 2), "float64") as Float64Array) : null;
  return {
    // The log-softmax for the loss and the softmax for the gradient in one pass (each exp once): the values
    // the backend's softmax kernel gives for each (see softmaxRows and softmaxRowsWasm).
    forward: () => {
      const x = view.input(0)._data;
      const { targets, weight, ignoreIndex } = view.attrs();
      // In WebAssembly, only the targets' log-probabilities are computed (x − max − log Σ, as for all).
      const stats =
        backend().softmax === wasmSoftmax ? softmaxRowsWasm(x, n, c, null, probabilities, wasmExps) : null;
      if (stats === null) softmaxRows(x, n, c, logProbabilities, probabilities, exps);
      let total = 0;
      let denominator = 0;
      for (let i = 0; i < n; i++) {
        const t = targets[i]!;
        if (t === ignoreIndex) continue;
        const w = weight ? weight[t]! : 1;
        const logProbability =
          stats === null
            ? logProbabilities[i * c + t]!
            : x[i * c + t]! - stats[2 * i]! - Math.log(stats[2 * i + 1]!);
        total += -w * logProbability;
        denominator += w;
      }
      view.output()._data[0] = reduction === "sum" ? total : denominator > 0 ? total / denominator : NaN;
    },
    // L_i = w_tᵢ (log Σ exp(xᵢ) − x_{i,tᵢ}): dxᵢ = w_tᵢ (softmax(xᵢ) − onehot(tᵢ)) dL (÷ Σw for the mean)
    backward: () => (out) => {
      const { targets, weight, ignoreIndex } = view.attrs();
      const g = view.upstream()._data[0]!;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const t = targets[i]!;
        if (t !== ignoreIndex) total += weight ? weight[t]! : 1;
      }
      const rows = { targets, weight, ignoreIndex, mean: reduction === "mean", total, g, c };
      if (out instanceof Float32Array && probabilities instanceof Float32Array) {
        softmaxGradientF32(out, probabilities, rows);
      } else softmaxGradient(out, probabilities, rows, rounding(out));
    },
  };
};

/** What the cross-entropy's gradient needs besides the probabilities: see softmaxGradient. */
interface SoftmaxGradientRows {
  targets: Int32Array;
  weight: Float64Array | null;
  ignoreIndex: number;
  mean: boolean;
  /** Σ w_tᵢ over the rows not ignored. */
  total: number;
  /** dL. */
  g: number;
  /** Classes per row. */
  c: number;
}

/**
 * dxᵢ = round(pᵢ − onehot(tᵢ)) · round(dL · w_tᵢ (÷ Σw for the mean)), rounding (`round`) where the eager rule's
 * ops store; 0 for an ignored row.
 */
function softmaxGradient(
  out: TypedArray,
  p: TypedArray,
  { targets, weight, ignoreIndex, mean, total, g, c }: SoftmaxGradientRows,
  round: (value: number) => number,
): void {
  for (let i = 0; i < targets.length; i++) {
    const row = i * c;
    const t = targets[i]!;
    let coefficient = 0;
    if (t !== ignoreIndex) {
      coefficient = round(weight ? weight[t]! : 1);
      if (mean && total > 0) coefficient = round(coefficient / total);
    }
    const scale = round(g * coefficient);
    for (let j = 0; j < c; j++) out[row + j] = round(p[row + j]! - (j === t ? 1 : 0)) * scale;
  }
}

/**
 * softmaxGradient for float32 arrays: one array type in the loop and Math.fround called directly (through a
 * variable holding it, the loop ran about five times slower).
 */
function softmaxGradientF32(
  out: Float32Array,
  p: Float32Array,
  { targets, weight, ignoreIndex, mean, total, g, c }: SoftmaxGradientRows,
): void {
  for (let i = 0; i < targets.length; i++) {
    const row = i * c;
    const t = targets[i]!;
    let coefficient = 0;
    if (t !== ignoreIndex) {
      coefficient = Math.fround(weight ? weight[t]! : 1);
      if (mean && total > 0) coefficient = Math.fround(coefficient / total);
    }
    const scale = Math.fround(g * coefficient);
    for (let j = 0; j < c; j++) out[row + j] = Math.fround(p[row + j]! - (j === t ? 1 : 0)) * scale;
  }
}

/**
 * The log-softmax (into `logOut`, float64) and the softmax (into `out`, rounded to its type) of each of the n rows
 * of c values of x, computed as the JavaScript backend's softmax kernel computes each (src/backend/js/reduce.ts):
 * shifted by the row's maximum (0 when it is −∞), x − max − log Σ and exp(x − max) / Σ, with each exp taken once
 * into `exps` (c values), so with the same bits as two calls of the kernel.
 */
export function softmaxRows(
  x: TypedArray,
  n: number,
  c: number,
  logOut: Float64Array,
  out: TypedArray,
  exps: Float64Array,
): void {
  for (let i = 0; i < n; i++) {
    const base = i * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) {
      const v = x[base + j]!;
      if (v > max) max = v;
    }
    if (max === -Infinity) max = 0;
    let total = 0;
    for (let j = 0; j < c; j++) {
      const e = Math.exp(x[base + j]! - max);
      exps[j] = e;
      total += e;
    }
    const logTotal = Math.log(total);
    for (let j = 0; j < c; j++) {
      logOut[base + j] = x[base + j]! - max - logTotal;
      out[base + j] = exps[j]! / total;
    }
  }
}

interface BinaryCrossEntropyAttrs {
  reduction: "mean" | "sum" | "none";
  posWeight: number;
}

/**
 * Binary cross-entropy on logits (the lecture's J = σ(s) classifier): the forward sums the per-element losses
 * p·t·softplus(−x) + (1 − t)·softplus(x) in float64 as the op does, and the backward is one pass
 * dx = ((1 − t)σ(x) − p·t(1 − σ(x))) dL (÷ N for the mean) after the σ kernel the eager rule runs, rounding
 * where the rule's ops store, so that it gives the eager gradient's bits.
 */
const binaryCrossEntropy: Lowering<BinaryCrossEntropyAttrs> = (view) => {
  const { reduction, posWeight } = view.tracedAttrs;
  if (reduction === "none") return 'binaryCrossEntropyWithLogits: reduction "none" runs eagerly';
  if (!shapesEqual(view.inputShapes[0]!, view.inputShapes[1]!)) {
    return "binaryCrossEntropyWithLogits: targets of another shape than the logits run eagerly";
  }
  const n = sizeOf(view.inputShapes[0]!);
  const probabilities = view.scratch(n);
  const arena = view.resident(0) ? view.arena : null;
  return {
    forward: () => {
      const x = view.input(0)._data;
      const t = view.input(1)._data;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const z = x[i]!;
        const y = t[i]!;
        // softplus(±z) computed without overflow
        const spNeg = Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
        const spPos = Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
        total += posWeight * y * spNeg + (1 - y) * spPos;
      }
      view.output()._data[0] = reduction === "sum" ? total : total / Math.max(1, n);
    },
    // L = p·t·softplus(−x) + (1 − t)·softplus(x): dx = ((1 − t)σ(x) − p·t·(1 − σ(x))) dL
    backward: (j) => {
      if (j !== 0) return null;
      return (out) => {
        const x = view.input(0)._data;
        const t = view.input(1)._data;
        const round = rounding(out);
        const g = view.upstream()._data[0]!;
        const scale = reduction === "mean" ? round(g * round(1 / Math.max(1, n))) : g;
        const weight = round(posWeight);
        unaryInto("sigmoid", x, probabilities, arena);
        if (
          out instanceof Float32Array &&
          probabilities instanceof Float32Array &&
          t instanceof Float32Array
        ) {
          logisticGradientF32(out, probabilities, t, scale, weight);
          return;
        }
        for (let i = 0; i < n; i++) {
          const s = probabilities[i]!;
          const y = t[i]!;
          const negative = round(round(1 - y) * s);
          const positive = round(round(y * weight) * round(1 - s));
          out[i] = round(scale * round(negative - positive));
        }
      };
    },
  };
};

/** The float32 loop of binaryCrossEntropyWithLogits' gradient (Math.fround called directly, as in softmaxGradientF32). */
function logisticGradientF32(
  out: Float32Array,
  probabilities: Float32Array,
  t: Float32Array,
  scale: number,
  weight: number,
): void {
  for (let i = 0; i < out.length; i++) {
    const s = probabilities[i]!;
    const y = t[i]!;
    const negative = Math.fround(Math.fround(1 - y) * s);
    const positive = Math.fround(Math.fround(y * weight) * Math.fround(1 - s));
    out[i] = Math.fround(scale * Math.fround(negative - positive));
  }
}

const UNARY: readonly UnaryKernel[] = ["neg", "exp", "log", "sqrt", "sigmoid", "tanh", "relu", "square"];
const BINARY: readonly BinaryKernel[] = ["add", "sub", "mul", "div"];

/** The ops `compile` knows, by op name. */
export const lowerings: ReadonlyMap<string, Lowering<never>> = new Map<string, Lowering<never>>([
  ...UNARY.map((op) => [op, unary(op)] as [string, Lowering<never>]),
  ...BINARY.map((op) => [op, binary(op)] as [string, Lowering<never>]),
  ["matmul", matmul],
  ["sum", sum],
  ["reshape", reshape],
  ["concat", concat],
  ["gather", gather],
  ["crossEntropy", crossEntropy],
  ["binaryCrossEntropyWithLogits", binaryCrossEntropy],
]);
