/**
 * The Tensor methods' types, merged into the Tensor class's declaration: `t.add(u)`, `t.backward()`, `t.T`.
 * The methods themselves are in tensor-methods.ts. (The merging sits in a file of its own because TypeScript
 * drops a file's imports of the module it augments from its emitted declarations, and the methods' signatures
 * need those imports.)
 */
import type { tensorMethods } from "./tensor-methods.js";

/**
 * The methods every Tensor has (`t.add(u)`, `t.matmul(W)`, `t.backward()`, …), each the op of the same name
 * applied to the tensor. Entry points export this type so that their declarations load the methods onto
 * `Tensor`.
 */
export type TensorMethods = typeof tensorMethods;

declare module "../tensor/tensor.js" {
  interface Tensor extends TensorMethods {
    /** The transpose of a matrix (all axes reversed), as in `Wᵀ`. */
    readonly T: Tensor;
  }
}
