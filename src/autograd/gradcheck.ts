import { GradientError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { tensor } from "../tensor/creation.js";
import { Random } from "../tensor/random.js";
import { isFloatDType } from "../tensor/dtype.js";
import { gradients } from "./engine.js";
import { mul, sum } from "../ops/index.js";

/** Options of {@link gradcheck}. An element passes when |analytic − numeric| ≤ atol + rtol·|numeric|. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Throw on failure (default true); with false, inspect `passed` in the report. */
  raise?: boolean;
  /** Seed of the random cotangent used for non-scalar outputs (default 0). */
  seed?: number;
}

/** How one input of a gradient check fared. */
export interface GradcheckInputReport {
  /** Position of the input in the `inputs` list. */
  index: number;
  /** The input tensor's `name`, if it has one. */
  name: string | undefined;
  /** The largest |analytic − numeric| over the input's elements. */
  maxAbsError: number;
  /** The largest |analytic − numeric| / |numeric| over the elements whose numeric gradient exceeds `atol`. */
  maxRelError: number;
  /** The element with the largest error (relative to the tolerance), or null for an empty input. */
  worst: {
    /** Its multi-index in the input. */
    index: number[];
    /** The gradient backpropagation gave. */
    analytic: number;
    /** The central finite difference (f(x + ε) − f(x − ε)) / 2ε. */
    numeric: number;
  } | null;
  /** True when every element of this input is within tolerance. */
  passed: boolean;
}

/** The result of {@link gradcheck}: one entry per input that requires grad. */
export interface GradcheckReport {
  /** True when every input passed. */
  passed: boolean;
  /** The report of each checked input, in argument order. */
  inputs: GradcheckInputReport[];
}

function multiIndex(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return index;
}

/**
 * Compares backpropagation with central finite differences, in float64, for every element of every input
 * that requires grad. Float inputs are copied to float64 first. A non-scalar output f is checked through
 * L = Σ r ∘ f with a fixed random r, which exercises every column of the vector–Jacobian product.
 * Returns a report; throws a {@link GradientError} naming the input and element with the worst mismatch
 * when the check fails (unless `raise: false`).
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: Tensor | readonly Tensor[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  const list = inputs instanceof Tensor ? [inputs] : [...inputs];
  const copies = list.map((t) => {
    if (!(t instanceof Tensor)) throw new ValueError("gradcheck: inputs must be tensors");
    if (!isFloatDType(t.dtype)) return t;
    const copy = tensor(Float64Array.from(t.data), { dtype: "float64", shape: t.shape });
    copy.requiresGrad = t.requiresGrad;
    copy.name = t.name;
    return copy;
  });
  const checked = copies.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  if (checked.length === 0)
    throw new ValueError("gradcheck: no input requires grad, so there is nothing to check");

  const first = fn(...copies);
  if (!(first instanceof Tensor)) throw new ValueError("gradcheck: the function must return a Tensor");
  if (first.dtype !== "float64") {
    throw new ValueError(
      `gradcheck: the function returned ${first.dtype}; it must keep float64 inputs in float64`,
    );
  }
  let cotangent: Tensor | null = null;
  if (first.size !== 1) {
    const random = new Random(options.seed ?? 0);
    cotangent = tensor(
      Array.from({ length: first.size }, () => random.normal()),
      { dtype: "float64", shape: first.shape },
    );
  }
  const scalar = (out: Tensor): Tensor => (cotangent ? sum(mul(out, cotangent)) : sum(out));
  const analytic = gradients(
    [scalar(first)],
    checked.map((i) => copies[i]!),
  );
  // Evaluated in the caller's grad mode (not under noGrad), so that functions which compute gradients
  // themselves, such as grad-of-grad checks, still work.
  const evaluate = (): number => scalar(fn(...copies)).item();

  const reports: GradcheckInputReport[] = [];
  checked.forEach((inputIndex, k) => {
    const x = copies[inputIndex]!;
    const data = x.data;
    const a = analytic[k]!.data;
    let maxAbs = 0;
    let maxRel = 0;
    let worstScore = -1;
    let worst: GradcheckInputReport["worst"] = null;
    let passed = true;
    for (let j = 0; j < data.length; j++) {
      const saved = data[j]!;
      data[j] = saved + eps;
      const plus = evaluate();
      data[j] = saved - eps;
      const minus = evaluate();
      data[j] = saved;
      const numeric = (plus - minus) / (2 * eps);
      const value = a[j]!;
      const absError = Math.abs(value - numeric);
      const relError = absError / Math.max(Math.abs(numeric), 1e-12);
      maxAbs = Math.max(maxAbs, absError);
      if (Math.abs(numeric) > atol) maxRel = Math.max(maxRel, relError);
      const allowed = atol + rtol * Math.abs(numeric);
      const score = Number.isNaN(absError) ? Infinity : absError / allowed;
      if (score > 1 || Number.isNaN(value) !== Number.isNaN(numeric)) passed = false;
      if (score > worstScore) {
        worstScore = score;
        worst = { index: multiIndex(j, x.shape), analytic: value, numeric };
      }
    }
    reports.push({
      index: inputIndex,
      name: x.name,
      maxAbsError: maxAbs,
      maxRelError: maxRel,
      worst,
      passed,
    });
  });
  const report: GradcheckReport = { passed: reports.every((r) => r.passed), inputs: reports };
  if (!report.passed && options.raise !== false) {
    const bad = reports.find((r) => !r.passed)!;
    const label = bad.name ? `"${bad.name}"` : `${bad.index}`;
    throw new GradientError(
      `gradcheck: the gradient of input ${label} disagrees with finite differences at element ` +
        `[${bad.worst!.index.join(", ")}]: backprop gives ${bad.worst!.analytic}, finite differences ` +
        `${bad.worst!.numeric} (max abs error ${bad.maxAbsError.toExponential(3)}, atol ${atol}, rtol ${rtol})`,
    );
  }
  return report;
}
