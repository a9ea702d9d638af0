/**
 * Symbolic shapes of the matrix-calculus language: scalars, column vectors, row vectors (transposed vectors)
 * and matrices, with dimensions that are names (`n`, `m`) or numbers.
 */
import { ValueError } from "../../errors.js";

/** A dimension: a symbol such as `n`, or a number. */
export type Dim = string | number;

/** The shape of a quantity in matrix calculus: a scalar, a column vector, a row vector or a matrix. */
export type Shape =
  | {
      /** A scalar. */
      readonly kind: "scalar";
    }
  | {
      /** A column vector (n × 1), as x ∈ ℝⁿ is in the lecture. */
      readonly kind: "vector";
      /** Its length. */
      readonly n: Dim;
    }
  | {
      /** A row vector (1 × n), such as uᵀ or a gradient written as a row. */
      readonly kind: "row";
      /** Its length. */
      readonly n: Dim;
    }
  | {
      /** A matrix. */
      readonly kind: "matrix";
      /** Its number of rows. */
      readonly rows: Dim;
      /** Its number of columns. */
      readonly cols: Dim;
    };

export const SCALAR: Shape = Object.freeze({ kind: "scalar" });

export function vectorShape(n: Dim): Shape {
  return { kind: "vector", n };
}

export function rowShape(n: Dim): Shape {
  return { kind: "row", n };
}

export function matrixShape(rows: Dim, cols: Dim): Shape {
  return { kind: "matrix", rows, cols };
}

export function isScalar(s: Shape): boolean {
  return s.kind === "scalar";
}

/** Number of rows when the shape is read as a matrix (a column vector is n × 1, a row 1 × n, a scalar 1 × 1). */
export function rowsOf(s: Shape): Dim {
  switch (s.kind) {
    case "scalar":
    case "row":
      return 1;
    case "vector":
      return s.n;
    case "matrix":
      return s.rows;
  }
}

export function colsOf(s: Shape): Dim {
  switch (s.kind) {
    case "scalar":
    case "vector":
      return 1;
    case "row":
      return s.n;
    case "matrix":
      return s.cols;
  }
}

export function dimsEqual(a: Dim, b: Dim): boolean {
  return a === b;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "scalar":
      return true;
    case "vector":
    case "row":
      return a.n === (b as { n: Dim }).n;
    case "matrix":
      return a.rows === (b as { rows: Dim }).rows && a.cols === (b as { cols: Dim }).cols;
  }
}

export function transposeShape(s: Shape): Shape {
  switch (s.kind) {
    case "scalar":
      return s;
    case "vector":
      return rowShape(s.n);
    case "row":
      return vectorShape(s.n);
    case "matrix":
      return matrixShape(s.cols, s.rows);
  }
}

/** True for a square matrix. */
export function isSquare(s: Shape): boolean {
  return s.kind === "matrix" && s.rows === s.cols;
}

/**
 * The shape of the matrix product `a b` of two non-scalar shapes, or null when the inner dimensions differ.
 * A row times a column is a scalar, a matrix times a column a column, a row times a matrix a row, and a
 * column times a row (an outer product) a matrix. A scalar (a 1 × 1 product inside a chain) scales the other.
 */
export function productShape(a: Shape, b: Shape): Shape | null {
  // A 1 × 1 product inside a chain (the xᵀy of x yᵀ... or xᵀy zᵀ) acts as a scalar.
  if (a.kind === "scalar") return b;
  if (b.kind === "scalar") return a;
  if (!dimsEqual(colsOf(a), rowsOf(b))) return null;
  const leftRow = a.kind === "row";
  const rightColumn = b.kind === "vector";
  if (leftRow && rightColumn) return SCALAR;
  if (leftRow) return rowShape(colsOf(b));
  if (rightColumn) return vectorShape(rowsOf(a));
  return matrixShape(rowsOf(a), colsOf(b));
}

/** The shape of an elementwise combination (equal shapes, or a scalar broadcast), or null. */
export function elementwiseShape(a: Shape, b: Shape): Shape | null {
  if (a.kind === "scalar") return b;
  if (b.kind === "scalar") return a;
  return shapesEqual(a, b) ? a : null;
}

/** Compact form for error messages: `n×m`, `n`, `1×n`, `scalar`. */
export function shapeToCompact(s: Shape): string {
  return formatShape(s, "×");
}

/** Readable form: `n × m`, `n`, `1 × n`, `scalar`. */
export function shapeToText(s: Shape): string {
  return formatShape(s, " × ");
}

function formatShape(s: Shape, times: string): string {
  switch (s.kind) {
    case "scalar":
      return "scalar";
    case "vector":
      return String(s.n);
    case "row":
      return `1${times}${s.n}`;
    case "matrix":
      return `${s.rows}${times}${s.cols}`;
  }
}

/** The shape of a matrix of `rows` × `cols` given as the dimensions of a Jacobian (1 × 1 is a scalar). */
export function jacobianShape(rows: Dim, cols: Dim): Shape {
  if (rows === 1 && cols === 1) return SCALAR;
  return matrixShape(rows, cols);
}

/** The dimensions of a shape as the matrix it is read as: [rows, cols]. */
export function asMatrixDims(s: Shape): [Dim, Dim] {
  return [rowsOf(s), colsOf(s)];
}

/** The symbolic dimensions (names) that occur in a shape. */
export function symbolsOf(s: Shape): string[] {
  const out: string[] = [];
  for (const d of [rowsOf(s), colsOf(s)]) if (typeof d === "string" && !out.includes(d)) out.push(d);
  return out;
}

/** How a declared shape may be written. */
export type ShapeSpec = string | number | readonly (string | number)[];

const DIM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseDim(text: string, where: string): Dim {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1 || !Number.isSafeInteger(n))
      throw new ValueError(`${where}: dimension ${t} must be at least 1`);
    return n;
  }
  if (DIM_NAME.test(t)) return t;
  throw new ValueError(
    `${where}: '${t}' is not a dimension (use a name such as n or a positive integer such as 3)`,
  );
}

function dimOf(value: string | number, where: string): Dim {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ValueError(`${where}: dimension ${value} must be a positive integer`);
    return value;
  }
  if (typeof value !== "string") throw new ValueError(`${where}: a dimension must be a name or a number`);
  return parseDim(value, where);
}

function fromDims(dims: Dim[], where: string): Shape {
  if (dims.length === 0) return SCALAR;
  if (dims.length === 1) return vectorShape(dims[0]!);
  if (dims.length === 2) return matrixShape(dims[0]!, dims[1]!);
  throw new ValueError(
    `${where}: only scalars, vectors and matrices are supported, got ${dims.length} dimensions`,
  );
}

/**
 * Reads a declared shape: `"scalar"` (or `""`, `[]`), a vector `"m"` / `3` / `[3]`, a matrix `"n×m"`,
 * `"n x m"`, `"n*m"`, `"[3, 4]"` or `[3, 4]`. Vectors are columns.
 */
export function parseShape(spec: ShapeSpec, variable = "shape"): Shape {
  const where = `shape of ${variable}`;
  if (typeof spec === "number") return vectorShape(dimOf(spec, where));
  if (Array.isArray(spec))
    return fromDims(
      spec.map((d) => dimOf(d, where)),
      where,
    );
  if (typeof spec !== "string") {
    throw new ValueError(`${where}: expected a string such as "n×m", a number or an array of dimensions`);
  }
  let text = spec.trim();
  if (text === "" || text === "scalar" || text === "()" || text === "[]") return SCALAR;
  if (text.startsWith("[") || text.startsWith("(")) {
    const close = text.startsWith("[") ? "]" : ")";
    if (!text.endsWith(close)) throw new ValueError(`${where}: unbalanced brackets in '${spec}'`);
    text = text.slice(1, -1).trim();
    if (text === "") return SCALAR;
    return fromDims(
      text.split(",").map((d) => parseDim(d, where)),
      where,
    );
  }
  // `x` separates dimensions when spaced ("n x m"), between numbers ("3x4") or between single letters ("nxm").
  const single = /^([A-Za-z])x([A-Za-z])$/.exec(text);
  const separated = single
    ? [single[1]!, single[2]!]
    : text.split(/\s*×\s*|\s*\*\s*|\s*,\s*|\s+x\s+|(?<=\d)x(?=\d)|\s+by\s+/);
  return fromDims(
    separated.map((d) => parseDim(d, where)),
    where,
  );
}
