import { ShapeError } from "../errors.js";
import type { Tensor } from "./tensor.js";
import { shapeToString } from "./shape.js";
import * as ops from "../ops/index.js";

/**
 * A row-sparse gradient: only the rows `indices` of a tensor of shape `shape` are non-zero, with values
 * `values` (shape `[indices.length, ...shape.slice(1)]`). An embedding lookup produces one, so that its
 * gradient and update cost scale with the rows a batch used rather than with the vocabulary.
 * Indices may repeat until `coalesce()` sums them.
 */
export class RowSparse {
  readonly shape: readonly number[];
  readonly indices: Int32Array;
  readonly values: Tensor;

  constructor(shape: readonly number[], indices: Int32Array, values: Tensor) {
    if (values.shape[0] !== indices.length || values.ndim !== shape.length) {
      throw new ShapeError(
        `RowSparse: values of shape ${shapeToString(values.shape)} do not fit ${indices.length} rows of ${shapeToString(shape)}`,
      );
    }
    this.shape = shape;
    this.indices = indices;
    this.values = values;
  }

  get dtype(): Tensor["dtype"] {
    return this.values.dtype;
  }

  /** Number of values in one row. */
  get rowSize(): number {
    let size = 1;
    for (let d = 1; d < this.shape.length; d++) size *= this.shape[d]!;
    return size;
  }

  /** The same gradient with each row index once (duplicates summed), indices ascending. */
  coalesce(): RowSparse {
    const n = this.indices.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.indices[a]! - this.indices[b]!);
    const unique: number[] = [];
    const slot = new Int32Array(n);
    for (const i of order) {
      const row = this.indices[i]!;
      if (unique.length === 0 || unique[unique.length - 1] !== row) unique.push(row);
      slot[i] = unique.length - 1;
    }
    const values = ops.scatterAdd(this.values, slot, 0, [unique.length, ...this.shape.slice(1)]);
    return new RowSparse(this.shape, Int32Array.from(unique), values);
  }

  /** The dense tensor this gradient stands for. */
  toDense(): Tensor {
    return ops.scatterAdd(this.values, this.indices, 0, this.shape);
  }

  /** Concatenates two row-sparse gradients of the same tensor (no summing). */
  concat(other: RowSparse): RowSparse {
    const indices = new Int32Array(this.indices.length + other.indices.length);
    indices.set(this.indices);
    indices.set(other.indices, this.indices.length);
    return new RowSparse(this.shape, indices, ops.concat([this.values, other.values], 0));
  }

  /** The same gradient multiplied by a number. */
  scale(factor: number): RowSparse {
    return new RowSparse(
      this.shape,
      this.indices,
      ops.noGrad(() => ops.mul(this.values, factor)),
    );
  }
}
