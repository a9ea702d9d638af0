/**
 * Fusion of a plan's elementwise work into the pass that produces its input, where nothing else reads the
 * intermediate values: the affine layer's bias and activation are applied by the matmul kernel to each block of
 * its output while the block is in cache (float32 in the plan's WebAssembly memory), or in one pass over the
 * output after it (h = f(x·Wᵀ + b) is computed in place in h's buffer, z = x·Wᵀ and x·Wᵀ + b are never
 * written, and share h's storage).
 */
import type { TypedArray } from "../tensor/dtype.js";
import type { Arena } from "./arena.js";
import { planProducts, product, unaryInto, type StepView } from "./lowering.js";
import { UNARY_CODES } from "../backend/wasm/elementwise.js";
import { MATMUL_NO_ACTIVATION } from "../backend/wasm/runtime.js";
import { wasmThresholds } from "../backend/wasm/thresholds.js";
import type { Trace } from "./trace.js";

/**
 * Adds the bias to each row of a row-major block, in place: with the WebAssembly row kernel where both live in
 * the plan's arena (the same additions, rounded the same way), else in JavaScript.
 */
function addBias(
  y: TypedArray,
  bias: TypedArray,
  rows: number,
  columns: number,
  arena: Arena | null = null,
): void {
  const yAt = arena === null ? -1 : arena.addressOf(y);
  const biasAt = arena === null ? -1 : arena.addressOf(bias);
  if (arena !== null && yAt >= 0 && biasAt >= 0 && y.constructor === bias.constructor) {
    if (y instanceof Float32Array) {
      arena.kernels.exports.addRowF32(yAt, biasAt, rows, columns);
      return;
    }
    if (y instanceof Float64Array) {
      arena.kernels.exports.addRowF64(yAt, biasAt, rows, columns);
      return;
    }
  }
  if (y instanceof Float32Array && bias instanceof Float32Array) {
    addBiasF32(y, bias, rows, columns);
    return;
  }
  for (let i = 0, at = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++, at++) y[at] = y[at]! + bias[j]!;
  }
}

/** addBias on Float32Arrays only (a loop the engine compiles for one array type runs several times faster). */
function addBiasF32(y: Float32Array, bias: Float32Array, rows: number, columns: number): void {
  for (let i = 0, at = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++, at++) y[at] = y[at]! + bias[j]!;
  }
}

/** Adds the bias and applies relu in one pass, in place. */
function addBiasRelu(y: TypedArray, bias: TypedArray, rows: number, columns: number): void {
  for (let i = 0, at = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++, at++) {
      const z = y[at]! + bias[j]!;
      y[at] = z > 0 ? z : 0;
    }
  }
}

type Epilogue = (y: TypedArray, bias: TypedArray, rows: number, columns: number, arena: Arena | null) => void;

/**
 * The activation applied in place after the bias: relu in the same pass, tanh and σ with the vectorised
 * kernel the eager op runs (exact to float64, as the eager op computes them; a scalar Math.tanh costs more).
 */
const epilogues: Record<string, Epilogue> = {
  identity: addBias,
  relu: addBiasRelu,
  tanh: (y, bias, rows, columns, arena) => {
    addBias(y, bias, rows, columns, arena);
    unaryInto("tanh", y, y, arena);
  },
  sigmoid: (y, bias, rows, columns, arena) => {
    addBias(y, bias, rows, columns, arena);
    unaryInto("sigmoid", y, y, arena);
  },
};

/**
 * The activation code the product kernel applies for an epilogue (MATMUL_NO_ACTIVATION for the bias only), or
 * null where it must not: tanh and σ of fewer values than the WebAssembly kernels take run in JavaScript as
 * the eager op, whose last bit can differ.
 */
function kernelActivation(activation: string, values: number): number | null {
  if (activation === "identity") return MATMUL_NO_ACTIVATION;
  if (activation === "relu") return UNARY_CODES.relu!;
  if (activation !== "tanh" && activation !== "sigmoid") return null;
  return values >= wasmThresholds.elementwise ? UNARY_CODES[activation]! : null;
}

/** A matmul → add(bias) [→ activation] chain: its steps, the last of which computes the chain. */
export interface FusedChain {
  /** The matmul and the add (when an activation follows): their outputs are never written. */
  readonly steps: readonly number[];
  /** The step computing the chain's result: the activation, or the add. */
  readonly last: number;
}

/**
 * The matmul → add(bias) [→ tanh | relu | sigmoid] chains whose intermediates have no other reader (and are
 * not what backward starts from).
 */
export function fusedChains(trace: Trace, consumers: readonly (readonly number[])[]): FusedChain[] {
  const { steps, values } = trace;
  const only = (v: number): number => (consumers[v]!.length === 1 ? consumers[v]![0]! : -1);
  const chains: FusedChain[] = [];
  for (let m = 0; m < steps.length; m++) {
    const matmul = steps[m]!;
    if (matmul.op !== "matmul" || values[matmul.output]!.shape.length !== 2) continue;
    if (values[matmul.inputs[0]!]!.shape.length !== 2 || values[matmul.inputs[1]!]!.shape.length !== 2)
      continue;
    if (trace.backward?.root === matmul.output) continue;
    const a = only(matmul.output);
    const add = a < 0 ? null : steps[a]!;
    if (add === null || add.op !== "add" || add.inputs[0] !== matmul.output) continue;
    const columns = values[matmul.output]!.shape[1]!;
    const bias = values[add.inputs[1]!]!;
    const biasSize = bias.shape.reduce((x, y) => x * y, 1);
    if (biasSize !== columns || bias.shape[bias.shape.length - 1] !== columns) continue;
    if (bias.dtype !== values[matmul.output]!.dtype) continue;
    if (values[add.output]!.shape.join() !== values[matmul.output]!.shape.join()) continue;
    const t = only(add.output);
    const activation = t >= 0 && steps[t]!.op in epilogues && trace.backward?.root !== add.output ? t : -1;
    chains.push(activation >= 0 ? { steps: [m, a], last: activation } : { steps: [m], last: a });
  }
  return chains;
}

/**
 * Rewrites `forwards` (by step) for each chain: the last step of the chain runs the product into its own
 * buffer and applies bias and activation in the same pass; the earlier steps do nothing.
 */
export function fuse(
  trace: Trace,
  chains: readonly FusedChain[],
  forwards: ((() => void) | null)[],
  view: (s: number) => StepView,
): number {
  const { steps, values } = trace;
  for (const { steps: fused, last } of chains) {
    const m = fused[0]!;
    const a = fused.length === 2 ? fused[1]! : last;
    const matmul = steps[m]!;
    const [rows, columns] = values[matmul.output]!.shape as [number, number];
    const epilogue = epilogues[last === a ? "identity" : steps[last]!.op]!;
    const { transA, transB } = matmul.attrs as { transA: boolean; transB: boolean };
    const productView = view(m);
    const addView = view(a);
    const lastView = view(last);
    const shapes = productView.inputShapes;
    const workspace = planProducts(productView, shapes[0]!, shapes[1]!, transA, transB);
    const arena = workspace === null ? null : productView.arena;
    // The bias moves into the arena too (a parameter's data then stays there), for the bias kernel.
    addView.resident(1);
    for (const s of fused) forwards[s] = null;
    const activation = kernelActivation(last === a ? "identity" : steps[last]!.op, rows * columns);
    forwards[last] = () => {
      const y = lastView.output()._data;
      const bias = addView.input(1)._data;
      const finish = activation === null ? null : { bias, activation };
      if (!product(productView.input(0), productView.input(1), transA, transB, y, arena, workspace, finish))
        epilogue(y, bias, rows, columns, lastView.arena);
    };
  }
  return chains.length;
}
