import { DTypeError } from "../errors.js";

/** A tensor's element type: float32 for training, float64 for checking, int32 for indices and labels. */
export type DType = "float32" | "float64" | "int32";
/** The dtypes that can carry gradients. */
export type FloatDType = "float32" | "float64";
/** The storage of a tensor: a typed array of its dtype. */
export type TypedArray = Float32Array | Float64Array | Int32Array;

export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
}

export const DTYPES: readonly DType[] = ["float32", "float64", "int32"];

export function isDType(value: unknown): value is DType {
  return value === "float32" || value === "float64" || value === "int32";
}

export function isFloatDType(dtype: DType): dtype is FloatDType {
  return dtype !== "int32";
}

/** Allocates a zero-filled typed array of `size` elements for `dtype`. */
export function allocate(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
  }
}

/** The dtype a typed array stores, or undefined for typed arrays chainrule does not store natively. */
export function dtypeOfArray(array: ArrayBufferView): DType | undefined {
  if (array instanceof Float32Array) return "float32";
  if (array instanceof Float64Array) return "float64";
  if (array instanceof Int32Array) return "int32";
  return undefined;
}

export function checkDType(dtype: unknown, where: string): DType {
  if (!isDType(dtype)) {
    throw new DTypeError(
      `${where}: unknown dtype ${JSON.stringify(dtype)} (expected float32, float64 or int32)`,
    );
  }
  return dtype;
}
