import { describe, expect, it } from "vitest";
import {
  ChainruleError,
  DTypeError,
  GraphError,
  ShapeError,
  ValueError,
  add,
  concat,
  crossEntropy,
  gather,
  inv,
  matmul,
  ones,
  reshape,
  slice,
  softmax,
  stack,
  sum,
  tensor,
  transpose,
  zeros,
} from "../../src/index.js";

function expectError(
  fn: () => unknown,
  type: new (...args: never[]) => Error,
  message: RegExp | string,
): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected an error").toBeInstanceOf(type);
  expect(caught).toBeInstanceOf(ChainruleError);
  if (typeof message === "string") expect((caught as Error).message).toBe(message);
  else expect((caught as Error).message).toMatch(message);
}

describe("clear errors, each a ChainruleError naming the op and the shapes", () => {
  it("matmul with mismatched inner dimensions", () => {
    expectError(
      () => matmul(zeros([2, 3]), zeros([4, 5])),
      ShapeError,
      "matmul: inner dimensions differ: [2, 3] @ [4, 5]",
    );
    expectError(
      () => matmul(zeros([3]), zeros([4])),
      ShapeError,
      "matmul: inner dimensions differ: [3] @ [4]",
    );
    expectError(
      () => matmul(zeros([2, 3]), zeros([2, 3]), { transposeB: false }),
      ShapeError,
      /\[2, 3\] @ \[2, 3\]/,
    );
    expectError(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 1])), ShapeError, /cannot be broadcast/);
    expectError(() => matmul(tensor(1), zeros([1])), ShapeError, /at least one dimension/);
  });

  it("broadcasting failures", () => {
    expectError(
      () => add(zeros([2, 3]), zeros([4])),
      ShapeError,
      "add: shapes [2, 3] and [4] cannot be broadcast together",
    );
  });

  it("bad axes", () => {
    expectError(
      () => sum(zeros([2, 3]), 2),
      ValueError,
      "sum: axis 2 is out of range for a tensor with 2 dimensions",
    );
    expectError(() => sum(zeros([2, 3]), -3), ValueError, /axis -3 is out of range/);
    expectError(() => sum(zeros([2, 3]), [0, 0]), ValueError, /repeated axis/);
    expectError(() => sum(zeros([2, 3]), 0.5), ValueError, /axis must be an integer/);
    expectError(() => softmax(zeros([2]), 1), ValueError, /softmax: axis 1 is out of range/);
    expectError(() => transpose(zeros([2, 3]), [0, 0]), ValueError, /repeat an axis/);
    expectError(() => transpose(zeros([2, 3]), [0]), ValueError, /must list each of the 2 axes/);
  });

  it("bad reshape sizes", () => {
    expectError(
      () => reshape(zeros([2, 3]), [4, 2]),
      ShapeError,
      "reshape: cannot reshape [2, 3] (6 values) into [4, 2] (8 values)",
    );
    expectError(
      () => reshape(zeros([2, 3]), [-1, 4]),
      ShapeError,
      /cannot reshape \[2, 3\] \(6 values\) into \[-1, 4\]/,
    );
    expectError(() => reshape(zeros([2, 3]), [-1, -1]), ShapeError, /only one dimension may be -1/);
    expectError(() => reshape(zeros([2, 3]), [2.5, 2]), ShapeError, /invalid dimension/);
  });

  it("wrong index dtypes and out-of-range indices", () => {
    const x = zeros([3, 2]);
    expectError(
      () => gather(x, tensor([0, 1])),
      DTypeError,
      /gather: indices must be an int32 tensor, got float32/,
    );
    expectError(() => gather(x, [0, 1.5]), DTypeError, /indices must be integers/);
    expectError(
      () => gather(x, [0, 3]),
      ValueError,
      "gather: index 3 at position 1 is out of range for axis 0 of [3, 2] of size 3",
    );
    expectError(() => gather(x, [-1]), ValueError, /index -1 at position 0 is out of range/);
    expectError(
      () => crossEntropy(zeros([2, 3]), [0, 3]),
      ValueError,
      /target 3 at row 1 is out of range for 3 classes/,
    );
    expectError(
      () => crossEntropy(zeros([2, 3]), tensor([0, 1])),
      DTypeError,
      /targets must be an int32 tensor/,
    );
    expectError(
      () => crossEntropy(zeros([2, 3]), [0]),
      ShapeError,
      /2 rows of logits \[2, 3\] but 1 targets/,
    );
  });

  it("slices out of range", () => {
    expectError(() => slice(zeros([3, 4]), [2, 0], [2, 1]), ValueError, /out of range for shape \[3, 4\]/);
    expectError(() => slice(zeros([3]), [0, 0]), ValueError, /at most 1 entries/);
  });

  it("concat and stack shape mismatches", () => {
    expectError(() => concat([zeros([2, 3]), zeros([3, 3])], 1), ShapeError, /differ outside axis 1/);
    expectError(() => concat([]), ValueError, /non-empty list/);
    expectError(() => stack([zeros([2]), zeros([3])]), ShapeError, /same shape/);
    expectError(
      () => concat([zeros([2]), zeros([2], { dtype: "float64" })]),
      DTypeError,
      /cannot mix float32 and float64/,
    );
  });

  it("mixed dtypes are never promoted silently", () => {
    expectError(
      () => add(zeros([2]), zeros([2], { dtype: "float64" })),
      DTypeError,
      "add: cannot mix float32 [2] and float64 [2]; convert one with astype",
    );
    expectError(
      () => matmul(zeros([2, 2]), zeros([2, 2], { dtype: "float64" })),
      DTypeError,
      /matmul: cannot mix/,
    );
    expectError(
      () => ones([2], { dtype: "int32" }).exp(),
      DTypeError,
      /exp: expected a float32 or float64 tensor, got int32/,
    );
    expectError(
      () => ones([2], { dtype: "int32" }).div(2),
      DTypeError,
      /div: expected a float32 or float64 tensor/,
    );
  });

  it("graph misuse", () => {
    expectError(
      () => tensor([1, 2], { requiresGrad: true }).mul(2).backward(),
      GraphError,
      /only a one-element output/,
    );
    expectError(
      () =>
        inv(
          tensor([
            [1, 2],
            [2, 4],
          ]),
        ),
      ValueError,
      /singular/,
    );
    expectError(() => inv(zeros([2, 3])), ShapeError, /square matrix/);
  });

  it("non-tensor arguments", () => {
    expectError(() => matmul([1, 2] as never, zeros([2])), ValueError, /must be a Tensor/);
    expectError(() => add("a" as never, zeros([2])), ValueError, /must be a Tensor/);
  });
});
