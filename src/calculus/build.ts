/**
 * Turns a syntax tree into the shaped expression tree, checking every operation's shapes. A mismatch throws
 * a ShapeError that names the operation as written and both shapes, with a caret under the operator:
 *
 *     W*x: (n×m) * (k): the inner dimensions m and k differ
 *       W*x + b
 *        ^
 */
import { ShapeError, ValueError } from "../errors.js";
import {
  add,
  call,
  constant,
  divide,
  hadamard,
  matmul,
  negate,
  power,
  subtract,
  transpose,
  variable,
  type Expr,
} from "./expr.js";
import { caretSnippet, type ParsedExpression, type SyntaxNode } from "./parser.js";
import {
  colsOf,
  elementwiseShape,
  isScalar,
  isSquare,
  productShape,
  rowsOf,
  shapeToCompact,
  type Shape,
} from "./shape.js";

/** Declared shapes of the variables, by name. */
export type ShapeDeclarations = ReadonlyMap<string, Shape>;

class Builder {
  constructor(
    private readonly parsed: ParsedExpression,
    private readonly shapes: ShapeDeclarations,
  ) {}

  private text(node: SyntaxNode): string {
    return this.parsed.source.slice(node.start, node.end);
  }

  private shapeError(at: number, message: string): ShapeError {
    return new ShapeError(`${message}\n${caretSnippet(this.parsed.source, at)}`);
  }

  private binaryError(
    node: Extract<SyntaxNode, { type: "binary" }>,
    a: Shape,
    b: Shape,
    reason: string,
  ): ShapeError {
    return this.shapeError(
      node.opStart,
      `${this.text(node)}: (${shapeToCompact(a)}) ${node.op} (${shapeToCompact(b)}): ${reason}`,
    );
  }

  build(node: SyntaxNode): Expr {
    switch (node.type) {
      case "number":
        return constant(node.value);
      case "name": {
        const shape = this.shapes.get(node.name);
        if (shape === undefined) {
          const declared = [...this.shapes.keys()];
          throw new ValueError(
            `undeclared variable '${node.name}': declare its shape, e.g. shapes: { ${node.name}: "n" }` +
              (declared.length > 0 ? ` (declared: ${declared.join(", ")})` : "") +
              `\n${caretSnippet(this.parsed.source, node.start, node.end)}`,
          );
        }
        return variable(node.name, shape);
      }
      case "negate":
        return negate(this.build(node.arg));
      case "transpose":
        return transpose(this.build(node.arg));
      case "binary":
        return this.binary(node);
      case "call":
        return this.call(node);
    }
  }

  private binary(node: Extract<SyntaxNode, { type: "binary" }>): Expr {
    const left = this.build(node.left);
    const right = this.build(node.right);
    const a = left.shape;
    const b = right.shape;
    switch (node.op) {
      case "+":
      case "-":
        if (elementwiseShape(a, b) === null) throw this.binaryError(node, a, b, "the shapes differ");
        return node.op === "+" ? add(left, right) : subtract(left, right);
      case "*": {
        if (isScalar(a) || isScalar(b)) return hadamard(left, right);
        if (productShape(a, b) === null) {
          const hint =
            a.kind === "vector" && b.kind === "vector"
              ? ` (write x'*y for the inner product, x*y' for the outer product or x.*y elementwise)`
              : "";
          throw this.binaryError(
            node,
            a,
            b,
            `the inner dimensions ${colsOf(a)} and ${rowsOf(b)} differ${hint}`,
          );
        }
        return matmul([left, right]);
      }
      case "/":
        if (!isScalar(b)) {
          throw this.binaryError(node, a, b, "/ divides by a scalar; use ./ to divide elementwise");
        }
        return divide(left, right);
      case ".*":
      case "./":
        if (elementwiseShape(a, b) === null) throw this.binaryError(node, a, b, "the shapes differ");
        return node.op === ".*" ? hadamard(left, right) : divide(left, right);
      case ".^":
        if (elementwiseShape(a, b) === null) throw this.binaryError(node, a, b, "the shapes differ");
        return right.kind === "const" ? power(left, right.value) : call("pow", [left, right]);
      case "^":
        if (!isScalar(a) || !isScalar(b)) {
          throw this.binaryError(
            node,
            a,
            b,
            "^ is the power of scalars; use .^ for an elementwise power (or write A*A for a matrix square)",
          );
        }
        return right.kind === "const" ? power(left, right.value) : call("pow", [left, right]);
    }
  }

  private call(node: Extract<SyntaxNode, { type: "call" }>): Expr {
    const args = node.args.map((arg) => this.build(arg));
    const shapes = args.map((arg) => arg.shape);
    const a = shapes[0]!;
    const fail = (expected: string): ShapeError =>
      this.shapeError(
        node.start,
        `${this.text(node)}: ${node.name}(${shapes.map((s) => shapeToCompact(s)).join(", ")}): ${node.name} expects ${expected}`,
      );
    switch (node.name) {
      case "tr":
        if (!isScalar(a) && !isSquare(a)) throw fail("a square matrix");
        return call("tr", args);
      case "diag":
        if (a.kind !== "vector" && !isSquare(a))
          throw fail("a vector (to make a diagonal matrix) or a square matrix");
        return call("diag", args);
      case "softmax":
        if (a.kind !== "vector") throw fail("a vector");
        return call("softmax", args);
      case "inv":
      case "det":
      case "logdet":
        if (!isSquare(a)) throw fail("a square matrix");
        return call(node.name, args);
      case "max":
        if (elementwiseShape(a, shapes[1]!) === null) throw fail("two arguments of one shape (or a scalar)");
        return call("max", args);
      case "sum":
      case "norm2":
      case "lse":
        return call(node.name, args);
      case "exp":
      case "log":
      case "sqrt":
      case "tanh":
      case "sigmoid":
      case "relu":
      case "sin":
      case "cos":
      case "abs":
        return call(node.name, args);
      default:
        throw new ValueError(`unknown function '${node.name}'`);
    }
  }
}

/** The shaped expression tree of a parsed expression (throws ShapeError or ValueError with a caret). */
export function buildExpression(parsed: ParsedExpression, shapes: ShapeDeclarations): Expr {
  return new Builder(parsed, shapes).build(parsed.tree);
}
