/**
 * The parser of chainrule's MATLAB-like expression language:
 *
 *   u' * tanh(W*x + b)        x'*A*x        norm2(A*x - b)^2        lse(W*x) - y'*(W*x)
 *
 * `+ -` add, `*` is the matrix product (or scaling by a scalar), `/` divides by a scalar, `.* ./ .^` are
 * elementwise, `'` transposes, `^` is the scalar power; functions are listed in {@link FUNCTIONS}.
 * Precedence, lowest first: `+ -`; `* / .* ./`; unary minus; `^ .^ '` (left to right, as in MATLAB, so
 * `-x^2` is `-(x^2)` and `2^3^2` is `(2^3)^2`). The Unicode forms `−`, `·`, `∘`, `⊘` and `ᵀ` are accepted too.
 */
import { ParseError } from "../../errors.js";
import { LANGUAGE_FUNCTIONS } from "../expression/functions.js";

export type BinaryOperator = "+" | "-" | "*" | "/" | ".*" | "./" | ".^" | "^";

/** A node of the syntax tree; `start`/`end` are offsets into the source (end exclusive). */
export type SyntaxNode =
  | {
      /** A number literal. */
      type: "number";
      /** Its value. */
      value: number;
      /** The literal as written. */
      text: string;
      /** Offset of the node's first character in the source. */
      start: number;
      /** Offset just past the node's last character. */
      end: number;
    }
  | {
      /** A variable or dimension name. */
      type: "name";
      /** The name. */
      name: string;
      /** Offset of the node's first character in the source. */
      start: number;
      /** Offset just past the node's last character. */
      end: number;
    }
  | {
      /** A function call such as `tanh(z)` or `max(a, b)`. */
      type: "call";
      /** The function's name. */
      name: string;
      /** The arguments, in order. */
      args: SyntaxNode[];
      /** Offset of the node's first character in the source. */
      start: number;
      /** Offset just past the node's last character. */
      end: number;
    }
  | {
      /** A leading minus, `-x`. */
      type: "negate";
      /** The negated operand. */
      arg: SyntaxNode;
      /** Offset of the node's first character in the source. */
      start: number;
      /** Offset just past the node's last character. */
      end: number;
    }
  | {
      /** A binary operation such as `W*x` or `a + b`. */
      type: "binary";
      /** The operator. */
      op: BinaryOperator;
      /** The left operand. */
      left: SyntaxNode;
      /** The right operand. */
      right: SyntaxNode;
      /** Offset of the node's first character in the source. */
      start: number;
      /** Offset just past the node's last character. */
      end: number;
      /** Offset of the operator. */
      opStart: number;
    }
  | {
      /** A transpose, `x'`. */
      type: "transpose";
      /** The transposed operand. */
      arg: SyntaxNode;
      /** Offset of the node's first character in the source. */
      start: number;
      /** Offset just past the node's last character. */
      end: number;
      /** Offset of the `'`. */
      opStart: number;
    };

/** The functions of the language and how many arguments each takes (from the function table). */
export const FUNCTIONS: Readonly<Record<string, number>> = LANGUAGE_FUNCTIONS;

/** A parsed expression: the tree and the text it came from. */
export interface ParsedExpression {
  /** The text that was parsed. */
  source: string;
  /** The syntax tree (offsets refer to `source`). */
  tree: SyntaxNode;
}

type TokenType = "number" | "name" | "op" | "end";
interface Token {
  type: TokenType;
  text: string;
  start: number;
  end: number;
}

const MAX_DEPTH = 200;
const MAX_LENGTH = 100_000;

/** 1-based line and column of an offset. */
export function lineAndColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const limit = Math.min(offset, source.length);
  for (let i = 0; i < limit; i++) {
    if (source[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The source line holding `offset` with a caret under it (and under `end − 1` when a span is given):
 *
 *     W*x + b
 *      ^
 */
export function caretSnippet(source: string, offset: number, end?: number): string {
  const lineStart = source.lastIndexOf("\n", offset - 1) + 1;
  let lineEnd = source.indexOf("\n", offset);
  if (lineEnd < 0) lineEnd = source.length;
  const text = source.slice(lineStart, lineEnd).replace(/\t/g, " ");
  const column = offset - lineStart;
  const width = Math.max(1, Math.min((end ?? offset + 1) - offset, lineEnd - offset));
  return `  ${text}\n  ${" ".repeat(Math.max(0, column))}${"^".repeat(width)}`;
}

/** A ParseError whose message shows where: `… at column 7:` followed by the line and a caret. */
export function parseErrorAt(source: string, offset: number, message: string): ParseError {
  const { line, column } = lineAndColumn(source, offset);
  const where = source.includes("\n") ? `line ${line}, column ${column}` : `column ${column}`;
  return new ParseError(`${message} (at ${where})\n${caretSnippet(source, offset)}`, line, column, source);
}

const OPERATORS: readonly [string, string][] = [
  [".*", ".*"],
  ["./", "./"],
  [".^", ".^"],
  ["+", "+"],
  ["-", "-"],
  ["−", "-"],
  ["*", "*"],
  ["·", "*"],
  ["/", "/"],
  ["∘", ".*"],
  ["⊘", "./"],
  ["^", "^"],
  ["'", "'"],
  ["ᵀ", "'"],
  ["(", "("],
  [")", ")"],
  [",", ","],
];

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

function isNameStart(c: string | undefined): boolean {
  return c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_");
}

function isNamePart(c: string | undefined): boolean {
  return isNameStart(c) || isDigit(c);
}

function describe(token: Token): string {
  if (token.type === "end") return "the end of the expression";
  return `'${token.text}'`;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || (c === "." && isDigit(source[i + 1]))) {
      while (isDigit(source[i])) i++;
      if (source[i] === "." && isDigit(source[i + 1])) {
        i++;
        while (isDigit(source[i])) i++;
      } else if (source[i] === "." && i > start) {
        // "2." is a number, but "2.*x" is 2 .* x (and likewise ./ and .^)
        const after = source[i + 1];
        if (after === undefined || !"*/^".includes(after)) i++;
      }
      if (
        (source[i] === "e" || source[i] === "E") &&
        (isDigit(source[i + 1]) ||
          ((source[i + 1] === "+" || source[i + 1] === "-") && isDigit(source[i + 2])))
      ) {
        i += 2;
        while (isDigit(source[i])) i++;
      }
      const text = source.slice(start, i);
      if (!Number.isFinite(Number(text)))
        throw parseErrorAt(source, start, `the number ${text} is too large`);
      tokens.push({ type: "number", text, start, end: i });
      continue;
    }
    if (isNameStart(c)) {
      while (isNamePart(source[i])) i++;
      tokens.push({ type: "name", text: source.slice(start, i), start, end: i });
      continue;
    }
    const op = OPERATORS.find(([spelling]) => source.startsWith(spelling, i));
    if (op) {
      i += op[0].length;
      tokens.push({ type: "op", text: op[1], start, end: i });
      continue;
    }
    const codePoint = source.codePointAt(i)!;
    const shown = String.fromCodePoint(codePoint);
    const hint = c === "." ? " (elementwise operators are .*, ./ and .^)" : "";
    throw parseErrorAt(source, start, `unexpected character '${shown}'${hint}`);
  }
  tokens.push({ type: "end", text: "", start: n, end: n });
  return tokens;
}

class Parser {
  private position = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token {
    return this.tokens[this.position]!;
  }

  private next(): Token {
    const token = this.tokens[this.position]!;
    if (token.type !== "end") this.position++;
    return token;
  }

  private isOp(text: string): boolean {
    const token = this.peek();
    return token.type === "op" && token.text === text;
  }

  private error(token: Token, message: string): ParseError {
    return parseErrorAt(this.source, token.start, message);
  }

  private enter(token: Token): void {
    if (++this.depth > MAX_DEPTH) throw this.error(token, `the expression is nested too deeply`);
  }

  parse(): SyntaxNode {
    if (this.peek().type === "end") throw this.error(this.peek(), "the expression is empty");
    const tree = this.additive();
    const token = this.peek();
    if (token.type !== "end") {
      const hint =
        token.type === "name" || token.type === "number" || (token.type === "op" && token.text === "(")
          ? " (a missing operator? write * for products, e.g. 2*x or W*x)"
          : "";
      throw this.error(token, `unexpected ${describe(token)} after a complete expression${hint}`);
    }
    return tree;
  }

  private additive(): SyntaxNode {
    let left = this.multiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      const op = this.next();
      const right = this.multiplicative();
      left = binary(op.text as BinaryOperator, left, right, op.start);
    }
    return left;
  }

  private multiplicative(): SyntaxNode {
    let left = this.unary();
    while (this.isOp("*") || this.isOp("/") || this.isOp(".*") || this.isOp("./")) {
      const op = this.next();
      const right = this.unary();
      left = binary(op.text as BinaryOperator, left, right, op.start);
    }
    return left;
  }

  private unary(): SyntaxNode {
    const token = this.peek();
    if (this.isOp("-") || this.isOp("+")) {
      this.enter(token);
      this.next();
      const arg = this.unary();
      this.depth--;
      if (token.text === "+") return arg;
      return { type: "negate", arg, start: token.start, end: arg.end };
    }
    return this.power();
  }

  /** A primary followed by any sequence of `'`, `^ operand` and `.^ operand`, applied left to right. */
  private power(): SyntaxNode {
    let node = this.primary();
    while (true) {
      const token = this.peek();
      if (this.isOp("'")) {
        this.next();
        node = { type: "transpose", arg: node, start: node.start, end: token.end, opStart: token.start };
      } else if (this.isOp("^") || this.isOp(".^")) {
        this.next();
        const exponent = this.exponent();
        node = binary(token.text as BinaryOperator, node, exponent, token.start);
      } else return node;
    }
  }

  /** The operand of a power may carry its own sign (`x^-1`); a `'` after it applies to the power (`x^2'`). */
  private exponent(): SyntaxNode {
    const token = this.peek();
    if (this.isOp("-") || this.isOp("+")) {
      this.enter(token);
      this.next();
      const arg = this.exponent();
      this.depth--;
      if (token.text === "+") return arg;
      return { type: "negate", arg, start: token.start, end: arg.end };
    }
    return this.primary();
  }

  private primary(): SyntaxNode {
    const token = this.peek();
    if (token.type === "number") {
      this.next();
      return {
        type: "number",
        value: Number(token.text),
        text: token.text,
        start: token.start,
        end: token.end,
      };
    }
    if (token.type === "name") {
      this.next();
      if (!this.isOp("(")) return { type: "name", name: token.text, start: token.start, end: token.end };
      return this.call(token);
    }
    if (this.isOp("(")) {
      this.enter(token);
      this.next();
      if (this.isOp(")")) throw this.error(this.peek(), "empty parentheses: expected an expression");
      const inner = this.additive();
      if (!this.isOp(")")) {
        throw this.error(
          this.peek(),
          `expected ')' to close the '(' at column ${token.start + 1}, found ${describe(this.peek())}`,
        );
      }
      this.next();
      this.depth--;
      return inner;
    }
    if (token.type === "end") throw this.error(token, "the expression ends where an operand was expected");
    throw this.error(
      token,
      `expected an operand (a number, a variable, a function or '('), found ${describe(token)}`,
    );
  }

  private call(name: Token): SyntaxNode {
    const arity = Object.prototype.hasOwnProperty.call(FUNCTIONS, name.text)
      ? FUNCTIONS[name.text]
      : undefined;
    if (arity === undefined) {
      throw this.error(
        name,
        `unknown function '${name.text}' (the functions are ${Object.keys(FUNCTIONS).join(", ")})`,
      );
    }
    const open = this.next();
    this.enter(open);
    const args: SyntaxNode[] = [];
    if (this.isOp(")"))
      throw this.error(this.peek(), `${name.text} expects ${arity} argument${arity === 1 ? "" : "s"}`);
    while (true) {
      args.push(this.additive());
      if (this.isOp(",")) {
        this.next();
        continue;
      }
      if (this.isOp(")")) break;
      throw this.error(
        this.peek(),
        `expected ',' or ')' in the arguments of ${name.text}, found ${describe(this.peek())}`,
      );
    }
    const close = this.next();
    this.depth--;
    if (args.length !== arity) {
      throw this.error(
        name,
        `${name.text} expects ${arity} argument${arity === 1 ? "" : "s"}, got ${args.length}`,
      );
    }
    return { type: "call", name: name.text, args, start: name.start, end: close.end };
  }
}

function binary(op: BinaryOperator, left: SyntaxNode, right: SyntaxNode, opStart: number): SyntaxNode {
  return { type: "binary", op, left, right, start: left.start, end: right.end, opStart };
}

/**
 * Parses an expression of the language into a syntax tree. Any text that is not an expression throws a
 * {@link ParseError} with the line and column of the problem and a caret under it in the message.
 */
export function parseExpression(source: string): ParsedExpression {
  if (typeof source !== "string") throw new ParseError("the expression must be a string", 1, 1);
  if (source.length > MAX_LENGTH) {
    throw new ParseError(
      `the expression is too long (${source.length} characters; the limit is ${MAX_LENGTH})`,
      1,
      1,
      source,
    );
  }
  const tokens = tokenize(source);
  return { source, tree: new Parser(source, tokens).parse() };
}

/** The source text of a node. */
export function sourceOf(parsed: ParsedExpression, node: SyntaxNode): string {
  return parsed.source.slice(node.start, node.end);
}

/** The variable names of an expression, in order of first appearance (function names excluded). */
export function expressionVariables(source: string | ParsedExpression): string[] {
  const parsed = typeof source === "string" ? parseExpression(source) : source;
  const names: string[] = [];
  const stack: SyntaxNode[] = [parsed.tree];
  while (stack.length > 0) {
    const node = stack.pop()!;
    switch (node.type) {
      case "name":
        if (!names.includes(node.name)) names.push(node.name);
        break;
      case "call":
        for (let i = node.args.length - 1; i >= 0; i--) stack.push(node.args[i]!);
        break;
      case "negate":
      case "transpose":
        stack.push(node.arg);
        break;
      case "binary":
        stack.push(node.right, node.left);
        break;
      default:
        break;
    }
  }
  return names;
}
