/**
 * `derive`: gradients, Jacobians and Hessians in matrix notation, derived the way the lecture does on paper,
 * with the steps, printers (Unicode text, LaTeX, JSON), numeric evaluation and generated code.
 *
 *     const d = derive("u' * tanh(W*x + b)", { wrt: ["W", "b"], shapes: { W: "n×m", x: "m", b: "n", u: "n" } });
 *     d.gradients.W.text   // "δ xᵀ"      with d.definitions: z = Wx + b, δ = u ∘ (1 − tanh²(z))
 *     d.gradients.b.text   // "δ"
 *
 * Conventions: a scalar's gradient has the variable's shape (∂f/∂W is n × m); a vector's Jacobian is
 * (∂f/∂x)_ij = ∂f_i/∂x_j (m × n); `order: 2` gives the Hessian of a scalar with respect to a vector. The error
 * signal δ = (∂f/∂z)ᵀ is a column of z's shape (the lecture writes the row δᵀ).
 */
import { ValueError, quoteInput } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { buildExpression } from "./2-shapes/build.js";
import { generateCode } from "./5-output/codegen.js";
import { jacobianOf } from "./3-differentiate/differential.js";
import { bindValues, evaluateExpr, type Environment, type VariableValues } from "./numeric/evaluate.js";
import {
  children,
  dimensionsOf,
  named,
  variable,
  variablesOf,
  zero,
  type Expr,
  type NamedExpr,
  type VariableExpr,
} from "./expression/expr.js";
import { expressionVariables, parseExpression } from "./1-parse/parser.js";
import { findPieces, namePieces, nameErrorSignals, substitute, type Piece } from "./4-simplify/pieces.js";
import { latexName, toLatex, toText } from "./5-output/print.js";
import { reverseMode } from "./3-differentiate/reverse.js";
import { withSimplifyMemo } from "./4-simplify/simplify.js";
import {
  parseShape,
  shapeToText,
  symbolsOf,
  type Shape,
  type Shape as SymbolicShape,
  type ShapeSpec,
} from "./expression/shape.js";
import { buildSteps, partialLabel, type DerivationStep } from "./5-output/steps.js";

/** Declared shapes: `{ W: "n×m", x: "m", b: "n", a: "scalar" }` (also `"n x m"`, `"[3, 4]"`, `[3, 4]`). */
export type ShapeDeclarationInput = Readonly<Record<string, ShapeSpec>> | ReadonlyMap<string, ShapeSpec>;

/** Options of {@link derive}. */
export interface DeriveOptions {
  /** The variable (or variables) to differentiate with respect to. */
  wrt: string | readonly string[];
  /** The shape of every variable of the expression. */
  shapes: ShapeDeclarationInput;
  /** 1 (default): gradients or Jacobians; 2: Hessians of a scalar expression with respect to vectors. */
  order?: 1 | 2;
  /** The output's name in printed results (default `f`). */
  name?: string;
}

/**
 * What a derivative is: the gradient of a scalar (shaped like the variable, `∂s/∂W` is n × m for W n × m),
 * the Jacobian of a vector (`(∂f/∂x)ᵢⱼ = ∂fᵢ/∂xⱼ`, m × n), or the Hessian of a scalar (second order).
 */
export type DerivativeKind = "gradient" | "jacobian" | "hessian";

/** A named quantity of the results: a piece (`z = Wx + b`) or an error signal (`δ = u ∘ (1 − tanh²(z))`). */
export interface Definition {
  /** The name used in the results (`z`, `h`, `δ`, `δ₂`, …). */
  name: string;
  /** "piece": a part of the forward expression; "delta": an error signal reused by several derivatives. */
  role: "piece" | "delta";
  /** The definition's right-hand side as text. */
  text: string;
  /** The definition's right-hand side as LaTeX. */
  latex: string;
  /** The shape, e.g. `n` or `n × m`. */
  shape: string;
  /** The right-hand side as an expression tree. */
  expression: Expr;
}

/** One requested derivative. */
export interface DerivativeResult {
  /** The variable it is taken with respect to. */
  variable: string;
  /** Gradient, Jacobian or Hessian. */
  kind: DerivativeKind;
  /** `∂f/∂W` (or `∂²f/∂x²` for a Hessian). */
  label: string;
  /** `label` as LaTeX. */
  labelLatex: string;
  /** The shape of the result, e.g. `n × m`. */
  shape: string;
  /** The simplified result, which may use the derivation's definitions (δ, z). */
  text: string;
  /** `text` as LaTeX. */
  latex: string;
  /** The same result with every definition written out. */
  expandedText: string;
  /** `expandedText` as LaTeX. */
  expandedLatex: string;
  /** The simplified result as an expression tree. */
  expression: Expr;
  /** Computes the derivative at the given values (float64). */
  evaluate(values: VariableValues): Tensor;
}

/** A derivation as plain data (what `toJSON` returns, e.g. for the playground). */
export interface DerivationData {
  /** The expression as given. */
  expression: string;
  /** The expression's output: its name, shape, and the expression as text and LaTeX. */
  output: {
    /** The output's name (`f` unless `name` was given). */
    name: string;
    /** The output's shape (`1` for a scalar). */
    shape: string;
    /** The expression as text. */
    text: string;
    /** The expression as LaTeX. */
    latex: string;
  };
  /** Gradient, Jacobian or Hessian. */
  kind: DerivativeKind;
  /** The variables differentiated with respect to, in order. */
  wrt: string[];
  /** Every variable of the expression with its declared shape. */
  variables: {
    /** The variable's name. */
    name: string;
    /** Its shape, e.g. `n × m`. */
    shape: string;
  }[];
  /** The named pieces and error signals the results use (see {@link Definition}). */
  definitions: {
    /** The definition's name. */
    name: string;
    /** "piece" or "delta". */
    role: "piece" | "delta";
    /** The right-hand side as text. */
    text: string;
    /** The right-hand side as LaTeX. */
    latex: string;
    /** Its shape. */
    shape: string;
  }[];
  /** One entry per variable of `wrt` (see {@link DerivativeResult}). */
  gradients: Record<
    string,
    {
      /** The variable it is taken with respect to. */
      variable: string;
      /** Gradient, Jacobian or Hessian. */
      kind: DerivativeKind;
      /** `∂f/∂W`. */
      label: string;
      /** `label` as LaTeX. */
      labelLatex: string;
      /** The result's shape. */
      shape: string;
      /** The simplified result (may use the definitions). */
      text: string;
      /** `text` as LaTeX. */
      latex: string;
      /** The result with every definition written out. */
      expandedText: string;
      /** `expandedText` as LaTeX. */
      expandedLatex: string;
    }
  >;
  /** The worked steps, as on paper. */
  steps: DerivationStep[];
  /** TypeScript source computing the value and the derivatives with chainrule's ops. */
  code: string;
}

/**
 * The result of {@link derive}: each derivative in matrix notation, the pieces and error signals it is
 * written with, the worked steps, generated code, and a way to evaluate it all at numbers.
 *
 * @example
 * ```ts
 * const d = derive("u' * tanh(W*x + b)", { wrt: ["W", "b"], shapes: { u: "n", W: "n×m", x: "m", b: "n" } });
 * d.gradients.b.text; // "δ" with δ = u ∘ (1 − tanh²(z)), as in the lecture
 * ```
 */
export interface Derivation {
  /** The expression as given. */
  expression: string;
  /** The expression's output: its name, shape, the expression as text and LaTeX, and its tree. */
  output: {
    /** The output's name (`f` unless `name` was given). */
    name: string;
    /** The output's shape (`1` for a scalar). */
    shape: string;
    /** The expression as text. */
    text: string;
    /** The expression as LaTeX. */
    latex: string;
    /** The parsed expression tree. */
    expression: Expr;
  };
  /** Gradient, Jacobian or Hessian. */
  kind: DerivativeKind;
  /** The variables differentiated with respect to, in order. */
  wrt: string[];
  /** Every variable of the expression with its declared shape. */
  variables: {
    /** The variable's name. */
    name: string;
    /** Its shape, e.g. `n × m`. */
    shape: string;
  }[];
  /** The declared shape of each variable (the symbolic shape objects). */
  variableShapes: Record<string, SymbolicShape>;
  /** Named pieces and error signals used by the results, each defined before it is used. */
  definitions: Definition[];
  /** One entry per variable of `wrt` (a gradient, a Jacobian, or the Hessian when `order: 2`). */
  gradients: Record<string, DerivativeResult>;
  /** The worked steps: pieces, local Jacobians, the chain rule, simplification. */
  steps: DerivationStep[];
  /** TypeScript source computing the value and the derivatives with chainrule's ops. */
  code: string;
  /** The value and every derivative at the given values; shared quantities (δ) are computed once. */
  evaluate(values: VariableValues): {
    /** The expression's value. */
    value: Tensor;
    /** Each derivative, keyed by variable. */
    gradients: Record<string, Tensor>;
  };
  /** The results as text (with `steps: true`, the steps first). */
  toText(options?: { steps?: boolean }): string;
  /** The results as LaTeX (an `aligned` block; with `steps: true`, the steps too). */
  toLatex(options?: { steps?: boolean }): string;
  /** The derivation as plain data that survives `JSON.stringify` (no trees, no functions). */
  toJSON(): DerivationData;
}

function readShapes(shapes: ShapeDeclarationInput): Map<string, Shape> {
  if (shapes === null || typeof shapes !== "object") {
    throw new ValueError('derive: shapes must be an object such as { W: "n×m", x: "m" }');
  }
  const entries: [string, ShapeSpec][] =
    shapes instanceof Map ? [...shapes.entries()] : Object.entries(shapes as Record<string, ShapeSpec>);
  const out = new Map<string, Shape>();
  for (const [name, spec] of entries) out.set(name, parseShape(spec, name));
  return out;
}

function readWrt(wrt: string | readonly string[]): string[] {
  const list = typeof wrt === "string" ? wrt.split(",") : Array.isArray(wrt) ? wrt : null;
  if (list === null || list.some((w) => typeof w !== "string")) {
    throw new ValueError("derive: wrt must be a variable name or a list of names");
  }
  const names = [...new Set(list.map((w) => w.trim()).filter((w) => w.length > 0))];
  if (names.length === 0) throw new ValueError("derive: wrt names no variable");
  return names;
}

function chooseOutputName(requested: string | undefined, variables: readonly VariableExpr[]): string {
  const taken = new Set(variables.map((v) => v.name));
  if (requested !== undefined) {
    if (typeof requested !== "string" || !/^[A-Za-z][A-Za-z0-9_]*$/.test(requested)) {
      throw new ValueError(
        `derive: name must be an identifier such as f or s, got ${JSON.stringify(requested)}`,
      );
    }
    if (taken.has(requested))
      throw new ValueError(`derive: name ${requested} is also a variable of the expression`);
    return requested;
  }
  return ["f", "F", "J", "L", "out"].find((n) => !taken.has(n))!;
}

/**
 * Derives gradients (scalar expressions), Jacobians (vector expressions) or Hessians (`order: 2`) of an
 * expression with respect to the variables in `wrt`, simplified into matrix notation, with the steps.
 * Throws ParseError (bad syntax, with line, column and a caret), ShapeError (shapes that do not fit) or
 * ValueError (undeclared variable, a `wrt` not in the expression, unsupported derivative).
 */
export function derive(expression: string, options: DeriveOptions): Derivation {
  return withSimplifyMemo(() => deriveWithMemo(expression, options));
}

function deriveWithMemo(expression: string, options: DeriveOptions): Derivation {
  if (options === null || typeof options !== "object") {
    throw new ValueError("derive: options { wrt, shapes } are required");
  }
  const parsed = parseExpression(expression);
  const shapes = readShapes(options.shapes);
  const wrt = readWrt(options.wrt);
  const order = options.order ?? 1;
  if (order !== 1 && order !== 2)
    throw new ValueError(`derive: order must be 1 or 2, got ${quoteInput(order)}`);
  const root = buildExpression(parsed, shapes);
  // The variables as written (one may cancel out, x − x, and then its derivative is 0).
  const written = expressionVariables(parsed);
  for (const w of wrt) {
    if (!written.includes(w)) {
      throw new ValueError(
        `cannot differentiate with respect to ${w}: it does not occur in ${expression.trim()}` +
          (written.length > 0 ? ` (its variables are ${written.join(", ")})` : " (it has no variables)"),
      );
    }
  }
  const remaining = new Set(variablesOf(root).map((v) => v.name));
  // A variable that cancels (a ./ y .* y) may still fix the size of a dimension the result needs (𝟏 of y's
  // length): it stays an input then, so that evaluation and generated code know that size.
  const kept = new Set(written.filter((name) => remaining.has(name) || wrt.includes(name)));
  const known = new Set([...kept].flatMap((name) => symbolsOf(shapes.get(name)!)));
  for (const d of dimensionsOf(root)) {
    if (known.has(d)) continue;
    const source = written.find((name) => symbolsOf(shapes.get(name)!).includes(d));
    if (source === undefined) continue;
    kept.add(source);
    for (const s of symbolsOf(shapes.get(source)!)) known.add(s);
  }
  const variables = written.filter((name) => kept.has(name)).map((name) => variable(name, shapes.get(name)!));
  const shapeOf = (name: string): Shape => shapes.get(name)!;
  let kind: DerivativeKind;
  if (root.shape.kind === "scalar") kind = order === 2 ? "hessian" : "gradient";
  else if (root.shape.kind === "vector") {
    if (order === 2) {
      throw new ValueError(
        `derive: Hessians are of scalar expressions; ${expression.trim()} is a vector (${shapeToText(root.shape)})`,
      );
    }
    kind = "jacobian";
  } else {
    throw new ValueError(
      `derive: ${expression.trim()} is ${root.shape.kind === "row" ? "a row vector" : "a matrix"} (${shapeToText(root.shape)}); ` +
        "chainrule differentiates scalars (gradients, Hessians) and column vectors (Jacobians)",
    );
  }
  if (kind === "hessian") {
    for (const w of wrt) {
      if (shapeOf(w).kind === "matrix") {
        throw new ValueError(
          `derive: the Hessian with respect to the matrix ${w} would be a fourth-order tensor; ask for order 1 (the gradient) or for a vector`,
        );
      }
    }
  }
  const outputName = chooseOutputName(options.name, variables);
  const taken = new Set<string>([...variables.map((v) => v.name), outputName]);
  const pieces = findPieces(root, taken);

  // The raw (fully written out, simplified) derivatives.
  const reverse = kind === "jacobian" ? null : reverseMode(root);
  const gradientOf = (w: string): Expr =>
    reverse!.adjoints.get(variable(w, shapeOf(w)).key) ?? zero(shapeOf(w));
  const raw: Expr[] = wrt.map((w) => {
    if (kind === "gradient") return gradientOf(w);
    if (kind === "jacobian") return jacobianOf(root, w, shapeOf(w));
    return jacobianOf(gradientOf(w), w, shapeOf(w));
  });

  // The results as a person would write them: pieces by name where they are function arguments, δ named.
  let results: Expr[];
  let definitions: NamedExpr[];
  let deltaPieces = new Map<string, Piece>();
  let gradientsForSteps: Expr[] | undefined;
  let stepDefinitions: NamedExpr[] | undefined;
  if (kind === "gradient") {
    const signals = nameErrorSignals(raw, pieces, reverse!.adjoints);
    deltaPieces = signals.pieceOf;
    ({ results, definitions } = nameWithDeltas(signals.results, signals.deltas, pieces));
  } else {
    const named = namePieces(raw, pieces);
    results = named.exprs;
    definitions = named.definitions;
    if (kind === "hessian") {
      const signals = nameErrorSignals(wrt.map(gradientOf), pieces, reverse!.adjoints);
      deltaPieces = signals.pieceOf;
      const forSteps = nameWithDeltas(signals.results, signals.deltas, pieces);
      gradientsForSteps = forSteps.results;
      stepDefinitions = [...definitions];
      for (const d of forSteps.definitions)
        if (!stepDefinitions.some((x) => x.name === d.name)) stepDefinitions.push(d);
    }
  }
  const pieceKeys = new Map<string, Expr>();
  for (const d of definitions) {
    const piece = pieces.find((p) => p.name === d.name);
    if (piece) pieceKeys.set(piece.node.key, d);
  }
  const value = substitute(root, pieceKeys);

  const variableList = variables.map((v) => ({ name: v.name, shape: shapeToText(v.shape) }));
  const environment = (values: VariableValues): Environment => bindValues(variables, values);
  const gradients: Record<string, DerivativeResult> = {};
  wrt.forEach((w, i) => {
    const expression = results[i]!;
    const label = partialLabel(outputName, w, kind === "hessian" ? 2 : 1);
    const length = (s: Shape): string => (s.kind === "scalar" ? "1" : shapeToText(s));
    const rows = kind === "hessian" ? shapeOf(w) : root.shape;
    const resultShape =
      kind === "gradient" || (rows.kind === "scalar" && shapeOf(w).kind === "scalar")
        ? shapeToText(expression.shape)
        : `${length(rows)} × ${length(shapeOf(w))}`;
    gradients[w] = {
      variable: w,
      kind,
      label: label.text,
      labelLatex: label.latex,
      shape: resultShape,
      text: toText(expression),
      latex: toLatex(expression),
      expandedText: toText(raw[i]!),
      expandedLatex: toLatex(raw[i]!),
      expression,
      evaluate: (values) => evaluateExpr(expression, environment(values)),
    };
  });
  const definitionList: Definition[] = definitions.map((d) => ({
    name: d.name,
    role: d.role,
    text: toText(d.definition),
    latex: toLatex(d.definition),
    shape: shapeToText(d.shape),
    expression: d.definition,
  }));
  const steps = buildSteps({
    root,
    outputName,
    pieces,
    wrt,
    shapes,
    kind,
    definitions: stepDefinitions ?? definitions,
    results,
    gradients: gradientsForSteps,
    deltaPieces,
  });
  const code = generateCode({
    expression: expression.trim(),
    outputName,
    kind,
    variables,
    value,
    definitions: orderDefinitions(definitions),
    results: wrt.map((w, i) => ({ variable: w, expression: results[i]!, label: gradients[w]!.label })),
  });
  const output = {
    name: outputName,
    shape: shapeToText(root.shape),
    text: toText(root),
    latex: toLatex(root),
    expression: root,
  };
  const data = (): DerivationData => ({
    expression,
    output: { name: output.name, shape: output.shape, text: output.text, latex: output.latex },
    kind,
    wrt: wrt.slice(),
    variables: variableList.map((v) => ({ ...v })),
    definitions: definitionList.map(({ name, role, text, latex, shape }) => ({
      name,
      role,
      text,
      latex,
      shape,
    })),
    gradients: Object.fromEntries(
      wrt.map((w) => {
        const g = gradients[w]!;
        return [
          w,
          {
            variable: g.variable,
            kind: g.kind,
            label: g.label,
            labelLatex: g.labelLatex,
            shape: g.shape,
            text: g.text,
            latex: g.latex,
            expandedText: g.expandedText,
            expandedLatex: g.expandedLatex,
          },
        ];
      }),
    ),
    steps: steps.map((s) => ({ number: s.number, title: s.title, lines: s.lines.map((l) => ({ ...l })) })),
    code,
  });
  return {
    expression,
    output,
    kind,
    wrt,
    variables: variableList,
    variableShapes: Object.fromEntries(variables.map((v) => [v.name, v.shape])),
    definitions: definitionList,
    gradients,
    steps,
    code,
    evaluate(values) {
      const env = environment(values);
      const out: Record<string, Tensor> = {};
      for (const w of wrt) out[w] = evaluateExpr(gradients[w]!.expression, env);
      return { value: evaluateExpr(root, env), gradients: out };
    },
    toText(options = {}) {
      const lines: string[] = [];
      if (options.steps) {
        for (const step of steps) {
          lines.push(`(${step.number}) ${step.title}`);
          for (const line of step.lines) lines.push(`    ${line.text}`);
        }
        lines.push("");
      }
      lines.push(`${outputName} = ${output.text}`);
      for (const d of definitionList) lines.push(`${d.name} = ${d.text}`);
      for (const w of wrt) {
        const g = gradients[w]!;
        lines.push(`${g.label} = ${g.text}   (${g.shape})`);
      }
      return lines.join("\n");
    },
    toLatex(options = {}) {
      const rows: string[] = [];
      rows.push(`${latexName(outputName)} &= ${output.latex}`);
      for (const d of definitionList) rows.push(`${latexName(d.name)} &= ${d.latex}`);
      for (const w of wrt) rows.push(`${gradients[w]!.labelLatex} &= ${gradients[w]!.latex}`);
      const results = `\\begin{aligned}\n${rows.join(" \\\\\n")}\n\\end{aligned}`;
      if (!options.steps) return results;
      const parts = steps.map(
        (s) =>
          `% (${s.number}) ${s.title}\n\\begin{aligned}\n${s.lines.map((l) => `& ${l.latex}`).join(" \\\\\n")}\n\\end{aligned}`,
      );
      return [...parts, results].join("\n\n");
    },
    toJSON: data,
  };
}

/** Names the pieces used as function arguments in the results and in the δ definitions. */
function nameWithDeltas(
  results: readonly Expr[],
  deltas: readonly NamedExpr[],
  pieces: readonly Piece[],
): { results: Expr[]; definitions: NamedExpr[] } {
  const rewritten = namePieces([...results, ...deltas.map((d) => d.definition)], pieces);
  // Rebuild the δ's with their new definitions (output side first: later ones use earlier ones).
  const byKey = new Map<string, Expr>();
  const finalDeltas: NamedExpr[] = [];
  deltas.forEach((d, i) => {
    const definition = substitute(rewritten.exprs[results.length + i]!, byKey);
    const node = named(d.name, definition, "delta");
    byKey.set(d.key, node);
    finalDeltas.push(node);
  });
  return {
    results: rewritten.exprs.slice(0, results.length).map((e) => substitute(e, byKey)),
    definitions: [...rewritten.definitions, ...finalDeltas],
  };
}

/** Definitions ordered so that each comes after the ones it uses. */
function orderDefinitions(definitions: readonly NamedExpr[]): NamedExpr[] {
  const out: NamedExpr[] = [];
  const placed = new Set<string>();
  const place = (d: NamedExpr): void => {
    if (placed.has(d.key)) return;
    placed.add(d.key);
    for (const other of definitions) if (other !== d && usesNamed(d.definition, other.key)) place(other);
    out.push(d);
  };
  for (const d of definitions) place(d);
  return out;
}

function usesNamed(e: Expr, key: string): boolean {
  if (e.key === key) return true;
  if (e.kind === "named") return usesNamed(e.definition, key);
  return children(e).some((child) => usesNamed(child, key));
}
