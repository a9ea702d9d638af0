import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ParseError,
  EXPRESSION_FUNCTIONS,
  expressionVariables,
  parseExpression,
  type SyntaxNode,
} from "../../src/index.js";

/** The tree as a compact S-expression, to check precedence and associativity. */
function show(node: SyntaxNode): string {
  switch (node.type) {
    case "number":
      return node.text;
    case "name":
      return node.name;
    case "negate":
      return `(neg ${show(node.arg)})`;
    case "transpose":
      return `(T ${show(node.arg)})`;
    case "binary":
      return `(${node.op} ${show(node.left)} ${show(node.right)})`;
    case "call":
      return `(${node.name} ${node.args.map(show).join(" ")})`;
  }
}

const tree = (source: string) => show(parseExpression(source).tree);

function parseError(source: string): ParseError {
  try {
    parseExpression(source);
  } catch (error) {
    if (error instanceof ParseError) return error;
    throw error;
  }
  throw new Error(`expected a ParseError for ${JSON.stringify(source)}`);
}

describe("parseExpression: precedence and associativity (MATLAB's)", () => {
  it.each([
    ["u' * tanh(W*x + b)", "(* (T u) (tanh (+ (* W x) b)))"],
    ["a + b * c", "(+ a (* b c))"],
    ["a - b - c", "(- (- a b) c)"],
    ["x'*A*x", "(* (* (T x) A) x)"],
    ["-x^2", "(neg (^ x 2))"],
    ["2^3^2", "(^ (^ 2 3) 2)"],
    ["x^-1", "(^ x (neg 1))"],
    ["x'^2", "(^ (T x) 2)"],
    ["x^2'", "(T (^ x 2))"],
    ["a .* b ./ c", "(./ (.* a b) c)"],
    ["x .^ 2 .* y", "(.* (.^ x 2) y)"],
    ["- - x", "(neg (neg x))"],
    ["+x", "x"],
    ["max(a, b + c)", "(max a (+ b c))"],
    ["norm2(A*x - b)^2", "(^ (norm2 (- (* A x) b)) 2)"],
    ["x''", "(T (T x))"],
    ["1.5e-3 * .5 + 2.", "(+ (* 1.5e-3 .5) 2.)"],
    ["2. * x", "(* 2. x)"],
    ["2.*x", "(.* 2 x)"],
    ["a\n  + b", "(+ a b)"],
  ])("%s", (source, expected) => {
    expect(tree(source)).toBe(expected);
  });

  it("accepts the Unicode forms −, ·, ∘, ⊘ and ᵀ", () => {
    expect(tree("uᵀ · (x ∘ y ⊘ z) − b")).toBe("(- (* (T u) (./ (.* x y) z)) b)");
  });

  it("lists the variables in order of appearance, not the functions", () => {
    expect(expressionVariables("u' * tanh(W*x + b) + max(u, W)")).toEqual(["u", "W", "x", "b"]);
    expect(Object.keys(EXPRESSION_FUNCTIONS)).toContain("logdet");
  });
});

describe("parseExpression: errors carry line, column and a caret", () => {
  it.each([
    ["", 1, 1, "the expression is empty"],
    ["x + ", 1, 5, "the expression ends where an operand was expected"],
    ["(x", 1, 3, "expected ')' to close the '(' at column 1"],
    ["x)", 1, 2, "unexpected ')' after a complete expression"],
    ["2x", 1, 2, "unexpected 'x' after a complete expression (a missing operator? write * for products"],
    ["foo(x)", 1, 1, "unknown function 'foo'"],
    ["max(x)", 1, 1, "max expects 2 arguments, got 1"],
    ["tanh()", 1, 6, "tanh expects 1 argument"],
    ["x $ y", 1, 3, "unexpected character '$'"],
    ["x .+ y", 1, 3, "unexpected character '.' (elementwise operators are .*, ./ and .^)"],
    ["x * * y", 1, 5, "expected an operand"],
    ["a +\n  * b", 2, 3, "expected an operand"],
    ["1e999", 1, 1, "the number 1e999 is too large"],
    ["()", 1, 2, "empty parentheses"],
    ["max(a b)", 1, 7, "expected ',' or ')' in the arguments of max"],
  ])("%j", (source, line, column, message) => {
    const error = parseError(source);
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
    expect(error.message).toContain(message);
    expect(error.source).toBe(source);
  });

  it("shows the line of the error with a caret under the column", () => {
    expect(parseError("u' * tanh(W*x + )").message).toBe(
      "expected an operand (a number, a variable, a function or '('), found ')' (at column 17)\n" +
        "  u' * tanh(W*x + )\n" +
        "                  ^",
    );
    expect(parseError("a +\n  * b").message).toBe(
      "expected an operand (a number, a variable, a function or '('), found '*' (at line 2, column 3)\n    * b\n    ^",
    );
  });

  it("refuses deep nesting instead of overflowing the stack", () => {
    expect(parseError("(".repeat(40_000) + "x" + ")".repeat(40_000)).message).toContain("nested too deeply");
    expect(parseError("-".repeat(50_000) + "x").message).toContain("nested too deeply");
    expect(parseError("tanh(".repeat(5_000) + "x" + ")".repeat(5_000)).message).toContain(
      "nested too deeply",
    );
  });

  it("refuses what is not a string", () => {
    expect(() => parseExpression(42 as unknown as string)).toThrow(ParseError);
  });
});

describe("parseExpression on random input (property-based)", () => {
  /** Every failure is a ParseError with a position inside the text (or just after it). */
  function onlyParseErrors(source: string): boolean {
    try {
      parseExpression(source);
      return true;
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      const lines = source.split("\n");
      expect(error.line).toBeGreaterThanOrEqual(1);
      expect(error.line).toBeLessThanOrEqual(lines.length);
      expect(error.column).toBeGreaterThanOrEqual(1);
      expect(error.column).toBeLessThanOrEqual(lines[error.line - 1]!.length + 1);
      return true;
    }
  }

  it("arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), onlyParseErrors), { numRuns: 3000 });
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), onlyParseErrors), {
      numRuns: 1000,
    });
  });

  it("strings made of the language's own characters", () => {
    const pieces = [
      ..."xyWAb0123456789.e+-*/^'(),  \n",
      ".*",
      "./",
      ".^",
      "tanh(",
      "max(",
      "sum(",
      "ᵀ",
      "∘",
      "−",
      "1e5",
      "foo(",
    ];
    const text = fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((p) => p.join(""));
    fc.assert(fc.property(text, onlyParseErrors), { numRuns: 5000 });
  });

  it("well-formed expressions always parse, and their variables are found", () => {
    const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
      e: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.constantFrom("x", "y", "W", "2", "0.5"),
        fc
          .tuple(tie("e"), fc.constantFrom("+", "-", "*", ".*", "./"), tie("e"))
          .map(([a, op, b]) => `${a} ${op} ${b}`),
        tie("e").map((a) => `(${a})'`),
        tie("e").map((a) => `-${a}`),
        fc.tuple(fc.constantFrom("tanh", "exp", "sum", "sigmoid"), tie("e")).map(([f, a]) => `${f}(${a})`),
        fc.tuple(tie("e"), tie("e")).map(([a, b]) => `max(${a}, ${b})`),
      ),
    })).e;
    fc.assert(
      fc.property(expression, (source) => {
        parseExpression(source);
        for (const v of expressionVariables(source)) expect(["x", "y", "W"]).toContain(v);
      }),
      { numRuns: 2000 },
    );
  });
});
