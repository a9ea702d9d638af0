/** Numbers and arrays as the page shows them. */
import type { NestedArray } from "./lib.js";

export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (Object.is(v, -0)) return "0";
  if (Number.isInteger(v)) return String(v).replace("-", "−");
  const a = Math.abs(v);
  const text = a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
  return text.replace("-", "−");
}

export function formatValue(value: NestedArray | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return formatNumber(value);
  if (value.length === 1) return formatValue(value[0]!);
  return `[${value.map((v) => formatValue(v)).join(", ")}]`;
}

/** All the numbers of a nested array, row-major, with its rows and columns as a matrix (a vector is a column). */
export function asMatrix(value: NestedArray): { rows: number; cols: number; data: number[] } {
  if (typeof value === "number") return { rows: 1, cols: 1, data: [value] };
  if (value.length === 0) return { rows: 0, cols: 0, data: [] };
  if (typeof value[0] === "number") return { rows: value.length, cols: 1, data: value as number[] };
  const rows = value as NestedArray[];
  const data: number[] = [];
  let cols = 0;
  for (const row of rows) {
    const m = asMatrix(row);
    cols = m.rows * m.cols;
    data.push(...m.data);
  }
  return { rows: rows.length, cols, data };
}

/** True for a number or a one-element array (a 1 × 1 result, shown as its number). */
export function isScalarValue(value: NestedArray | null | undefined): boolean {
  if (value === null || value === undefined) return false;
  return typeof value === "number" || (value.length === 1 && isScalarValue(value[0]!));
}
