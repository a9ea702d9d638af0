import type { Backend } from "../backend.js";
import { activationBackward, binary, broadcastTo, cast, unary } from "./elementwise.js";
import { concat, gather, scatterAdd, slice, sliceAdd, sumRows, transpose } from "./layout.js";
import { determinant, inverse } from "./linalg.js";
import { matmul } from "./matmul.js";
import { logSumExp, reduce, softmax } from "./reduce.js";

/** The reference backend: every kernel in plain TypeScript over typed arrays. Runs anywhere. */
export const jsBackend: Backend = {
  name: "js",
  unary,
  binary,
  reduce,
  broadcastTo,
  matmul,
  transpose,
  slice,
  sliceAdd,
  concat,
  gather,
  scatterAdd,
  sumRows,
  softmax,
  logSumExp,
  cast,
  inverse,
  determinant,
  activationBackward,
};
