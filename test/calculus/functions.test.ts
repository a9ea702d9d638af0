/**
 * The function table: every function a person may write derives and agrees with backprop and finite
 * differences, so a function added to the table is checked without a test of its own.
 */
import { describe, expect, it } from "vitest";
import { checkDerivation, derive, EXPRESSION_FUNCTIONS } from "../../src/index.js";
import { FUNCTION_RULES, functionRule } from "../../src/calculus/expression/functions.js";
import { variable } from "../../src/calculus/expression/expr.js";
import { matrixShape, vectorShape, type Shape } from "../../src/calculus/expression/shape.js";

/** An argument the function accepts: a vector x (n) if it takes one, else a square matrix X (n × n). */
function argumentFor(name: string): { arg: string; spec: string; shape: Shape } {
  const rule = functionRule(name)!;
  const vector = vectorShape("n");
  const shapes = Array<Shape>(rule.arity).fill(vector);
  if ((rule.check?.(shapes) ?? null) === null) return { arg: "x", spec: "n", shape: vector };
  return { arg: "X", spec: "n×n", shape: matrixShape("n", "n") };
}

describe("the function table", () => {
  it("lists the language's functions in the parser's order, each with a rule", () => {
    expect(Object.keys(EXPRESSION_FUNCTIONS)).toEqual(
      Object.values(FUNCTION_RULES)
        .filter((r) => r.syntax)
        .map((r) => r.name),
    );
    for (const [name, arity] of Object.entries(EXPRESSION_FUNCTIONS)) {
      expect(functionRule(name)?.arity).toBe(arity);
    }
  });

  it.each(Object.keys(EXPRESSION_FUNCTIONS))("%s: derived gradient agrees with backprop and FD", (name) => {
    const rule = functionRule(name)!;
    const { arg, spec, shape } = argumentFor(name);
    const args = rule.arity === 2 ? `${arg}, 0.5*${arg}` : arg;
    const valueShape = rule.shape(Array(rule.arity).fill(variable(arg, shape)));
    // A scalar value is the output itself; a vector is weighted by y, a matrix summed.
    const call = `${name}(${args})`;
    const expression =
      valueShape.kind === "scalar" ? call : valueShape.kind === "vector" ? `y' * ${call}` : `sum(${call})`;
    const d = derive(expression, { wrt: arg, shapes: { [arg]: spec, y: "n" } });
    expect(d.gradients[arg]!.shape).toBe(spec === "n" ? "n" : "n × n");
    const report = checkDerivation(d, { seed: 3 });
    expect(report.passed).toBe(true);
  });
});
