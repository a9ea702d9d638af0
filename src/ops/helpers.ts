import { DTypeError, ValueError } from "../errors.js";
import { allocate, allocateUninitialized, isFloatDType, type DType } from "../tensor/dtype.js";
import { shapeToString } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { getBackend, type Backend } from "../backend/index.js";

export function backend(): Backend {
  return getBackend();
}

/** A fresh zero-filled output tensor. */
export function empty(shape: readonly number[], dtype: DType): Tensor {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i];
  return new Tensor(allocate(dtype, size), shape, dtype);
}

/**
 * A fresh output tensor whose every value the caller's kernel writes (see allocateUninitialized): its values
 * before that are unspecified.
 */
export function unfilled(shape: readonly number[], dtype: DType): Tensor {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i]!;
  return new Tensor(allocateUninitialized(dtype, size), shape, dtype);
}

/** A 0-d tensor holding `value` in `dtype`. */
export function scalarLike(value: number, dtype: DType): Tensor {
  const data = allocate(dtype, 1);
  data[0] = value;
  return new Tensor(data, [], dtype);
}

export function checkTensor(value: unknown, op: string, what = "argument"): Tensor {
  if (!(value instanceof Tensor)) {
    throw new ValueError(
      `${op}: the ${what} must be a Tensor, got ${value === null ? "null" : typeof value}`,
    );
  }
  return value;
}

export function checkFloat(t: Tensor, op: string): void {
  if (!isFloatDType(t.dtype)) {
    throw new DTypeError(
      `${op}: expected a float32 or float64 tensor, got ${t.dtype} of shape ${shapeToString(t.shape)} (use astype)`,
    );
  }
}

/**
 * Turns the operands of a binary op into two tensors of one dtype. A plain number takes the dtype of the
 * tensor beside it; two tensors must already share a dtype (chainrule never promotes silently).
 */
export function operands(a: Tensor | number, b: Tensor | number, op: string): [Tensor, Tensor] {
  if (typeof a === "number") {
    if (typeof b === "number") return [scalarLike(a, "float32"), scalarLike(b, "float32")];
    checkTensor(b, op, "second operand");
    return [scalarLike(a, b.dtype), b];
  }
  checkTensor(a, op, "first operand");
  if (typeof b === "number") return [a, scalarLike(b, a.dtype)];
  checkTensor(b, op, "second operand");
  if (a.dtype !== b.dtype) {
    throw new DTypeError(
      `${op}: cannot mix ${a.dtype} ${shapeToString(a.shape)} and ${b.dtype} ${shapeToString(b.shape)}; convert one with astype`,
    );
  }
  return [a, b];
}

export { checkSameShapeAndDType } from "../tensor/tensor.js";
export { checkIndexRange } from "../tensor/shape.js";

/** Converts an index list (int32 tensor, number array or Int32Array) to an Int32Array plus its shape. */
export function toIndices(
  indices: Tensor | readonly number[] | Int32Array,
  op: string,
): { data: Int32Array; shape: number[] } {
  if (indices instanceof Tensor) {
    if (indices.dtype !== "int32") {
      throw new DTypeError(
        `${op}: indices must be an int32 tensor, got ${indices.dtype} (use astype("int32"))`,
      );
    }
    return { data: indices.data as Int32Array, shape: indices.shape.slice() };
  }
  if (indices instanceof Int32Array) return { data: indices, shape: [indices.length] };
  if (!Array.isArray(indices))
    throw new ValueError(`${op}: indices must be an int32 tensor or an array of integers`);
  const data = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (typeof v !== "number" || !Number.isInteger(v)) {
      throw new DTypeError(`${op}: indices must be integers, got ${JSON.stringify(v)} at position ${i}`);
    }
    data[i] = v;
  }
  return { data, shape: [indices.length] };
}
