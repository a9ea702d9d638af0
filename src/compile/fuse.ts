/**
 * Fusion of a plan's elementwise work into the pass that produces its input, where nothing else reads the
 * intermediate values: the affine layer's bias and activation run in one pass over the matmul's output
 * (h = f(x·Wᵀ + b) is computed in place in h's buffer, z = x·Wᵀ and x·Wᵀ + b are never written).
 */
import { getBackend } from "../backend/index.js";
import type { TypedArray } from "../tensor/dtype.js";
import { product, type StepView } from "./lowering.js";
import type { Trace } from "./trace.js";

/** Adds the bias to each row of a row-major block, in place. */
function addBias(y: TypedArray, bias: TypedArray, rows: number, columns: number): void {
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

/**
 * The activation applied in place after the bias: relu in the same pass, tanh and σ with the backend's
 * vectorised kernel (exact to float64, as the eager op computes them; a scalar Math.tanh costs more).
 */
const epilogues: Record<string, (y: TypedArray, bias: TypedArray, rows: number, columns: number) => void> = {
  identity: addBias,
  relu: addBiasRelu,
  tanh: (y, bias, rows, columns) => {
    addBias(y, bias, rows, columns);
    getBackend().unary("tanh", y, y);
  },
  sigmoid: (y, bias, rows, columns) => {
    addBias(y, bias, rows, columns);
    getBackend().unary("sigmoid", y, y);
  },
};

/**
 * Rewrites `forwards` (by step) for each matmul → add(bias) [→ tanh | relu | sigmoid] chain whose
 * intermediates have no other reader: the last step of the chain runs the product into its own buffer and
 * applies bias and activation in the same pass; the earlier steps do nothing.
 */
export function fuse(
  trace: Trace,
  forwards: ((() => void) | null)[],
  consumers: readonly (readonly number[])[],
  view: (s: number) => StepView,
): number {
  const { steps, values } = trace;
  const only = (v: number): number => (consumers[v]!.length === 1 ? consumers[v]![0]! : -1);
  let fused = 0;
  for (let m = 0; m < steps.length; m++) {
    const matmul = steps[m]!;
    if (matmul.op !== "matmul" || values[matmul.output]!.shape.length !== 2) continue;
    if (trace.backward?.root === matmul.output) continue;
    const a = only(matmul.output);
    const add = a < 0 ? null : steps[a]!;
    if (add === null || add.op !== "add" || add.inputs[0] !== matmul.output) continue;
    const [rows, columns] = values[matmul.output]!.shape as [number, number];
    const bias = values[add.inputs[1]!]!;
    const biasSize = bias.shape.reduce((x, y) => x * y, 1);
    if (biasSize !== columns || bias.shape[bias.shape.length - 1] !== columns) continue;
    if (values[add.output]!.shape.join() !== values[matmul.output]!.shape.join()) continue;
    const t = only(add.output);
    const activation = t >= 0 && steps[t]!.op in epilogues && trace.backward?.root !== add.output ? t : -1;
    const last = activation >= 0 ? activation : a;
    const epilogue = epilogues[activation >= 0 ? steps[activation]!.op : "identity"]!;
    const { transA, transB } = matmul.attrs as { transA: boolean; transB: boolean };
    const productView = view(m);
    const addView = view(a);
    const lastView = view(last);
    forwards[m] = null;
    forwards[a] = null;
    forwards[last] = () => {
      const y = lastView.output()._data;
      product(productView.input(0), productView.input(1), transA, transB, y);
      epilogue(y, addView.input(1)._data, rows, columns);
    };
    fused++;
  }
  return fused;
}
