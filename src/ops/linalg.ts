import { ShapeError, ValueError } from "../errors.js";
import { broadcastShapes, shapeToString, sizeOf, stridesOf } from "../tensor/shape.js";
import type { Tensor } from "../tensor/tensor.js";
import { applyRule } from "../graph/apply.js";
import { backend, checkFloat, checkTensor, empty, operands, unfilled } from "./helpers.js";
import type { OpRule } from "../graph/rule.js";
import { add, mul, neg } from "./elementwise.js";
import { sum } from "./reduce.js";
import { reshape, transpose } from "./shape.js";

/** Offsets of each batch matrix of `shape` (batch dims first) inside the broadcast batch `batchShape`. */
function batchOffsets(
  shape: readonly number[],
  batchShape: readonly number[],
  matrixSize: number,
): Int32Array {
  const own = shape.slice(0, -2);
  const batch = sizeOf(batchShape);
  const offsets = new Int32Array(batch);
  if (own.length === 0 || sizeOf(own) === 1) return offsets;
  const ownStrides = stridesOf(own);
  const lead = batchShape.length - own.length;
  const index = new Array<number>(batchShape.length).fill(0);
  for (let b = 0; b < batch; b++) {
    let offset = 0;
    for (let d = 0; d < own.length; d++) if (own[d] !== 1) offset += index[d + lead] * ownStrides[d];
    offsets[b] = offset * matrixSize;
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++index[d] < batchShape[d]) break;
      index[d] = 0;
    }
  }
  return offsets;
}

function matmulShapes(a: Tensor, b: Tensor, transA: boolean, transB: boolean) {
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  return { m, k, kb, n };
}

function transposeLastTwo(t: Tensor): Tensor {
  const perm = t.shape.map((_, i) => i);
  const n = perm.length;
  [perm[n - 2], perm[n - 1]] = [perm[n - 1], perm[n - 2]];
  return transpose(t, perm);
}

/** The attributes each op of this file records (what its forward and backward read). */
interface Attrs {
  /** op(a) · op(b); backward: ∂L/∂a = upstream · op(b)ᵀ, ∂L/∂b = op(a)ᵀ · upstream (transposes in flags). */
  matmul: {
    /** Whether a's last two axes are used swapped (aᵀ). */
    transA: boolean;
    /** Whether b's last two axes are used swapped (bᵀ). */
    transB: boolean;
  };
  /** X⁻¹; backward: −X⁻ᵀ · upstream · X⁻ᵀ. */
  inv: null;
  /** det X; backward: upstream · det X · X⁻ᵀ. */
  det: null;
  /** log |det X|; backward: upstream · X⁻ᵀ. */
  logdet: null;
}

export const linalgRules: { [P in keyof Attrs]: OpRule<Attrs[P]> } = {
  matmul: {
    forward: ([a, b], { transA, transB }) => {
      const { m, k, n } = matmulShapes(a, b, transA, transB);
      const batchShape = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "matmul");
      // Every value is written, except by an empty product (k = 0), which must give zeros.
      const out = (k > 0 ? unfilled : empty)([...batchShape, m, n], a.dtype);
      const batch = sizeOf(batchShape);
      const outOffsets = new Int32Array(batch);
      for (let i = 0; i < batch; i++) outOffsets[i] = i * m * n;
      backend().matmul(a._data, b._data, out._data, {
        m,
        n,
        k,
        transA,
        transB,
        batch,
        aOffsets: batchOffsets(a.shape, batchShape, m * k),
        bOffsets: batchOffsets(b.shape, batchShape, k * n),
        outOffsets,
      });
      return out;
    },
    // C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC (transposes are kernel flags, never copies; batch broadcasting is
    // summed back by the engine)
    backward: (upstream, { inputs: [a, b], attrs: { transA, transB }, needsGrad }) => {
      let da: Tensor | null = null;
      let db: Tensor | null = null;
      if (needsGrad[0])
        da = transA ? matmulT(b, upstream, transB, true) : matmulT(upstream, b, false, !transB);
      if (needsGrad[1])
        db = transB ? matmulT(upstream, a, true, transA) : matmulT(a, upstream, !transA, false);
      return [da, db];
    },
    // forward: d(A·B) = dA·B + A·dB
    jvp: ([da, db], { inputs: [a, b], attrs: { transA, transB } }) => {
      const fromA = da && matmulT(da, b, transA, transB);
      const fromB = db && matmulT(a, db, transA, transB);
      return fromA && fromB ? add(fromA, fromB) : (fromA ?? fromB);
    },
    describe: {
      infix: true,
      label: ({ grouped: [a, b] }, { transA, transB }) =>
        `${a}${transA ? "ᵀ" : ""} @ ${b}${transB ? "ᵀ" : ""}`,
      jacobian: ([a, b], { transA, transB }) => {
        const at = transA ? `${a}ᵀ` : a;
        const bt = transB ? `${b}ᵀ` : b;
        return [
          `(·)(${bt})ᵀ: downstream = upstream · (${bt})ᵀ`,
          `(${at})ᵀ(·): downstream = (${at})ᵀ · upstream`,
        ];
      },
    },
  },
  inv: {
    forward: ([x]) => {
      const n = x.shape[x.ndim - 1];
      const out = empty(x.shape, x.dtype);
      if (!backend().inverse(x._data, n, x.size / (n * n || 1), out._data)) {
        throw new ValueError(`inv: the matrix of shape ${shapeToString(x.shape)} is singular`);
      }
      return out;
    },
    // d(X⁻¹) = −X⁻¹ dX X⁻¹, so ∂L/∂X = −X⁻ᵀ G X⁻ᵀ
    backward: (upstream, { output }) => [
      neg(matmulT(matmulT(output, upstream, true, false), output, false, true)),
    ],
    jvp: ([dx], { output }) => neg(matmulT(matmulT(output, dx!, false, false), output, false, false)),
    describe: { jacobian: ([x]) => [`−${x}⁻ᵀ (·) ${x}⁻ᵀ`] },
  },
  det: {
    forward: ([x]) => {
      const n = x.shape[x.ndim - 1];
      const out = empty(x.shape.slice(0, -2), x.dtype);
      backend().determinant(x._data, n, out.size, out._data, false);
      return out;
    },
    // d det(X) = det(X) tr(X⁻¹ dX), so ∂L/∂X = g det(X) X⁻ᵀ
    backward: (upstream, { inputs: [x], output }) => [
      mul(reshape(mul(upstream, output), [...output.shape, 1, 1]), transposeLastTwo(inv(x))),
    ],
    // forward: tr(X⁻¹ dX) = Σᵢⱼ (X⁻ᵀ)ᵢⱼ dXᵢⱼ
    jvp: ([dx], { inputs: [x], output }) => mul(output, sum(mul(transposeLastTwo(inv(x)), dx!), [-2, -1])),
    describe: { jacobian: ([x]) => [`det(${x}) ${x}⁻ᵀ`] },
  },
  logdet: {
    forward: ([x]) => {
      const n = x.shape[x.ndim - 1];
      const out = empty(x.shape.slice(0, -2), x.dtype);
      backend().determinant(x._data, n, out.size, out._data, true);
      return out;
    },
    // d log|det X| = tr(X⁻¹ dX), so ∂L/∂X = g X⁻ᵀ
    backward: (upstream, { inputs: [x] }) => [
      mul(reshape(upstream, [...upstream.shape, 1, 1]), transposeLastTwo(inv(x))),
    ],
    // forward: tr(X⁻¹ dX) = Σᵢⱼ (X⁻ᵀ)ᵢⱼ dXᵢⱼ
    jvp: ([dx], { inputs: [x] }) => sum(mul(transposeLastTwo(inv(x)), dx!), [-2, -1]),
    describe: { jacobian: ([x]) => [`${x}⁻ᵀ`] },
  },
};

/** Runs one of this file's primitives on `inputs`, recording it for backward (graph/apply.ts). */
function apply<P extends keyof Attrs>(op: P, inputs: Tensor[], attrs: Attrs[P]): Tensor {
  return applyRule(op, linalgRules[op] as OpRule<Attrs[P]>, inputs, attrs);
}

/** The primitive: op(a) · op(b) over the last two axes, batch axes broadcast. */
function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  return apply("matmul", [a, b], { transA, transB });
}

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Use aᵀ (the last two axes swapped) without copying. */
  transposeA?: boolean;
  /** Use bᵀ (the last two axes swapped) without copying. */
  transposeB?: boolean;
}

/**
 * Matrix product with NumPy semantics: 1-D · 1-D is a dot product, a 1-D operand is a row (left) or column
 * (right) vector that is dropped from the result, and leading batch axes broadcast.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  [a, b] = operands(
    checkTensor(a, "matmul", "first operand"),
    checkTensor(b, "matmul", "second operand"),
    "matmul",
  );
  checkFloat(a, "matmul");
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(
      `matmul: operands must have at least one dimension, got ${shapeToString(a.shape)} @ ${shapeToString(b.shape)}`,
    );
  }
  const transA = options.transposeA === true && a.ndim >= 2;
  const transB = options.transposeB === true && b.ndim >= 2;
  const vectorA = a.ndim === 1;
  const vectorB = b.ndim === 1;
  const a2 = vectorA ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = vectorB ? reshape(b, [b.shape[0], 1]) : b;
  const { m, k, kb, n } = matmulShapes(a2, b2, transA, transB);
  if (k !== kb) {
    const show = (t: Tensor, tr: boolean) => shapeToString(t.shape) + (tr ? "ᵀ" : "");
    throw new ShapeError(`matmul: inner dimensions differ: ${show(a, transA)} @ ${show(b, transB)}`);
  }
  const batchShape = broadcastShapes(
    a2.shape.slice(0, -2),
    b2.shape.slice(0, -2),
    "matmul (batch dimensions)",
  );
  const out = matmulT(a2, b2, transA, transB);
  if (!vectorA && !vectorB) return out;
  const shape = [...batchShape];
  if (!vectorA) shape.push(m);
  if (!vectorB) shape.push(n);
  return reshape(out, shape);
}

function checkSquare(x: Tensor, op: string): void {
  checkTensor(x, op);
  checkFloat(x, op);
  if (x.ndim < 2 || x.shape[x.ndim - 1] !== x.shape[x.ndim - 2]) {
    throw new ShapeError(
      `${op}: expected a square matrix (or a batch of them), got ${shapeToString(x.shape)}`,
    );
  }
}

/** Matrix inverse (of the last two axes; batched). Throws on a singular matrix. */
export function inv(x: Tensor): Tensor {
  checkSquare(x, "inv");
  return apply("inv", [x], null);
}

/** Determinant (of the last two axes; batched). */
export function det(x: Tensor): Tensor {
  checkSquare(x, "det");
  return apply("det", [x], null);
}

/** log |det X| (of the last two axes; batched); its gradient is X⁻ᵀ. */
export function logdet(x: Tensor): Tensor {
  checkSquare(x, "logdet");
  return apply("logdet", [x], null);
}
