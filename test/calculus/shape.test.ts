import { describe, expect, it } from "vitest";
import { ValueError, parseSymbolicShape } from "../../src/index.js";
import {
  productShape,
  shapeToCompact,
  vectorShape,
  rowShape,
  matrixShape,
  SCALAR,
} from "../../src/calculus/expression/shape.js";

describe("parseSymbolicShape", () => {
  it.each([
    ["scalar", SCALAR],
    ["", SCALAR],
    ["[]", SCALAR],
    ["m", vectorShape("m")],
    ["3", vectorShape(3)],
    ["n×m", matrixShape("n", "m")],
    ["n x m", matrixShape("n", "m")],
    ["nxm", matrixShape("n", "m")],
    ["3x4", matrixShape(3, 4)],
    ["n*m", matrixShape("n", "m")],
    ["[3, 4]", matrixShape(3, 4)],
    ["(n, 2)", matrixShape("n", 2)],
    ["rows by cols", matrixShape("rows", "cols")],
    ["dim", vectorShape("dim")],
  ])("%j", (spec, shape) => {
    expect(parseSymbolicShape(spec)).toEqual(shape);
  });

  it("takes numbers and arrays", () => {
    expect(parseSymbolicShape(5)).toEqual(vectorShape(5));
    expect(parseSymbolicShape([2, "k"])).toEqual(matrixShape(2, "k"));
    expect(parseSymbolicShape([])).toEqual(SCALAR);
  });

  it.each([["n×m×k"], ["0"], ["[3, 4"], ["n-1"], [[1.5]], [{}]])("refuses %j", (spec) => {
    expect(() => parseSymbolicShape(spec as never, "W")).toThrow(ValueError);
  });
});

describe("shapes of matrix products", () => {
  it("follow the lecture: uᵀh is a scalar, Wx a column, δxᵀ an n × m matrix", () => {
    expect(productShape(rowShape("n"), vectorShape("n"))).toEqual(SCALAR);
    expect(productShape(matrixShape("n", "m"), vectorShape("m"))).toEqual(vectorShape("n"));
    expect(productShape(vectorShape("n"), rowShape("m"))).toEqual(matrixShape("n", "m"));
    expect(productShape(rowShape("n"), matrixShape("n", "m"))).toEqual(rowShape("m"));
    expect(productShape(matrixShape("n", "m"), vectorShape("k"))).toBeNull();
    expect(shapeToCompact(rowShape("n"))).toBe("1×n");
  });
});
