import type { DType, TypedArray } from "./dtype.js";

/**
 * Formats tensor values the way PyTorch prints them: a common number style for all elements (integers as
 * `1.`, fixed with 4 decimals, or scientific), right-aligned columns, nested brackets, and `...` in place
 * of the middle of dimensions when the tensor has more than `threshold` elements.
 */
export function formatValues(
  data: TypedArray,
  shape: readonly number[],
  dtype: DType,
  indent: number,
): string {
  const threshold = 1000;
  const edge = 3;
  const summarize = data.length > threshold;
  const format = chooseFormat(data, dtype);
  const strides: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  let width = 0;
  const visit = (offset: number, dim: number, collect: (v: number) => void): void => {
    if (dim === shape.length) {
      collect(data[offset]!);
      return;
    }
    const n = shape[dim]!;
    for (let i = 0; i < n; i++) {
      if (summarize && n > 2 * edge && i === edge) i = n - edge;
      visit(offset + i * strides[dim]!, dim + 1, collect);
    }
  };
  visit(0, 0, (v) => (width = Math.max(width, format(v).length)));

  const render = (offset: number, dim: number, pad: number): string => {
    if (dim === shape.length) return format(data[offset]!).padStart(width);
    const n = shape[dim]!;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (summarize && n > 2 * edge && i === edge) {
        parts.push("...");
        i = n - edge;
      }
      parts.push(render(offset + i * strides[dim]!, dim + 1, pad + 1));
    }
    if (dim === shape.length - 1) return `[${parts.join(", ")}]`;
    const separator = "," + "\n".repeat(shape.length - dim - 1) + " ".repeat(pad + 1);
    return `[${parts.join(separator)}]`;
  };
  if (shape.length === 0) return format(data[0]!);
  return render(0, 0, indent);
}

function chooseFormat(data: TypedArray, dtype: DType): (v: number) => string {
  if (dtype === "int32") return (v) => String(v);
  let allIntegral = true;
  let maxAbs = 0;
  let minAbs = Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    if (!Number.isInteger(v)) allIntegral = false;
    const a = Math.abs(v);
    if (a > maxAbs) maxAbs = a;
    if (a > 0 && a < minAbs) minAbs = a;
  }
  const special = (v: number): string | undefined =>
    Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : undefined;
  if (allIntegral && maxAbs < 1e8) return (v) => special(v) ?? `${v}.`;
  if (maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs !== Infinity) || maxAbs / minAbs > 1e6) {
    return (v) => special(v) ?? v.toExponential(4);
  }
  return (v) => special(v) ?? v.toFixed(4);
}
