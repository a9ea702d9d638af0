/**
 * Long flat expressions are built without recursion (a stack overflow once came from 3,165 terms), so they
 * derive and backpropagate; a tree that stays deep after normalising is refused with a ParseError naming
 * the limit.
 */
import { describe, expect, it } from "vitest";
import { ParseError, checkDerivation, derive } from "../../src/index.js";
import { run } from "./run-cli.js";

const SCALAR = { x: "scalar", y: "scalar" };

describe("long flat expressions", () => {
  it("x + x + … + x (3,165 and 20,000 terms) is 3165x, with gradient 3165", () => {
    for (const n of [3165, 20000]) {
      const d = derive(Array(n).fill("x").join("+"), { wrt: "x", shapes: SCALAR });
      expect(d.output.text).toBe(`${n}x`);
      expect(d.gradients.x!.text).toBe(String(n));
    }
  });

  it("x * x * … * x (3,165 factors) is x^3165, checked numerically", () => {
    const d = derive(Array(3165).fill("x").join("*"), { wrt: "x", shapes: SCALAR });
    // d/dx x^3165 = 3165 x^3164
    expect(d.gradients.x!.text).toBe("3165x³¹⁶⁴");
    const g = d.gradients.x!.evaluate({ x: 1.001 });
    expect(g.item()).toBeCloseTo(3165 * 1.001 ** 3164, 6);
  });

  it("x^1^1… (3,165 powers) and x''…' (6,858 transposes) are x", () => {
    for (const e of ["x" + "^1".repeat(3165), "x" + "'".repeat(6858)]) {
      const d = derive(e, { wrt: "x", shapes: SCALAR });
      expect(d.output.text).toBe("x");
      expect(d.gradients.x!.text).toBe("1");
      expect(checkDerivation(d).passed).toBe(true);
    }
  });

  it("nesting that does not flatten, x.^y.^y…, works up to the limit and is a ParseError beyond", () => {
    const d = derive("x" + ".^y".repeat(100), { wrt: ["x", "y"], shapes: SCALAR });
    // f = x^(y^100), so ∂f/∂x = y^100 x^(y^100 − 1)
    const e = 1.001 ** 100;
    expect(d.gradients.x!.evaluate({ x: 1.5, y: 1.001 }).item()).toBeCloseTo(e * 1.5 ** (e - 1), 8);
    let error: unknown;
    try {
      derive("x" + "^y".repeat(3000), { wrt: "x", shapes: SCALAR });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain("nests too deeply: more than 400 levels");
  });
});

describe("chainrule grad on long flat expressions", () => {
  it.each([
    ["x + … + x", Array(3165).fill("x").join("+"), "∂f/∂x = 3165"],
    ["x^1^1…", "x" + "^1".repeat(3165), "∂f/∂x = 1"],
    ["x''…'", "x" + "'".repeat(6858), "∂f/∂x = 1"],
  ])("%s backpropagates", async (_, expression, gradient) => {
    const { code, stdout, stderr } = await run("grad", expression, "--at", "x=2");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.trimEnd().split("\n").at(-1)).toBe(gradient);
  });

  it("x * … * x backpropagates: ∂f/∂x = 3165 x^3164", async () => {
    const { code, stdout } = await run("grad", Array(3165).fill("x").join("*"), "--at", "x=1.001");
    expect(code).toBe(0);
    const gradient = Number(/∂f\/∂x = (\S+)/.exec(stdout)![1]);
    expect(gradient / (3165 * 1.001 ** 3164)).toBeCloseTo(1, 5);
  });
});

describe("a variable that cancels", () => {
  it("a./y.*y: y still fixes the length m, in evaluation and in the generated code", () => {
    const d = derive("a./y.*y", { wrt: "a", shapes: { a: "scalar", y: "m" } });
    expect(d.output.text).toBe("a𝟏");
    expect(d.variables.map((v) => v.name)).toEqual(["a", "y"]);
    expect(d.code).toContain("const m = y.shape[0]!;");
    // f = a𝟏 of length m, so ∂f/∂a = 𝟏 (m × 1)
    expect(d.gradients.a!.evaluate({ a: 2, y: [1, 2, 3] }).toArray()).toEqual([1, 1, 1]);
  });
});
