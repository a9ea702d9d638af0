import { DTypeError, ShapeError, ValueError } from "../errors.js";
import { allocate, checkDType, dtypeOfArray, isFloatDType, type DType, type TypedArray } from "./dtype.js";
import { checkShape, shapeToString, sizeOf } from "./shape.js";
import { Tensor, type NestedArray } from "./tensor.js";
import { globalRandom } from "./random.js";

/** Options of `tensor(values, options)`. */
export interface TensorOptions {
  /** The element type; by default float32, or the typed array's own type when `values` is one. */
  dtype?: DType;
  /**
   * The shape to give the values (a flat array or typed array is reshaped to it); by default the nesting of `values`.
   */
  shape?: readonly number[];
  /** Track gradients for this leaf (float dtypes only; a `DTypeError` otherwise). */
  requiresGrad?: boolean;
}

/** Options of the creation functions (`zeros`, `ones`, `full`, `arange`, `randn`, …). */
export interface CreationOptions {
  /** The element type (default float32). */
  dtype?: DType;
  /** Track gradients for this leaf (float dtypes only; a `DTypeError` otherwise). */
  requiresGrad?: boolean;
}

function finish(t: Tensor, options: CreationOptions | undefined, where: string): Tensor {
  if (options?.requiresGrad) {
    if (!isFloatDType(t.dtype))
      throw new DTypeError(`${where}: only float32 and float64 tensors can require grad, not ${t.dtype}`);
    t._requiresGrad = true;
  }
  return t;
}

function optionDType(options: { dtype?: DType } | undefined, fallback: DType, where: string): DType {
  return options?.dtype === undefined ? fallback : checkDType(options.dtype, where);
}

/** Infers the shape of a nested array, checking that it is rectangular and holds only numbers. */
function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0]!;
  }
  const check = (value: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof value !== "number") {
        throw new ShapeError(
          `tensor: the nested array is ragged: element ${path} is ${Array.isArray(value) ? "an array" : typeof value}, expected a number`,
        );
      }
      return;
    }
    if (!Array.isArray(value) || value.length !== shape[dim]) {
      throw new ShapeError(
        `tensor: the nested array is ragged: element ${path || "[]"} has ${Array.isArray(value) ? `length ${value.length}` : "no length"}, expected ${shape[dim]}`,
      );
    }
    for (let i = 0; i < value.length; i++) check(value[i]!, dim + 1, `${path}[${i}]`);
  };
  check(data, 0, "");
  return shape;
}

function flattenInto(data: NestedArray, out: TypedArray, offset: { i: number }): void {
  if (typeof data === "number") {
    out[offset.i++] = data;
    return;
  }
  for (const item of data) flattenInto(item, out, offset);
}

/**
 * Creates a tensor from a number, a nested array, a flat number array or a typed array. A flat array with
 * `options.shape` is laid out row-major. Floats default to float32; a Float64Array or Int32Array keeps its
 * dtype unless `options.dtype` says otherwise.
 */
export function tensor(
  data: number | NestedArray | readonly number[] | TypedArray | ArrayLike<number>,
  options: TensorOptions = {},
): Tensor {
  let natural: DType = "float32";
  let flat: ArrayLike<number> | null = null;
  let shape: number[];
  if (typeof data === "number") {
    shape = [];
    flat = [data];
  } else if (ArrayBuffer.isView(data)) {
    natural = dtypeOfArray(data as ArrayBufferView) ?? "float32";
    flat = data as TypedArray;
    shape = [flat.length];
  } else if (Array.isArray(data)) {
    shape = nestedShape(data as NestedArray);
  } else if (data && typeof data === "object" && typeof (data as ArrayLike<number>).length === "number") {
    flat = Array.from(data as ArrayLike<number>);
    shape = [flat.length];
  } else {
    throw new ValueError(`tensor: cannot make a tensor from ${data === null ? "null" : typeof data}`);
  }
  const dtype = optionDType(options, natural, "tensor");
  const size = sizeOf(shape);
  const array = allocate(dtype, size);
  if (flat !== null) {
    for (let i = 0; i < size; i++) {
      const v = flat[i]!;
      if (typeof v !== "number")
        throw new ValueError(`tensor: element ${i} is ${typeof v}, expected a number`);
      array[i] = v;
    }
  } else flattenInto(data as NestedArray, array, { i: 0 });
  if (options.shape !== undefined) {
    const target = checkShape(options.shape, "tensor");
    if (sizeOf(target) !== size) {
      throw new ShapeError(
        `tensor: ${size} value${size === 1 ? "" : "s"} cannot be laid out in shape ${shapeToString(target)} (${sizeOf(target)} values)`,
      );
    }
    shape = target;
  }
  return finish(new Tensor(array, shape, dtype), options, "tensor");
}

/** Wraps an existing typed array without copying (internal helper for kernels' outputs). */
export function fromData(data: TypedArray, shape: readonly number[], dtype?: DType): Tensor {
  return new Tensor(data, shape, dtype ?? dtypeOfArray(data)!);
}

/**
 * A tensor of `shape` filled with `value` (float32 unless `options.dtype` says otherwise).
 *
 * @throws {@link ShapeError} for a shape that is not a list of non-negative integers.
 */
export function full(shape: readonly number[], value: number, options: CreationOptions = {}): Tensor {
  const s = checkShape(shape, "full");
  const dtype = optionDType(options, "float32", "full");
  const data = allocate(dtype, sizeOf(s));
  if (value !== 0) data.fill(value);
  return finish(new Tensor(data, s, dtype), options, "full");
}

/**
 * A tensor of `shape` filled with 0.
 *
 * @example
 * ```ts
 * const b = zeros([5], { requiresGrad: true }); // a bias vector to train
 * ```
 */
export function zeros(shape: readonly number[], options: CreationOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of `shape` filled with 1. */
export function ones(shape: readonly number[], options: CreationOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** A tensor of 0 with the shape and (unless `options.dtype` is given) the dtype of `t`. */
export function zerosLike(t: Tensor, options: CreationOptions = {}): Tensor {
  return full(t.shape, 0, { dtype: t.dtype, ...options });
}

/** A tensor of 1 with the shape and (unless `options.dtype` is given) the dtype of `t`. */
export function onesLike(t: Tensor, options: CreationOptions = {}): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, ...options });
}

/** Values from `start` up to (not including) `stop` in steps of `step`; `arange(n)` is 0 … n − 1. */
export function arange(start: number, stop?: number, step = 1, options: CreationOptions = {}): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step))
    throw new ValueError(`arange: step must be a finite non-zero number, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(stop))
    throw new ValueError("arange: start and stop must be finite");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dtype = optionDType(options, "float32", "arange");
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return finish(new Tensor(data, [n], dtype), options, "arange");
}

/** `num` evenly spaced values from `start` to `stop`, both included. */
export function linspace(start: number, stop: number, num: number, options: CreationOptions = {}): Tensor {
  if (!Number.isInteger(num) || num < 0)
    throw new ValueError(`linspace: num must be a non-negative integer, got ${num}`);
  const dtype = optionDType(options, "float32", "linspace");
  const data = allocate(dtype, num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) data[i] = i === num - 1 && num > 1 ? stop : start + i * step;
  return finish(new Tensor(data, [num], dtype), options, "linspace");
}

/** The n × m identity matrix (m defaults to n). */
export function eye(n: number, m: number = n, options: CreationOptions = {}): Tensor {
  const shape = checkShape([n, m], "eye");
  const dtype = optionDType(options, "float32", "eye");
  const data = allocate(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return finish(new Tensor(data, shape, dtype), options, "eye");
}

/** Uniform random values in [0, 1), from the generator seeded by `seed(n)`. */
export function rand(shape: readonly number[], options: CreationOptions = {}): Tensor {
  const s = checkShape(shape, "rand");
  const dtype = optionDType(options, "float32", "rand");
  if (!isFloatDType(dtype)) throw new DTypeError("rand: dtype must be float32 or float64");
  const data = allocate(dtype, sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = globalRandom.uniform();
  return finish(new Tensor(data, s, dtype), options, "rand");
}

/** Standard normal random values, from the generator seeded by `seed(n)`. */
export function randn(shape: readonly number[], options: CreationOptions = {}): Tensor {
  const s = checkShape(shape, "randn");
  const dtype = optionDType(options, "float32", "randn");
  if (!isFloatDType(dtype)) throw new DTypeError("randn: dtype must be float32 or float64");
  const data = allocate(dtype, sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = globalRandom.normal();
  return finish(new Tensor(data, s, dtype), options, "randn");
}
