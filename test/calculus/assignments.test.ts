import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ValueError, ChainruleError } from "../../src/errors.js";
import {
  parseAssignments,
  parseValueAssignments,
  splitTopLevel,
} from "../../src/calculus/1-parse/assignments.js";
import { nodeFormula } from "../../src/calculus/numeric/node-formula.js";
import { traceExpression } from "../../src/calculus/numeric/trace.js";
import { installTensorMethods } from "../../src/autograd/tensor-methods.js";

installTensorMethods();

describe("splitTopLevel", () => {
  it("splits outside brackets only and drops empty parts", () => {
    expect(splitTopLevel("W=[[1, 2], [3, 4]], x=1;; y=(2,3)")).toEqual([
      "W=[[1, 2], [3, 4]]",
      "x=1",
      "y=(2,3)",
    ]);
    expect(splitTopLevel("a\nb", ",;\n")).toEqual(["a", "b"]);
    expect(splitTopLevel("  ")).toEqual([]);
  });
});

describe("parseValueAssignments", () => {
  it("reads numbers, vectors and matrices, with = or : and the typographic minus", () => {
    const values = parseValueAssignments("x=1, y: −2.5\nv=[1, 2]; A=[[1, 0], [0, 1]]");
    expect([...values]).toEqual([
      ["x", 1],
      ["y", -2.5],
      ["v", [1, 2]],
      [
        "A",
        [
          [1, 0],
          [0, 1],
        ],
      ],
    ]);
  });

  it("names what is wrong", () => {
    expect(() => parseValueAssignments("x")).toThrow(
      /expected name=value \(e\.g\. x=1 or v=\[1, 2\]\), got 'x'/,
    );
    expect(() => parseValueAssignments("x=abc")).toThrow(/the value of x is not a number or an array: 'abc'/);
    expect(() => parseValueAssignments("x=[]")).toThrow(/the value of x must be a number, a vector/);
    expect(() => parseValueAssignments("x=[[[1]]]")).toThrow(/must be a number, a vector/);
    expect(() => parseValueAssignments("x=1e999")).toThrow(/must be a number/);
    expect(() => parseValueAssignments("x=1, x=2")).toThrow(/x is given twice/);
    expect(() => parseAssignments("2x=1", "n=3")).toThrow(/e\.g\. n=3/);
  });

  it("accepts any text or throws a ValueError (property)", () => {
    const pieces = fc.constantFrom(
      "x",
      "=",
      ":",
      "[",
      "]",
      ",",
      ";",
      "\n",
      "1",
      "-2.5",
      "−",
      "e9",
      " ",
      "(",
      "y",
      '"',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(pieces).map((p) => p.join("")),
        ),
        (text) => {
          try {
            const values = parseValueAssignments(text);
            for (const [name, value] of values) {
              expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
              expect(JSON.stringify(value)).not.toContain("null");
            }
          } catch (error) {
            expect(error).toBeInstanceOf(ValueError);
            expect(error).toBeInstanceOf(ChainruleError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("nodeFormula", () => {
  it("writes the lecture's example with operators", () => {
    const trace = traceExpression("(x + y) * max(y, z)", { x: 1, y: 2, z: 0 });
    const formulas = trace.nodes
      .filter((n) => n.op !== "leaf" && n.op !== "constant")
      .map((n) => nodeFormula(n, trace.names));
    expect(formulas).toContain(`${trace.names[0]} + ${trace.names[1]}`);
    expect(formulas.some((f) => f.startsWith("max("))).toBe(true);
    expect(formulas.some((f) => / · /.test(f))).toBe(true);
  });

  it("writes products as the lecture does, with the transposes the trace folds into a matmul", () => {
    const trace = traceExpression("u' * tanh(W*x + b) + 2*(x .* x)' * x", {
      u: [1, 2],
      W: [
        [1, 0],
        [0, 1],
      ],
      x: [0.5, -0.5],
      b: [0, 1],
    });
    const shapes = trace.nodes.map((n) => n.shape);
    const byOp = (op: string) => trace.nodes.filter((n) => n.op === op);
    const lecture = byOp("matmul").map((n) => nodeFormula(n, trace.names, "lecture", shapes));
    const operators = byOp("matmul").map((n) => nodeFormula(n, trace.names));
    expect(lecture).toContain("Wx");
    expect(lecture.some((f) => /^uᵀ/.test(f))).toBe(true);
    expect(operators).toContain("W @ x");
    const products = byOp("mul").map((n) => nodeFormula(n, trace.names, "lecture", shapes));
    expect(products.some((f) => f.includes(" ∘ "))).toBe(true);
  });
});
