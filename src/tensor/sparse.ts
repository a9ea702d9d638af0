// RowSparse lives beside Tensor (tensor.ts), whose gradient storage holds one; this path is kept for imports.
export { RowSparse } from "./tensor.js";
