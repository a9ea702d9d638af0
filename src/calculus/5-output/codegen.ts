/**
 * Code generation: a derivation as TypeScript source that computes the expression's value and the requested
 * derivatives with chainrule's ops (`import * as cr from "chainrule"`), one `const` per named quantity so that
 * a shared error signal δ is computed once.
 */
import { colsOf, productShape, rowsOf, shapeToText, type Dim, type Shape } from "../expression/shape.js";
import { toText } from "./print.js";
import { children, type Expr, type NamedExpr, type VariableExpr } from "../expression/expr.js";
import { ruleOf, type CodeHelper } from "../expression/functions.js";

export interface CodeInput {
  expression: string;
  outputName: string;
  kind: "gradient" | "jacobian" | "hessian";
  variables: readonly VariableExpr[];
  /** The expression's value, written with the named pieces. */
  value: Expr;
  /** Named pieces and δ's, each defined before it is used. */
  definitions: readonly NamedExpr[];
  results: readonly { variable: string; expression: Expr; label: string }[];
  /** Module the ops are imported from (default "chainrule"). */
  importFrom?: string;
}

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await as async of type " +
    "cr inputs dtype value gradients Tensor outer trace diagMatrix diagonal norm2 indicator undefined NaN Infinity"
  ).split(" "),
);

const HELPERS: Record<CodeHelper, string> = {
  outer: `/** a bᵀ, the outer product of two vectors. */
function outer(a: Tensor, b: Tensor): Tensor {
  return cr.matmul(cr.reshape(a, [-1, 1]), cr.reshape(b, [1, -1]));
}`,
  trace: `/** tr(X) of a square matrix. */
function trace(x: Tensor): Tensor {
  return cr.sum(cr.mul(x, cr.eye(x.shape[0]!, x.shape[0]!, { dtype: x.dtype })));
}`,
  diagMatrix: `/** diag(v), the diagonal matrix with v on its diagonal. */
function diagMatrix(v: Tensor): Tensor {
  return cr.mul(cr.eye(v.shape[0]!, v.shape[0]!, { dtype: v.dtype }), v);
}`,
  diagonal: `/** The diagonal of a square matrix. */
function diagonal(x: Tensor): Tensor {
  return cr.sum(cr.mul(x, cr.eye(x.shape[0]!, x.shape[0]!, { dtype: x.dtype })), 1);
}`,
  norm2: `/** ‖x‖, the Euclidean (Frobenius) norm. */
function norm2(x: Tensor): Tensor {
  return cr.sqrt(cr.sum(cr.square(x)));
}`,
  indicator: `/** 1(a > b) elementwise, ½ at ties. */
function indicator(a: Tensor, b: Tensor | number): Tensor {
  return cr.add(cr.greater(a, b), cr.mul(cr.equal(a, b), 0.5));
}`,
};

interface Code {
  code: string;
  /** A plain JavaScript number rather than a tensor. */
  number: boolean;
}

/** An identifier for a name: `δ₁` → `delta1`, `z₂` → `z2`, reserved words get a trailing underscore. */
function identifierFor(name: string, taken: Set<string>): string {
  let id = name
    .replace(/δ/g, "delta")
    .replace(/[₀-₉]/g, (c) => String("₀₁₂₃₄₅₆₇₈₉".indexOf(c)))
    .replace(/[^A-Za-z0-9_$]/g, "_");
  if (!/^[A-Za-z_$]/.test(id)) id = `_${id}`;
  while (RESERVED.has(id) || taken.has(id)) id += "_";
  taken.add(id);
  return id;
}

/** TypeScript source computing the value and the derivatives of a derivation. */
export function generateCode(input: CodeInput): string {
  const taken = new Set<string>();
  const variableIds = new Map<string, string>();
  for (const v of input.variables) variableIds.set(v.name, identifierFor(v.name, taken));
  const dimIds = new Map<string, string>();
  const namedIds = new Map<string, string>();
  for (const d of input.definitions) namedIds.set(d.name, identifierFor(d.name, taken));
  const helpers = new Set<CodeHelper>();
  let usesDtype = false;

  const dimCode = (d: Dim): string => {
    if (typeof d === "number") return String(d);
    let id = dimIds.get(d);
    if (id === undefined) {
      id = identifierFor(d, taken);
      dimIds.set(d, id);
    }
    return id;
  };
  const shapeList = (s: Shape): string => {
    switch (s.kind) {
      case "scalar":
        return "[]";
      case "vector":
        return `[${dimCode(s.n)}]`;
      case "row":
        return `[${dimCode(s.n)}]`;
      case "matrix":
        return `[${dimCode(s.rows)}, ${dimCode(s.cols)}]`;
    }
  };
  const tensorOf = (c: Code): string => {
    if (!c.number) return c.code;
    usesDtype = true;
    return `cr.tensor(${c.code}, { dtype })`;
  };
  const binary = (op: "add" | "sub" | "mul" | "div", a: Code, b: Code): Code => {
    if (a.number && b.number) {
      const symbol = { add: "+", sub: "-", mul: "*", div: "/" }[op];
      return { code: `(${a.code} ${symbol} ${b.code})`, number: true };
    }
    return { code: `cr.${op}(${a.code}, ${b.code})`, number: false };
  };
  const negative = (e: Expr): boolean =>
    (e.kind === "const" && e.value < 0) || (e.kind === "product" && e.coefficient < 0);

  const emitNode = (e: Expr): Code => {
    switch (e.kind) {
      case "var":
        return { code: variableIds.get(e.name)!, number: false };
      case "named":
        return { code: namedIds.get(e.name) ?? identifierFor(e.name, taken), number: false };
      case "const":
        return { code: e.value < 0 ? `(${e.value})` : String(e.value), number: true };
      case "dim":
        return { code: dimCode(e.dim), number: true };
      case "differential":
        throw new Error("generateCode: a differential has no value");
      case "identity":
        usesDtype = true;
        return { code: `cr.eye(${dimCode(e.n)}, ${dimCode(e.n)}, { dtype })`, number: false };
      case "ones":
        usesDtype = true;
        return { code: `cr.ones(${shapeList(e.shape)}, { dtype })`, number: false };
      case "zero":
        usesDtype = true;
        return { code: `cr.zeros(${shapeList(e.shape)}, { dtype })`, number: false };
      case "sum": {
        let acc = emit(e.terms[0]!);
        for (let i = 1; i < e.terms.length; i++) {
          const t = e.terms[i]!;
          if (negative(t)) {
            const positive =
              t.kind === "const"
                ? { code: String(-t.value), number: true }
                : emitProduct(-(t as { coefficient: number }).coefficient, t as Expr & { kind: "product" });
            acc = binary("sub", acc, positive);
          } else acc = binary("add", acc, emit(t));
        }
        return acc;
      }
      case "product":
        return emitProduct(e.coefficient, e);
      case "matmul": {
        // A transposed matrix operand is a flag of the matmul kernel, not a copy: Aᵀx → matmul(A, x, { transposeA }).
        const transposedMatrix = (f: Expr): Expr | null =>
          f.kind === "transpose" && f.arg.shape.kind === "matrix" ? f.arg : null;
        let accTransposed = transposedMatrix(e.factors[0]!);
        // The first operand is emitted only when it is not used through a transpose flag.
        let accCode: Code | null = null;
        const accumulated = (): Code => (accCode ??= emit(e.factors[0]!));
        let shape = e.factors[0]!.shape;
        for (let i = 1; i < e.factors.length; i++) {
          const f = e.factors[i]!;
          const plain =
            shape.kind !== "scalar" &&
            !(shape.kind === "vector" && f.shape.kind !== "vector") &&
            !(shape.kind === "matrix" && f.shape.kind === "row");
          const fTransposed = transposedMatrix(f);
          if (plain && (accTransposed !== null || fTransposed !== null)) {
            const left = accTransposed !== null ? emit(accTransposed).code : accumulated().code;
            const right = fTransposed !== null ? emit(fTransposed).code : emit(f).code;
            const flags = [
              accTransposed !== null ? "transposeA: true" : "",
              fTransposed !== null ? "transposeB: true" : "",
            ]
              .filter((x) => x)
              .join(", ");
            accCode = { code: `cr.matmul(${left}, ${right}, { ${flags} })`, number: false };
            accTransposed = null;
            shape = productShape(shape, f.shape)!;
            continue;
          }
          const acc = accumulated();
          accTransposed = null;
          const b = emit(f);
          if (shape.kind === "scalar") {
            // a 1 × 1 product inside the chain scales what follows
            accCode = { code: `cr.mul(${acc.code}, ${b.code})`, number: false };
          } else if (shape.kind === "vector" && f.shape.kind === "row") {
            helpers.add("outer");
            accCode = { code: `outer(${acc.code}, ${b.code})`, number: false };
          } else if (shape.kind === "vector" && f.shape.kind === "matrix") {
            accCode = { code: `cr.matmul(cr.reshape(${acc.code}, [-1, 1]), ${b.code})`, number: false };
          } else if (shape.kind === "matrix" && f.shape.kind === "row") {
            accCode = { code: `cr.matmul(${acc.code}, cr.reshape(${b.code}, [1, -1]))`, number: false };
          } else accCode = { code: `cr.matmul(${acc.code}, ${b.code})`, number: false };
          shape = productShape(shape, f.shape)!;
        }
        return accumulated();
      }
      case "transpose": {
        const a = emit(e.arg);
        return e.arg.shape.kind === "matrix" ? { code: `cr.transpose(${a.code})`, number: false } : a;
      }
      case "indicator": {
        helpers.add("indicator");
        return { code: `indicator(${tensorOf(emit(e.left))}, ${emit(e.right).code})`, number: false };
      }
      case "call": {
        const code = ruleOf(e).code(
          e.args.map((a) => tensorOf(emit(a))),
          e.args.map((a) => a.shape),
        );
        if (code.helper !== undefined) helpers.add(code.helper);
        return { code: code.code, number: false };
      }
    }
  };

  // Sub-expressions used more than once (tanh(z) in the value and in δ, X⁻¹ twice in −X⁻ᵀAᵀX⁻ᵀ) are
  // computed once, into a const declared just before their first use.
  const shared = sharedNodes([
    ...input.definitions.map((d) => d.definition),
    input.value,
    ...input.results.map((r) => r.expression),
  ]);
  const hoisted = new Map<string, string>();
  const body: string[] = [];
  const emit = (e: Expr): Code => {
    const known = hoisted.get(e.key);
    if (known !== undefined) return { code: known, number: false };
    const code = emitNode(e);
    if (!shared.has(e.key) || code.number) return code;
    const id = identifierFor(temporaryName(e), taken);
    body.push(`  const ${id} = ${code.code};`);
    hoisted.set(e.key, id);
    return { code: id, number: false };
  };

  const emitProduct = (coefficient: number, e: Expr & { kind: "product" }): Code => {
    let numerator: Code | null = null;
    let denominator: Code | null = null;
    const times = (acc: Code | null, c: Code): Code => (acc === null ? c : binary("mul", acc, c));
    for (const f of e.factors) {
      const base = emit(f.base);
      const p = Math.abs(f.power);
      let powered: Code;
      if (p === 1) powered = base;
      else if (base.number) powered = { code: `${base.code} ** ${p}`, number: true };
      else if (p === 2) powered = { code: `cr.square(${base.code})`, number: false };
      else if (p === 0.5) powered = { code: `cr.sqrt(${base.code})`, number: false };
      else powered = { code: `cr.pow(${base.code}, ${p})`, number: false };
      if (f.power > 0) numerator = times(numerator, powered);
      else denominator = times(denominator, powered);
    }
    let value: Code = numerator ?? { code: "1", number: true };
    if (denominator !== null) value = binary("div", value, denominator);
    if (coefficient === -1) {
      value = value.number
        ? { code: `(-${value.code})`, number: true }
        : { code: `cr.neg(${value.code})`, number: false };
    } else if (coefficient !== 1) {
      value = binary(
        "mul",
        { code: coefficient < 0 ? `(${coefficient})` : String(coefficient), number: true },
        value,
      );
    }
    return value;
  };

  for (const d of input.definitions) {
    const code = tensorOf(emit(d.definition));
    body.push(`  // ${d.name} = ${toText(d.definition)}`);
    body.push(`  const ${namedIds.get(d.name)} = ${code};`);
  }
  const valueCode = tensorOf(emit(input.value));
  body.push(`  // ${input.outputName} = ${toText(input.value)}`);
  body.push(`  const value = ${valueCode};`);
  const results = input.results.map((r) => {
    return {
      variable: r.variable,
      label: r.label,
      code: tensorOf(emit(r.expression)),
      text: toText(r.expression),
    };
  });
  const prologue: string[] = [];
  for (const v of input.variables) prologue.push(`  const ${variableIds.get(v.name)} = inputs.${v.name};`);
  if (usesDtype) prologue.push(`  const dtype = ${variableIds.get(input.variables[0]!.name)}.dtype;`);
  for (const [dim, id] of dimIds) {
    const source = input.variables.find((v) => rowsOf(v.shape) === dim || colsOf(v.shape) === dim)!;
    const axis = source.shape.kind === "matrix" && rowsOf(source.shape) !== dim ? 1 : 0;
    prologue.push(`  const ${id} = ${variableIds.get(source.name)}.shape[${axis}]!;`);
  }
  const inputType = input.variables.map((v) => `${v.name}: Tensor`).join("; ");
  const outputType = input.results.map((r) => `${r.variable}: Tensor`).join("; ");
  const what = { gradient: "gradients", jacobian: "Jacobians", hessian: "Hessians" }[input.kind];
  const lines = [
    `// Generated by chainrule from: ${input.expression}`,
    `// Shapes: ${input.variables.map((v) => `${v.name}: ${shapeToText(v.shape)}`).join(", ")}`,
    `// Computes ${input.outputName} and its ${what} ${input.results.map((r) => r.label).join(", ")}.`,
    `import * as cr from "${input.importFrom ?? "chainrule"}";`,
    `import type { Tensor } from "${input.importFrom ?? "chainrule"}";`,
    ``,
    `export function compute(inputs: { ${inputType} }): { value: Tensor; gradients: { ${outputType} } } {`,
    ...prologue,
    ...body,
    ...results.map((r) => `  // ${r.label} = ${r.text}`),
    `  return {`,
    `    value,`,
    `    gradients: { ${results.map((r) => `${r.variable}: ${r.code}`).join(", ")} },`,
    `  };`,
    `}`,
  ];
  for (const name of Object.keys(HELPERS) as CodeHelper[])
    if (helpers.has(name)) lines.push("", HELPERS[name]);
  return lines.join("\n") + "\n";
}

/** Non-trivial sub-expressions that occur more than once (a repeated parent counts its children once). */
function sharedNodes(roots: readonly Expr[]): Set<string> {
  const count = new Map<string, number>();
  const visit = (e: Expr): void => {
    const seen = count.get(e.key) ?? 0;
    count.set(e.key, seen + 1);
    if (seen > 0) return;
    for (const child of children(e)) visit(child);
  };
  roots.forEach(visit);
  const shared = new Set<string>();
  const trivial = new Set(["var", "const", "dim", "named", "ones", "identity", "zero", "differential"]);
  for (const root of roots) {
    const walk = (e: Expr): void => {
      if (trivial.has(e.kind)) return;
      // A transpose is a kernel flag or a cheap copy: not worth a name of its own.
      if ((count.get(e.key) ?? 0) > 1 && e.kind !== "transpose") shared.add(e.key);
      for (const child of children(e)) walk(child);
    };
    walk(root);
  }
  return shared;
}

/** A readable name for a computed sub-expression: `tanh_z`, `inv_X`, else `t`. */
function temporaryName(e: Expr): string {
  if (e.kind === "call" && e.args.length === 1) {
    const arg = e.args[0]!;
    if (arg.kind === "var" || arg.kind === "named") return `${e.fn}_${arg.name}`;
    return e.fn;
  }
  return "t";
}
