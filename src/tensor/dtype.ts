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

/** Node's `Buffer.allocUnsafeSlow` (memory not filled with zeros), or undefined outside Node. */
const allocUnsafeSlow = (globalThis as { Buffer?: { allocUnsafeSlow?: (bytes: number) => Uint8Array } })
  .Buffer?.allocUnsafeSlow;

/** Arrays from this many bytes up are allocated without zero-filling where that is possible. */
const UNINITIALIZED_BYTES = 4096;

/**
 * A typed array of `size` elements for `dtype` whose values the caller is about to overwrite, every one of
 * them (an op's output that its kernel writes in full): in Node, from 4 KB up, memory that is not filled with
 * zeros first (`Buffer.allocUnsafeSlow`; a 300 × 250 float32 gradient took 3 µs against 14 µs zero-filled), a
 * zero-filled array otherwise. Each array has an ArrayBuffer of its own.
 */
export function allocateUninitialized(dtype: DType, size: number): TypedArray {
  const bytes = size * (dtype === "float64" ? 8 : 4);
  let array: TypedArray;
  const unfilled =
    allocUnsafeSlow !== undefined && bytes >= UNINITIALIZED_BYTES ? allocUnsafeSlow(bytes) : null;
  if (unfilled === null || unfilled.byteOffset !== 0 || unfilled.buffer.byteLength !== bytes) {
    array = allocate(dtype, size);
  } else if (dtype === "float32") array = new Float32Array(unfilled.buffer, 0, size);
  else if (dtype === "float64") array = new Float64Array(unfilled.buffer, 0, size);
  else array = new Int32Array(unfilled.buffer, 0, size);
  if (uninitializedFill.value !== null) array.fill(uninitializedFill.value);
  return array;
}

/**
 * A value every array from allocateUninitialized is filled with, or null (the default: left as it is). Tests set
 * it (NaN, say) to check that the kernels write every value of the outputs they are given.
 */
export const uninitializedFill: { value: number | null } = { value: null };

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
