import type { DType } from "../tensor/dtype.js";
import type { OpRule } from "../graph/rule.js";

/** Loss reductions. */
export type Reduction = "mean" | "sum" | "none";

/**
 * Every primitive op and the attributes its forward and backward read. Adding a name here without a rule in
 * the op table (`table.ts`) is a compile error, and so is a rule without a backward.
 */
export interface OpAttrs {
  // elementwise unary
  neg: null;
  exp: null;
  log: null;
  sqrt: null;
  abs: null;
  sigmoid: null;
  tanh: null;
  relu: null;
  sin: null;
  cos: null;
  square: null;
  sign: null;
  clamp: { min: number; max: number };
  astype: { dtype: DType };
  // elementwise binary
  add: null;
  sub: null;
  mul: null;
  div: null;
  pow: null;
  maximum: null;
  minimum: null;
  greater: null;
  greaterEqual: null;
  less: null;
  lessEqual: null;
  equal: null;
  // reductions
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  min: { axes: number[]; keepDims: boolean };
  logSumExp: { axes: number[]; keepDims: boolean };
  // shape
  reshape: { shape: number[] };
  broadcastTo: { shape: number[] };
  transpose: { perm: number[] };
  slice: { begin: number[]; size: number[] };
  pad: { begin: number[]; shape: number[] };
  concat: { axis: number };
  gather: { axis: number; indices: Int32Array; sparse: boolean };
  scatterAdd: { axis: number; indices: Int32Array; shape: number[] };
  // linear algebra
  matmul: { transA: boolean; transB: boolean };
  inv: null;
  det: null;
  logdet: null;
  // neural-net functions
  softmax: { axis: number };
  logSoftmax: { axis: number };
  crossEntropy: {
    targets: Int32Array;
    weight: Float64Array | null;
    ignoreIndex: number;
    reduction: Reduction;
  };
  binaryCrossEntropyWithLogits: { reduction: Reduction; posWeight: number };
}

export type OpName = keyof OpAttrs;

export type { BackwardContext, InputGrad, JvpContext, OpRule } from "../graph/rule.js";

export type OpTable = { [P in OpName]: OpRule<OpAttrs[P]> };
