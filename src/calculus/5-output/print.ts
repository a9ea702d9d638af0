/**
 * Printers of the expression tree, as Unicode text (`2Aᵀ(Ax − b)`, `u ∘ (1 − tanh²(z))`, `δ xᵀ`, `X⁻ᵀ`) and
 * as LaTeX (`2 A^{\top} \left(A x - b\right)`).
 *
 * Products are written by juxtaposition. Single-letter variables, parenthesised groups and a leading number
 * are written tight (`Ax`, `(A + Aᵀ)x`, `2Aᵀ(Ax − b)`); named quantities (δ, z), longer names and function
 * applications are set off by a space (`δ xᵀ`, `det(X) X⁻ᵀ`, `W1 x`). `∘` is the elementwise product, `⊘` the
 * elementwise division by a non-scalar, `𝟏` a vector or matrix of ones, `I` the identity and `1(a > b)` the
 * indicator of a > b.
 */
import type { CallExpr, Expr, Factor } from "../expression/expr.js";
import { ruleOf } from "../expression/functions.js";
import { isScalar, type Shape } from "../expression/shape.js";

export type Notation = "text" | "latex";

/** What a printed piece starts or ends with, which decides how it is juxtaposed with its neighbours. */
type Edge = "number" | "letter" | "group" | "call" | "name" | "indicator";

interface Doc {
  text: string;
  precedence: number;
  first: Edge;
  last: Edge;
}

const SUM = 1;
const PRODUCT = 2;
const NEGATION = 3;
const POSTFIX = 4;
const ATOM = 5;

const SUPERSCRIPTS: Record<string, string> = {
  "0": "⁰",
  "1": "¹",
  "2": "²",
  "3": "³",
  "4": "⁴",
  "5": "⁵",
  "6": "⁶",
  "7": "⁷",
  "8": "⁸",
  "9": "⁹",
  "-": "⁻",
};

const SUBSCRIPT_DIGITS = "₀₁₂₃₄₅₆₇₈₉";

const GREEK_LATEX: Record<string, string> = {
  δ: "\\delta",
  ε: "\\varepsilon",
  η: "\\eta",
  σ: "\\sigma",
};

/** Formats a number briefly (at most 12 significant digits). */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(12)));
}

/** p/q with a small denominator equal to `value`, or null. */
function rational(value: number): [number, number] | null {
  if (Number.isInteger(value)) return [value, 1];
  for (let q = 2; q <= 100; q++) {
    const p = Math.round(value * q);
    if (Math.abs(p / q - value) <= 1e-12 * Math.max(1, Math.abs(value))) return [p, q];
  }
  return null;
}

function superscript(n: number): string | null {
  const s = String(n);
  let out = "";
  for (const c of s) {
    const sup = SUPERSCRIPTS[c];
    if (sup === undefined) return null;
    out += sup;
  }
  return out;
}

/** A name in LaTeX: `x`, `W_{1}`, `\delta_{2}`, `\mathit{name}`. */
export function latexName(name: string): string {
  let base = name;
  let subscript = "";
  const trailing = /([₀-₉]+)$/.exec(name);
  if (trailing) {
    base = name.slice(0, -trailing[1]!.length);
    subscript = [...trailing[1]!].map((c) => String(SUBSCRIPT_DIGITS.indexOf(c))).join("");
  } else {
    const underscore = /^([A-Za-z]+)_([A-Za-z0-9]+)$/.exec(name);
    const digits = /^([A-Za-z]+?)(\d+)$/.exec(name);
    const match = underscore ?? digits;
    if (match) {
      base = match[1]!;
      subscript = match[2]!;
    }
  }
  let head: string;
  if (GREEK_LATEX[base] !== undefined) head = GREEK_LATEX[base]!;
  else if (base.length === 1) head = base;
  else head = `\\mathit{${base.replace(/_/g, "\\_")}}`;
  return subscript ? `${head}_{${subscript}}` : head;
}

class Printer {
  constructor(private readonly notation: Notation) {}

  private get latex(): boolean {
    return this.notation === "latex";
  }

  private atom(text: string, edge: Edge): Doc {
    return { text, precedence: ATOM, first: edge, last: edge };
  }

  private parens(d: Doc): Doc {
    const text = this.latex ? `\\left(${d.text}\\right)` : `(${d.text})`;
    return { text, precedence: ATOM, first: "group", last: "group" };
  }

  private atLeast(d: Doc, precedence: number): Doc {
    return d.precedence >= precedence ? d : this.parens(d);
  }

  private minus(): string {
    return this.latex ? "-" : "−";
  }

  private tight(left: Edge, right: Edge): boolean {
    if (left === "number") return right === "letter" || right === "group" || right === "name";
    if (left === "name" || right === "name") return false;
    if (right === "group") return left !== "indicator";
    if (right === "letter") return left === "letter" || left === "group";
    return false;
  }

  /** Writes docs side by side (a product by juxtaposition). */
  private juxtapose(docs: Doc[]): Doc {
    if (docs.length === 1) return docs[0]!;
    let text = docs[0]!.text;
    for (let i = 1; i < docs.length; i++) {
      const tight = this.tight(docs[i - 1]!.last, docs[i]!.first);
      text += this.latex ? (tight ? " " : " \\, ") : tight ? "" : " ";
      text += docs[i]!.text;
    }
    return { text, precedence: PRODUCT, first: docs[0]!.first, last: docs[docs.length - 1]!.last };
  }

  private joinWith(docs: Doc[], separator: string): Doc {
    if (docs.length === 1) return docs[0]!;
    return {
      text: docs.map((d) => d.text).join(separator),
      precedence: PRODUCT,
      first: docs[0]!.first,
      last: docs[docs.length - 1]!.last,
    };
  }

  private name(text: string, edge: Edge): Doc {
    return this.atom(this.latex ? latexName(text) : text, edge);
  }

  /** The name of a function written `name(args)`, from its rule's notation. */
  private functionName(e: CallExpr): string {
    const notation = ruleOf(e).notation;
    const given = notation.kind === "call" ? (this.latex ? notation.latex : notation.text) : undefined;
    if (given !== undefined) return given;
    return this.latex ? `\\operatorname{${e.fn}}` : e.fn;
  }

  private postfix(d: Doc, mark: "transpose" | "inverse" | "inverseTranspose"): Doc {
    const base = d.precedence >= ATOM ? d : this.parens(d);
    const suffix = this.latex
      ? { transpose: "^{\\top}", inverse: "^{-1}", inverseTranspose: "^{-\\top}" }[mark]
      : { transpose: "ᵀ", inverse: "⁻¹", inverseTranspose: "⁻ᵀ" }[mark];
    return { text: base.text + suffix, precedence: POSTFIX, first: base.first, last: base.last };
  }

  private readonly memo = new Map<string, Doc>();

  /** The printed form of `e` (memoised: a shared sub-expression is printed once). */
  print(e: Expr): Doc {
    if (e.key === "") return this.printNode(e);
    let doc = this.memo.get(e.key);
    if (doc === undefined) {
      doc = this.printNode(e);
      this.memo.set(e.key, doc);
    }
    return doc;
  }

  private printNode(e: Expr): Doc {
    switch (e.kind) {
      case "var":
        return this.name(e.name, e.name.length === 1 ? "letter" : "name");
      case "dim":
        return this.name(String(e.dim), String(e.dim).length === 1 ? "letter" : "name");
      case "named":
        return this.name(e.name, "name");
      case "differential":
        return this.atom(this.latex ? `\\mathrm{d}${latexName(e.variable)}` : `d${e.variable}`, "name");
      case "const": {
        if (e.value < 0) {
          const d = this.number(-e.value);
          return { text: this.minus() + d.text, precedence: NEGATION, first: "number", last: d.last };
        }
        return this.number(e.value);
      }
      case "identity":
        return this.atom("I", "letter");
      case "ones": {
        const one = this.atom(this.latex ? "\\mathbf{1}" : "𝟏", "letter");
        return e.shape.kind === "row" ? this.postfix(one, "transpose") : one;
      }
      case "zero":
        return this.atom("0", "number");
      case "transpose": {
        const arg = e.arg;
        if (arg.kind === "call" && ruleOf(arg).notation.kind === "inverse") {
          return this.postfix(this.atLeast(this.print(arg.args[0]!), ATOM), "inverseTranspose");
        }
        return this.postfix(this.print(arg), "transpose");
      }
      case "sum":
        return this.sum(e.terms);
      case "product":
        return this.product(e.coefficient, e.factors, e.shape);
      case "matmul":
        return this.juxtapose(e.factors.map((f) => this.atLeast(this.print(f), POSTFIX)));
      case "call":
        return this.call(e);
      case "indicator": {
        const left = this.print(e.left).text;
        const right = this.print(e.right).text;
        const one = this.latex ? "\\mathbb{1}" : "1";
        const open = this.latex ? "\\left(" : "(";
        const close = this.latex ? "\\right)" : ")";
        return this.atom(`${one}${open}${left} > ${right}${close}`, "indicator");
      }
    }
  }

  private number(value: number): Doc {
    const r = rational(value);
    if (r && r[1] !== 1 && this.latex) return this.atom(`\\frac{${r[0]}}{${r[1]}}`, "number");
    if (r && r[1] !== 1)
      return { text: `${r[0]}/${r[1]}`, precedence: PRODUCT, first: "number", last: "number" };
    return this.atom(formatNumber(value), "number");
  }

  /** A function application, set as its rule's notation says. */
  private call(e: CallExpr): Doc {
    const x = e.args[0]!;
    const notation = ruleOf(e).notation;
    switch (notation.kind) {
      case "inverse":
        return this.postfix(this.atLeast(this.print(x), ATOM), "inverse");
      case "delimited": {
        const [open, close] = this.latex ? notation.latex : notation.text;
        return this.atom(`${open}${this.print(x).text}${close}`, "call");
      }
      case "root":
        return this.root(x);
      case "power": {
        const base = this.atLeast(this.print(x), ATOM);
        const exponent = this.print(e.args[1]!);
        const text = this.latex
          ? `${base.text}^{${exponent.text}}`
          : `${base.text}^${this.atLeast(exponent, ATOM).text}`;
        return { text, precedence: POSTFIX, first: base.first, last: "call" };
      }
      case "call": {
        const inner = e.args.map((a) => this.print(a).text).join(", ");
        const open = this.latex ? "\\left(" : "(";
        const close = this.latex ? "\\right)" : ")";
        return this.atom(`${this.functionName(e)}${open}${inner}${close}`, "call");
      }
    }
  }

  private root(x: Expr): Doc {
    // √ joins tight after a number or a letter (2√z), like a parenthesised group.
    if (this.latex)
      return { text: `\\sqrt{${this.print(x).text}}`, precedence: ATOM, first: "group", last: "call" };
    return {
      text: `√${this.atLeast(this.print(x), ATOM).text}`,
      precedence: ATOM,
      first: "group",
      last: "call",
    };
  }

  /** base^k for k > 0. */
  private power(base: Expr, k: number): Doc {
    if (k === 1) return this.print(base);
    if (k === 0.5) return this.root(base);
    if (Number.isInteger(k)) {
      const sup = this.latex ? `^{${k}}` : superscript(k)!;
      if (
        base.kind === "call" &&
        base.rule.elementwise &&
        base.args.length === 1 &&
        ruleOf(base).notation.kind === "call"
      ) {
        // tanh²(z), σ²(z)
        const inner = base.args.map((a) => this.print(a).text).join(", ");
        const open = this.latex ? "\\left(" : "(";
        const close = this.latex ? "\\right)" : ")";
        return this.atom(`${this.functionName(base)}${sup}${open}${inner}${close}`, "call");
      }
      const d = this.atLeast(this.print(base), ATOM);
      return { text: d.text + sup, precedence: POSTFIX, first: d.first, last: d.last };
    }
    const d = this.atLeast(this.print(base), ATOM);
    const exponent = formatNumber(k);
    return {
      text: this.latex ? `${d.text}^{${exponent}}` : `${d.text}^${exponent}`,
      precedence: POSTFIX,
      first: d.first,
      last: "call",
    };
  }

  /** Scalars side by side, then the non-scalar factors joined by ∘. */
  private monomial(coefficient: number, scalars: Factor[], others: Factor[], powerSign: 1 | -1): Doc | null {
    const scalarDocs: Doc[] = [];
    if (coefficient !== 1) scalarDocs.push(this.number(coefficient));
    const several = scalars.length + (coefficient !== 1 ? 1 : 0) > 1 || others.length > 0;
    for (const f of scalars) {
      let d = this.power(f.base, f.power * powerSign);
      if (d.precedence < PRODUCT || (several && d.precedence < POSTFIX)) d = this.parens(d);
      scalarDocs.push(d);
    }
    const otherDocs = others.map((f) => {
      const d = this.power(f.base, f.power * powerSign);
      const needs = others.length > 1 ? POSTFIX : f.base.kind === "matmul" ? PRODUCT : POSTFIX;
      return this.atLeast(d, needs);
    });
    const parts: Doc[] = [];
    if (scalarDocs.length > 0) parts.push(this.juxtapose(scalarDocs));
    if (otherDocs.length > 0) parts.push(this.joinWith(otherDocs, this.latex ? " \\circ " : " ∘ "));
    if (parts.length === 0) return null;
    if (parts.length === 1) return parts[0]!;
    return this.juxtapose(parts);
  }

  private product(coefficient: number, factors: readonly Factor[], shape: Shape): Doc {
    const negative = coefficient < 0;
    const magnitude = Math.abs(coefficient);
    const r = rational(magnitude) ?? [magnitude, 1];
    const numeratorScalars: Factor[] = [];
    const numeratorOthers: Factor[] = [];
    const denominatorScalars: Factor[] = [];
    const denominatorOthers: Factor[] = [];
    let onesFactor = false;
    for (const f of factors) {
      if (f.base.kind === "ones") {
        onesFactor = true;
        continue;
      }
      const scalar = isScalar(f.base.shape);
      if (f.power > 0) (scalar ? numeratorScalars : numeratorOthers).push(f);
      else (scalar ? denominatorScalars : denominatorOthers).push(f);
    }
    if (onesFactor && numeratorOthers.length === 0 && !isScalar(shape)) {
      numeratorOthers.push({ base: { kind: "ones", shape, key: "" } as Expr, power: 1 });
    }
    let numerator = this.monomial(r[0], numeratorScalars, numeratorOthers, 1) ?? this.number(1);
    const denominator = this.monomial(r[1], denominatorScalars, denominatorOthers, -1);
    if (denominator !== null) {
      if (this.latex) {
        numerator = {
          text: `\\frac{${numerator.text}}{${denominator.text}}`,
          precedence: ATOM,
          first: "call",
          last: "call",
        };
      } else {
        const op = denominatorOthers.length > 0 ? " ⊘ " : " / ";
        const left = this.atLeast(numerator, PRODUCT);
        const right = this.atLeast(denominator, POSTFIX);
        numerator = {
          text: left.text + op + right.text,
          precedence: PRODUCT,
          first: left.first,
          last: right.last,
        };
      }
    }
    if (!negative) return numerator;
    const body = this.atLeast(numerator, PRODUCT);
    return { text: this.minus() + body.text, precedence: NEGATION, first: "number", last: body.last };
  }

  private sum(terms: readonly Expr[]): Doc {
    let text = "";
    let first: Edge = "name";
    let last: Edge = "name";
    terms.forEach((t, i) => {
      let d: Doc;
      let negative = false;
      if (t.kind === "const" && t.value < 0) {
        negative = true;
        d = this.number(-t.value);
      } else if (t.kind === "product" && t.coefficient < 0) {
        negative = true;
        d = this.product(-t.coefficient, t.factors, t.shape);
      } else d = this.print(t);
      d = this.atLeast(d, i === 0 && !negative ? SUM + 1 : PRODUCT);
      if (i === 0) {
        text = negative ? this.minus() + d.text : d.text;
        first = negative ? "number" : d.first;
      } else text += negative ? ` ${this.minus()} ${d.text}` : ` + ${d.text}`;
      last = d.last;
    });
    return { text, precedence: SUM, first, last };
  }
}

/** An expression as a factor of a product: parenthesised unless it is an atom or a power. */
export function printFactor(e: Expr, notation: Notation): string {
  const printer = new Printer(notation);
  const d = printer.print(e);
  if (d.precedence >= POSTFIX) return d.text;
  return notation === "latex" ? `\\left(${d.text}\\right)` : `(${d.text})`;
}

/** An expression as Unicode text. */
export function toText(e: Expr): string {
  return new Printer("text").print(e).text;
}

/** An expression as LaTeX (math mode). */
export function toLatex(e: Expr): string {
  return new Printer("latex").print(e).text;
}

export function printExpr(e: Expr, notation: Notation): string {
  return notation === "latex" ? toLatex(e) : toText(e);
}
