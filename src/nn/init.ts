/**
 * Seeded initialisers. Each returns a new tensor of the given shape, drawn from the global generator
 * (`seed(n)` makes them reproducible) or from `options.random`. Fan-in and fan-out follow PyTorch's layout:
 * a weight of shape [out, in, …] has fanIn = in · (receptive field) and fanOut = out · (receptive field); a
 * vector of length n has fanIn = fanOut = n.
 */
import { DTypeError, ShapeError, ValueError, quoteInput } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { allocate, checkDType, isFloatDType, type FloatDType } from "../tensor/dtype.js";
import { checkShape, sizeOf } from "../tensor/shape.js";
import { globalRandom, type Random } from "../tensor/random.js";

/** Options of every initialiser. */
export interface InitOptions {
  /** float32 (default) or float64. */
  dtype?: FloatDType;
  /** The generator to draw from (default: the global one, reset by `seed(n)`). */
  random?: Random;
  /** Mark the result as requiring grad (default false). */
  requiresGrad?: boolean;
}

/** Options of the scaled initialisers (Glorot/Xavier, He/Kaiming). */
export interface ScaledInitOptions extends InitOptions {
  /** A factor on the standard deviation (or bound), e.g. 5/3 for tanh as in PyTorch's `calculate_gain`. */
  gain?: number;
}

function make(
  shape: readonly number[],
  options: InitOptions,
  where: string,
  draw: (random: Random) => number,
): Tensor {
  const s = checkShape(shape, where);
  const dtype = options.dtype === undefined ? "float32" : checkDType(options.dtype, where);
  if (!isFloatDType(dtype)) throw new DTypeError(`${where}: dtype must be float32 or float64, not ${dtype}`);
  const random = options.random ?? globalRandom;
  const data = allocate(dtype, sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = draw(random);
  const t = new Tensor(data, s, dtype);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

function checkFinite(value: number, name: string, where: string): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ValueError(`${where}: ${name} must be a finite number, got ${quoteInput(value)}`);
  }
}

/** [fanIn, fanOut] of a weight of `shape` (PyTorch's convention: [out, in, …receptive field]). */
export function fans(shape: readonly number[]): [number, number] {
  const s = checkShape(shape, "fans");
  if (s.length === 0) throw new ShapeError("fans: a 0-d tensor has no fan-in or fan-out");
  if (s.length === 1) return [s[0]!, s[0]!];
  let receptive = 1;
  for (let d = 2; d < s.length; d++) receptive *= s[d]!;
  return [s[1]! * receptive, s[0]! * receptive];
}

function gainOf(options: ScaledInitOptions, where: string): number {
  const gain = options.gain ?? 1;
  checkFinite(gain, "gain", where);
  if (gain < 0) throw new ValueError(`${where}: gain must be ≥ 0, got ${gain}`);
  return gain;
}

function fansOf(shape: readonly number[], where: string): [number, number] {
  const [fanIn, fanOut] = fans(shape);
  if (fanIn === 0 || fanOut === 0) {
    throw new ShapeError(`${where}: cannot initialise a weight with a zero fan-in or fan-out`);
  }
  return [fanIn, fanOut];
}

/** Uniform in [low, high). */
export function uniform(shape: readonly number[], low = 0, high = 1, options: InitOptions = {}): Tensor {
  checkFinite(low, "low", "uniform");
  checkFinite(high, "high", "uniform");
  if (low > high) throw new ValueError(`uniform: need low ≤ high, got ${low} and ${high}`);
  return make(shape, options, "uniform", (r) => low + (high - low) * r.uniform());
}

/** Normal with the given mean and standard deviation. */
export function normal(shape: readonly number[], mean = 0, std = 1, options: InitOptions = {}): Tensor {
  checkFinite(mean, "mean", "normal");
  checkFinite(std, "std", "normal");
  if (std < 0) throw new ValueError(`normal: std must be ≥ 0, got ${std}`);
  return make(shape, options, "normal", (r) => mean + std * r.normal());
}

/** All zeros (draws nothing from the generator). */
export function zeros(shape: readonly number[], options: InitOptions = {}): Tensor {
  return make(shape, options, "zeros", () => 0);
}

/**
 * Glorot (Xavier) uniform: U(−a, a) with a = gain · √(6 / (fanIn + fanOut)), which keeps the variance of
 * activations and of gradients about equal across a layer (Glorot and Bengio, 2010). Linear's default.
 */
export function glorotUniform(shape: readonly number[], options: ScaledInitOptions = {}): Tensor {
  const gain = gainOf(options, "glorotUniform");
  const [fanIn, fanOut] = fansOf(shape, "glorotUniform");
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return make(shape, options, "glorotUniform", (r) => bound * (2 * r.uniform() - 1));
}

/** Glorot (Xavier) normal: N(0, σ²) with σ = gain · √(2 / (fanIn + fanOut)) (not truncated). */
export function glorotNormal(shape: readonly number[], options: ScaledInitOptions = {}): Tensor {
  const gain = gainOf(options, "glorotNormal");
  const [fanIn, fanOut] = fansOf(shape, "glorotNormal");
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  return make(shape, options, "glorotNormal", (r) => std * r.normal());
}

/**
 * He (Kaiming) normal: N(0, σ²) with σ = gain · √(2 / fanIn), suited to ReLU layers (He et al., 2015).
 * `gain` multiplies that σ (default 1).
 */
export function heNormal(shape: readonly number[], options: ScaledInitOptions = {}): Tensor {
  const gain = gainOf(options, "heNormal");
  const [fanIn] = fansOf(shape, "heNormal");
  const std = gain * Math.sqrt(2 / fanIn);
  return make(shape, options, "heNormal", (r) => std * r.normal());
}

/** He (Kaiming) uniform: U(−a, a) with a = gain · √(6 / fanIn), the same variance as `heNormal`. */
export function heUniform(shape: readonly number[], options: ScaledInitOptions = {}): Tensor {
  const gain = gainOf(options, "heUniform");
  const [fanIn] = fansOf(shape, "heUniform");
  const bound = gain * Math.sqrt(6 / fanIn);
  return make(shape, options, "heUniform", (r) => bound * (2 * r.uniform() - 1));
}

/** An initialiser: given a shape and options, returns a fresh tensor. */
export type Initializer = (shape: readonly number[], options?: InitOptions) => Tensor;
