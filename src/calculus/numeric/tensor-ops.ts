/**
 * Matrix functions the symbolic engine needs that are not primitives of the op table, built from primitives
 * (so they are differentiable and run on any backend): trace, diagonal matrices and diagonals, outer
 * products, the Euclidean / Frobenius norm and the indicator 1(a > b).
 */
import { ShapeError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { eye } from "../../tensor/creation.js";
import { shapeToString } from "../../tensor/shape.js";
import { add, equal, greater, matmul, mul, reshape, sqrt, square, sum } from "../../ops/index.js";

function squareSize(x: Tensor, op: string): number {
  if (x.ndim !== 2 || x.shape[0] !== x.shape[1]) {
    throw new ShapeError(`${op}: expected a square matrix, got ${shapeToString(x.shape)}`);
  }
  return x.shape[0]!;
}

/** tr(X) = Σᵢ Xᵢᵢ of a square matrix, as a 0-d tensor. */
export function trace(x: Tensor): Tensor {
  const n = squareSize(x, "trace");
  return sum(mul(x, eye(n, n, { dtype: x.dtype })));
}

/** diag(v): the n × n matrix with v on its diagonal. */
export function diagMatrix(v: Tensor): Tensor {
  if (v.ndim !== 1) throw new ShapeError(`diagMatrix: expected a vector, got ${shapeToString(v.shape)}`);
  const n = v.shape[0]!;
  // Iₙ ∘ v broadcasts v along the rows, so entry (i, j) is δᵢⱼ vⱼ.
  return mul(eye(n, n, { dtype: v.dtype }), v);
}

/** diag(X): the diagonal of a square matrix, as a vector. */
export function diagonal(x: Tensor): Tensor {
  const n = squareSize(x, "diagonal");
  return sum(mul(x, eye(n, n, { dtype: x.dtype })), 1);
}

/** a bᵀ: the outer product of two vectors. */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) {
    throw new ShapeError(
      `outer: expected two vectors, got ${shapeToString(a.shape)} and ${shapeToString(b.shape)}`,
    );
  }
  return matmul(reshape(a, [-1, 1]), reshape(b, [1, -1]));
}

/** ‖x‖: the Euclidean norm of a vector, the Frobenius norm of a matrix (a 0-d tensor). */
export function norm2(x: Tensor): Tensor {
  return sqrt(sum(square(x)));
}

/** 1(a > b) elementwise, ½ where a = b (as the backward of max splits ties), with broadcasting. */
export function indicatorGreater(a: Tensor, b: Tensor | number): Tensor {
  return add(greater(a, b), mul(equal(a, b), 0.5));
}
