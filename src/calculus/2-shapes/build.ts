/**
 * Turns a syntax tree into the shaped expression tree, checking every operation's shapes. A mismatch throws
 * a ShapeError that names the operation as written and both shapes, with a caret under the operator:
 *
 *     W*x: (n×m) * (k): the inner dimensions m and k differ
 *       W*x + b
 *        ^
 */
import { ShapeError, ValueError } from "../../errors.js";
import {
  add,
  applyFunction,
  children,
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
} from "../expression/expr.js";
import { call, functionRule } from "../expression/functions.js";
import { caretSnippet, parseErrorAt, type ParsedExpression, type SyntaxNode } from "../1-parse/parser.js";
import {
  colsOf,
  elementwiseShape,
  isScalar,
  productShape,
  rowsOf,
  shapeToCompact,
  type Shape,
} from "../expression/shape.js";

/** Declared shapes of the variables, by name. */
export type ShapeDeclarations = ReadonlyMap<string, Shape>;

/**
 * The deepest expression tree accepted (after normalising: `x + x + … + x` is one node `3165x`, so only
 * nesting that does not flatten counts). The passes over the tree recurse, so depth must stay bounded.
 */
export const MAX_EXPRESSION_DEPTH = 400;

/** The direct sub-trees of a syntax node, in order. */
export function syntaxChildren(node: SyntaxNode): readonly SyntaxNode[] {
  switch (node.type) {
    case "binary":
      return [node.left, node.right];
    case "negate":
    case "transpose":
      return [node.arg];
    case "call":
      return node.args;
    default:
      return [];
  }
}

/**
 * Visits the syntax tree bottom-up (every node after its children, left to right) with a stack rather than
 * recursion, so that a long flat expression (`x+x+…+x`, thousands of terms) cannot overflow the call stack.
 */
export function visitBottomUp(
  root: SyntaxNode,
  visit: (node: SyntaxNode, children: readonly SyntaxNode[]) => void,
): void {
  const stack: { node: SyntaxNode; expanded: boolean }[] = [{ node: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const kids = syntaxChildren(top.node);
    if (!top.expanded && kids.length > 0) {
      top.expanded = true;
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i]!, expanded: false });
      continue;
    }
    stack.pop();
    visit(top.node, kids);
  }
}

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

  /**
   * Builds bottom-up with an explicit stack, so that a long flat expression (`x + x + … + x`, `x^1^1…`,
   * `x''…'`) costs no stack depth; a tree that stays deep after normalising (`x^y^y^…`) is refused.
   */
  build(root: SyntaxNode, keep = false): { root: Expr; nodes: Map<SyntaxNode, Expr> } {
    const built = new Map<SyntaxNode, Expr>();
    visitBottomUp(root, (node, kids) => {
      const args = kids.map((k) => built.get(k)!);
      if (!keep) for (const k of kids) built.delete(k);
      const expr = this.node(node, args);
      this.checkDepth(node, expr);
      built.set(node, expr);
    });
    return { root: built.get(root)!, nodes: built };
  }

  private readonly depths = new WeakMap<Expr, number>();

  /** The depth of a tree whose children were already measured (or are shallow). */
  private depthOf(e: Expr): number {
    const known = this.depths.get(e);
    if (known !== undefined) return known;
    let depth = 1;
    for (const child of children(e)) depth = Math.max(depth, 1 + this.depthOf(child));
    this.depths.set(e, depth);
    return depth;
  }

  private checkDepth(node: SyntaxNode, e: Expr): void {
    if (this.depthOf(e) <= MAX_EXPRESSION_DEPTH) return;
    const at = node.type === "binary" || node.type === "transpose" ? node.opStart : node.start;
    throw parseErrorAt(
      this.parsed.source,
      at,
      `the expression nests too deeply: more than ${MAX_EXPRESSION_DEPTH} levels of operations inside one another ` +
        `(a power with a non-numeric exponent, x^y^y^…, nests one level per power)`,
    );
  }

  private node(node: SyntaxNode, args: readonly Expr[]): Expr {
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
        return negate(args[0]!);
      case "transpose":
        return transpose(args[0]!);
      case "binary":
        return this.binary(node, args[0]!, args[1]!);
      case "call":
        return this.call(node, args);
    }
  }

  private binary(node: Extract<SyntaxNode, { type: "binary" }>, left: Expr, right: Expr): Expr {
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

  private call(node: Extract<SyntaxNode, { type: "call" }>, args: readonly Expr[]): Expr {
    const rule = functionRule(node.name);
    if (rule === undefined || !rule.syntax) throw new ValueError(`unknown function '${node.name}'`);
    const shapes = args.map((arg) => arg.shape);
    const expected = rule.check?.(shapes) ?? null;
    if (expected !== null) {
      throw this.shapeError(
        node.start,
        `${this.text(node)}: ${node.name}(${shapes.map((s) => shapeToCompact(s)).join(", ")}): ${node.name} expects ${expected}`,
      );
    }
    return applyFunction(rule, args);
  }
}

/** The shaped expression tree of a parsed expression (throws ShapeError or ValueError with a caret). */
export function buildExpression(parsed: ParsedExpression, shapes: ShapeDeclarations): Expr {
  return new Builder(parsed, shapes).build(parsed.tree).root;
}

/**
 * The shaped expression tree and the expression of every syntax node (what each written operation computes,
 * in normal form), for evaluating the expression as written.
 */
export function buildExpressionNodes(
  parsed: ParsedExpression,
  shapes: ShapeDeclarations,
): { root: Expr; nodes: ReadonlyMap<SyntaxNode, Expr> } {
  return new Builder(parsed, shapes).build(parsed.tree, true);
}
