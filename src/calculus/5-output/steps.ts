/**
 * The lecture's method as recorded steps: (1) break the expression into simple pieces, (2) write each local
 * derivative with its shape, (3) chain them, (4) simplify and name the error signal δ (and, for a Hessian,
 * (5) differentiate the gradient again).
 *
 * Local derivatives between scalars and vectors are Jacobians in the lecture's layout, (∂f/∂x)_ij = ∂f_i/∂x_j
 * (m × n), so a scalar's derivative is a row (`∂s/∂h = uᵀ`, 1 × n). Where a matrix is involved, a scalar's
 * derivative is written as a gradient of the matrix's shape and anything else as a differential
 * (`dz = dW x`, that is ∂z_i/∂W_ij = x_j).
 */
import { ValueError } from "../../errors.js";
import { dependsOn, variable, variablesOf, type Expr, type NamedExpr } from "../expression/expr.js";
import { differentialOf, jacobianOf } from "../3-differentiate/differential.js";
import { pieceVariables, substitute, type Piece } from "../4-simplify/pieces.js";
import { latexName, printFactor, toLatex, toText } from "./print.js";
import { reverseMode } from "../3-differentiate/reverse.js";
import { isScalar, rowsOf, shapeToText, type Shape } from "../expression/shape.js";

/** One line of a derivation step, in text and in LaTeX. */
export interface StepLine {
  /** The line as plain text (`∂z/∂b = I`). */
  text: string;
  /** The line as LaTeX. */
  latex: string;
}

/** One step of a derivation, as on paper: "break into pieces", "local Jacobians", "chain rule", … */
export interface DerivationStep {
  /** The step's number, from 1. */
  number: number;
  /** What the step does. */
  title: string;
  /** The step's lines, in order. */
  lines: StepLine[];
}

/** A label ∂a/∂b in text and LaTeX. */
export function partialLabel(of: string, wrt: string, order = 1): StepLine {
  if (order === 2) {
    return {
      text: `∂²${of}/∂${wrt}²`,
      latex: `\\frac{\\partial^{2} ${latexName(of)}}{\\partial ${latexName(wrt)}^{2}}`,
    };
  }
  return { text: `∂${of}/∂${wrt}`, latex: `\\frac{\\partial ${latexName(of)}}{\\partial ${latexName(wrt)}}` };
}

/** A size such as `n × m` or `scalar` in LaTeX. */
function latexSize(size: string): string {
  return size === "scalar" ? "\\text{scalar}" : size.replace(/×/g, "\\times");
}

function jacobianSize(of: Shape, wrt: Shape): string {
  const rows = isScalar(of) ? 1 : rowsOf(of);
  const cols = isScalar(wrt) ? 1 : rowsOf(wrt);
  return `${rows} × ${cols}`;
}

interface LocalDerivative {
  /** The Jacobian as a factor of a chain (parenthesised where needed), or null for a gradient or differential. */
  chain: StepLine | null;
  /** The value on its own (a Jacobian, a gradient or a differential). */
  value: StepLine;
  line: StepLine;
}

/** The local derivative of the piece `of` (defined by `definition`) with respect to `wrt`. */
function localDerivative(of: string, definition: Expr, wrt: string, wrtShape: Shape): LocalDerivative {
  const label = partialLabel(of, wrt);
  const ofShape = definition.shape;
  const matrixInvolved = ofShape.kind === "matrix" || wrtShape.kind === "matrix";
  if (!matrixInvolved) {
    try {
      const j = jacobianOf(definition, wrt, wrtShape);
      const size = jacobianSize(ofShape, wrtShape);
      const value = { text: toText(j), latex: toLatex(j) };
      return {
        chain: { text: printFactor(j, "text"), latex: printFactor(j, "latex") },
        value,
        line: {
          text: `${label.text} = ${value.text}   (${size})`,
          latex: `${label.latex} = ${value.latex} \\quad (${latexSize(size)})`,
        },
      };
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
    }
  }
  if (isScalar(ofShape)) {
    const gradient = reverseMode(definition).adjoints.get(variable(wrt, wrtShape).key);
    if (gradient !== undefined) {
      const size = shapeToText(wrtShape);
      return {
        chain: null,
        value: { text: toText(gradient), latex: toLatex(gradient) },
        line: {
          text: `${label.text} = ${toText(gradient)}   (${size}, a gradient: the shape of ${wrt})`,
          latex: `${label.latex} = ${toLatex(gradient)} \\quad (${latexSize(size)})`,
        },
      };
    }
  }
  const d = differentialOf(definition, wrt, wrtShape);
  let note = "";
  let latexNote = "";
  if (d.kind === "matmul" && d.factors.length === 2 && d.factors[0]!.kind === "differential") {
    const v = d.factors[1]!;
    if (v.kind === "var" && v.shape.kind === "vector" && ofShape.kind === "vector") {
      // The lecture's entrywise form: z = Wx gives ∂zᵢ/∂Wᵢⱼ = xⱼ.
      note = `, that is ∂${of}ᵢ/∂${wrt}ᵢⱼ = ${v.name}ⱼ`;
      latexNote = `, \\quad \\frac{\\partial ${latexName(of)}_{i}}{\\partial ${latexName(wrt)}_{ij}} = ${latexName(v.name)}_{j}`;
    }
  }
  return {
    chain: null,
    value: {
      text: `from d${of} = ${toText(d)}`,
      latex: `\\text{from } \\mathrm{d}${latexName(of)} = ${toLatex(d)}`,
    },
    line: {
      text: `d${of} = ${toText(d)}${note}`,
      latex: `\\mathrm{d}${latexName(of)} = ${toLatex(d)}${latexNote}`,
    },
  };
}

export interface StepsInput {
  root: Expr;
  outputName: string;
  pieces: readonly Piece[];
  wrt: readonly string[];
  shapes: ReadonlyMap<string, Shape>;
  kind: "gradient" | "jacobian" | "hessian";
  /** Named pieces and δ's used in the results, in order. */
  definitions: readonly NamedExpr[];
  /** The results in order of `wrt` (gradients, Jacobians or Hessians). */
  results: readonly Expr[];
  /** For a Hessian: the gradients it differentiates (with definitions). */
  gradients?: readonly Expr[];
  /** For δ: the piece whose gradient it is. */
  deltaPieces: ReadonlyMap<string, Piece>;
}

const MAX_PATHS = 12;

/** Builds the steps of a derivation. */
export function buildSteps(input: StepsInput): DerivationStep[] {
  const { root, outputName, pieces, wrt, shapes } = input;
  const { definitions, variables } = pieceVariables(pieces);
  const outputDefinition = substitute(root, variables);
  const nodeDefinitions = new Map<string, Expr>(definitions);
  nodeDefinitions.set(outputName, outputDefinition);
  const shapeOf = (name: string): Shape => {
    const piece = nodeDefinitions.get(name);
    if (piece) return piece.shape;
    return shapes.get(name)!;
  };

  // (1) pieces
  const pieceLines: StepLine[] = [];
  for (const [name, def] of definitions) {
    pieceLines.push({
      text: `${name} = ${toText(def)}   (${shapeToText(def.shape)})`,
      latex: `${latexName(name)} = ${toLatex(def)} \\quad (${latexSize(shapeToText(def.shape))})`,
    });
  }
  pieceLines.push({
    text: `${outputName} = ${toText(outputDefinition)}   (${shapeToText(outputDefinition.shape)})`,
    latex: `${latexName(outputName)} = ${toLatex(outputDefinition)} \\quad (${latexSize(shapeToText(outputDefinition.shape))})`,
  });
  if (definitions.size === 0) {
    pieceLines.push({
      text: `(${outputName} has no non-linear function of a compound argument: it is one simple piece)`,
      latex: `\\text{(one simple piece)}`,
    });
  }

  // (2) local derivatives on the paths to the variables
  const wanted = new Set(wrt);
  const dependencies = (name: string): string[] => variablesOf(nodeDefinitions.get(name)!).map((v) => v.name);
  const reached = new Map<string, boolean>();
  const reaches = (name: string): boolean => {
    if (wanted.has(name)) return true;
    const known = reached.get(name);
    if (known !== undefined) return known;
    const def = nodeDefinitions.get(name);
    const result =
      def !== undefined &&
      ([...wanted].some((w) => dependsOn(def, w)) ||
        dependencies(name).some((d) => nodeDefinitions.has(d) && reaches(d)));
    reached.set(name, result);
    return result;
  };
  const locals = new Map<string, LocalDerivative>();
  const localLines: StepLine[] = [];
  const order = [outputName, ...[...definitions.keys()].reverse()];
  for (const name of order) {
    for (const dep of dependencies(name)) {
      if (!(wanted.has(dep) || (nodeDefinitions.has(dep) && reaches(dep)))) continue;
      const local = localDerivative(name, nodeDefinitions.get(name)!, dep, shapeOf(dep));
      locals.set(`${name}|${dep}`, local);
      localLines.push(local.line);
    }
  }

  // (3) chain rule along every path from the output to each variable
  const chainLines: StepLine[] = [];
  for (const v of wrt) {
    const paths: string[][] = [];
    const walk = (name: string, path: string[]): void => {
      if (paths.length > MAX_PATHS) return;
      for (const dep of dependencies(name)) {
        if (dep === v) paths.push([...path, dep]);
        else if (nodeDefinitions.has(dep) && reaches(dep)) walk(dep, [...path, dep]);
      }
    };
    walk(outputName, [outputName]);
    const label = partialLabel(outputName, v);
    if (paths.length > MAX_PATHS) {
      chainLines.push({
        text: `${label.text} = a sum over more than ${MAX_PATHS} paths`,
        latex: `${label.latex} = \\textstyle\\sum_{\\text{paths}} \\cdots`,
      });
      continue;
    }
    const symbolic: StepLine[] = [];
    const values: StepLine[] = [];
    for (const path of paths) {
      const factors: StepLine[] = [];
      const factorValues: StepLine[] = [];
      for (let i = 0; i + 1 < path.length; i++) {
        const symbol = partialLabel(path[i]!, path[i + 1]!);
        const local = locals.get(`${path[i]}|${path[i + 1]}`)!;
        if (path.length === 2) {
          // The direct dependence, beside paths through pieces: its value (∂f/∂x would read as the total).
          const value = local.chain === null ? symbol : local.value;
          factors.push(value);
          factorValues.push(value);
          continue;
        }
        factors.push(symbol);
        factorValues.push(local.chain ?? symbol);
      }
      symbolic.push({
        text: factors.map((f) => f.text).join(" "),
        latex: factors.map((f) => f.latex).join(" \\, "),
      });
      values.push({
        text: factorValues.map((f) => f.text).join(" "),
        latex: factorValues.map((f) => f.latex).join(" \\, "),
      });
    }
    const join = (lines: StepLine[]): StepLine => ({
      text: lines.map((l) => l.text).join(" + "),
      latex: lines.map((l) => l.latex).join(" + "),
    });
    if (paths.length === 0) {
      chainLines.push({
        text: `${label.text} = 0   (${outputName} does not depend on ${v}: it cancels out)`,
        latex: `${label.latex} = 0`,
      });
      continue;
    }
    if (paths.length === 1 && paths[0]!.length === 2) {
      // The output depends on the variable directly: nothing to chain.
      const local = locals.get(`${outputName}|${v}`)!;
      chainLines.push({
        text: `${label.text} = ${local.value.text}   (${outputName} depends on ${v} directly)`,
        latex: `${label.latex} = ${local.value.latex}`,
      });
      continue;
    }
    const s = join(symbolic);
    const value = join(values);
    const contracted = paths.some((p) =>
      p.some((_, i) => i + 1 < p.length && locals.get(`${p[i]}|${p[i + 1]}`)!.chain === null),
    );
    const note = contracted ? "   (the matrix factors are contracted as their differentials in (2) say)" : "";
    chainLines.push({
      text:
        s.text === value.text
          ? `${label.text} = ${s.text}${note}`
          : `${label.text} = ${s.text} = ${value.text}${note}`,
      latex:
        s.latex === value.latex
          ? `${label.latex} = ${s.latex}`
          : `${label.latex} = ${s.latex} = ${value.latex}`,
    });
  }
  if (input.kind === "gradient" || input.kind === "hessian") {
    chainLines.push({
      text: `(a Jacobian of the scalar ${outputName} is a row; the gradient reported below is its transpose, with the variable's shape)`,
      latex: `\\text{(the gradient is the transposed Jacobian, with the variable's shape)}`,
    });
  }

  // (4) simplified results
  const simplifyLines: StepLine[] = [];
  for (const d of input.definitions) {
    const line: StepLine = {
      text: `${d.name} = ${toText(d.definition)}`,
      latex: `${latexName(d.name)} = ${toLatex(d.definition)}`,
    };
    if (d.role === "delta") {
      const piece = input.deltaPieces.get(d.name);
      if (piece && isScalar(piece.node.shape)) {
        const label = partialLabel(outputName, piece.name);
        line.text += `   (${d.name} = ${label.text}, the error signal at ${piece.name}, a scalar)`;
        line.latex += ` \\quad \\left(${latexName(d.name)} = ${label.latex}\\right)`;
      } else if (piece) {
        const label = partialLabel(outputName, piece.name);
        const size = shapeToText(piece.node.shape);
        line.text += `   (${d.name} = (${label.text})ᵀ, the error signal at ${piece.name}: ${size}, a column; the lecture writes the row ${d.name}ᵀ)`;
        line.latex += ` \\quad \\left(${latexName(d.name)} = \\left(${label.latex}\\right)^{\\top}\\right)`;
      }
    }
    simplifyLines.push(line);
  }
  const resultLabel = (v: string): StepLine => partialLabel(outputName, v, input.kind === "hessian" ? 2 : 1);
  const gradientsForSteps = input.kind === "hessian" ? (input.gradients ?? []) : input.results;
  wrt.forEach((v, i) => {
    const r = gradientsForSteps[i]!;
    const label = partialLabel(outputName, v);
    simplifyLines.push({
      text: `${label.text} = ${toText(r)}   (${sizeText(r.shape, input.kind === "jacobian", root.shape, shapes.get(v)!)})`,
      latex: `${label.latex} = ${toLatex(r)}`,
    });
  });
  const steps: DerivationStep[] = [
    { number: 1, title: "Break the expression into simple pieces", lines: pieceLines },
    { number: 2, title: "Local derivatives, with their shapes", lines: localLines },
    { number: 3, title: "Apply the chain rule", lines: chainLines },
    {
      number: 4,
      title: input.kind === "jacobian" ? "Simplify" : "Simplify, naming the error signal δ",
      lines: simplifyLines,
    },
  ];
  if (input.kind === "hessian") {
    const lines: StepLine[] = wrt.map((v, i) => {
      const label = resultLabel(v);
      const r = input.results[i]!;
      const n = shapes.get(v)!;
      return {
        text: `${label.text} = ∂(∇${v} ${outputName})/∂${v} = ${toText(r)}   (${jacobianSize(n, n)})`,
        latex: `${label.latex} = ${toLatex(r)}`,
      };
    });
    steps.push({ number: 5, title: "Differentiate the gradient again (the Hessian)", lines });
  }
  return steps;
}

function sizeText(resultShape: Shape, jacobian: boolean, outputShape: Shape, wrtShape: Shape): string {
  return jacobian ? jacobianSize(outputShape, wrtShape) : shapeToText(resultShape);
}
