/**
 * `chainrule derive EXPR --wrt W,b --shapes "W:n×m,x:m,b:n,u:n" [--steps] [--latex] [--code] [--check]`:
 * gradients (Jacobians, Hessians) derived by hand in matrix notation, checked against backprop on request.
 */
import type { Command } from "commander";
import { ValueError, GradientError } from "../../errors.js";
import { checkDerivation, type CheckReport } from "../../calculus/numeric/check.js";
import { derive } from "../../calculus/derive.js";
import { expressionVariables } from "../../calculus/1-parse/parser.js";

/** Splits on commas that are not inside brackets: `W:[3, 4], x:4` → `W:[3, 4]`, `x:4`. */
export function splitTopLevel(text: string, separators = ",;"): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const c of text) {
    if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") depth = Math.max(0, depth - 1);
    if (depth === 0 && separators.includes(c)) {
      parts.push(current);
      current = "";
    } else current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Reads `--shapes "W:n×m,x:m,b:n,a:scalar"` (also `W=3x4`). */
export function parseShapesOption(text: string): Record<string, string> {
  const shapes: Record<string, string> = {};
  for (const entry of splitTopLevel(text)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*(.*)$/.exec(entry);
    if (!match) {
      throw new ValueError(`--shapes: expected name:shape (e.g. W:n×m or x:3), got '${entry}'`);
    }
    shapes[match[1]!] = match[2]!;
  }
  return shapes;
}

/** Reads `--sizes n=3,m=4`. */
function parseSizes(text: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const entry of splitTopLevel(text)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*(\d+)$/.exec(entry);
    if (!match || Number(match[2]) < 1)
      throw new ValueError(`--sizes: expected name=size (e.g. n=3), got '${entry}'`);
    sizes[match[1]!] = Number(match[2]);
  }
  return sizes;
}

function formatDifference(x: number): string {
  if (x === 0) return "0";
  return x.toExponential(1);
}

/** The check report in a few lines. */
export function formatCheck(report: CheckReport): string {
  const sizes = Object.entries(report.sizes)
    .map(([d, n]) => `${d} = ${n}`)
    .join(", ");
  const lines = [
    `check at random values${sizes ? ` (${sizes})` : ""}:`,
    `  largest difference from backprop:            ${formatDifference(report.maxBackpropDifference)}`,
    `  largest difference from finite differences:  ${formatDifference(report.maxFiniteDifference)}`,
  ];
  for (const v of report.variables) {
    lines.push(
      `    ${v.variable}: backprop ${formatDifference(v.backprop)}, finite differences ${formatDifference(v.finiteDifference)}`,
    );
  }
  lines.push(report.passed ? "  agrees" : "  DOES NOT AGREE");
  return lines.join("\n");
}

interface DeriveCommandOptions {
  wrt?: string;
  shapes?: string;
  order?: string;
  name?: string;
  steps?: boolean;
  latex?: boolean;
  code?: boolean;
  check?: boolean;
  json?: boolean;
  seed?: string;
  sizes?: string;
}

export function register(program: Command): void {
  program
    .command("derive")
    .description(
      "derive gradients in matrix notation, the way the lecture does by hand (Jacobians of vector " +
        "expressions; Hessians with --order 2)",
    )
    .argument(
      "<expression>",
      `the expression, e.g. "u' * tanh(W*x + b)" (put -- before one that starts with a minus sign)`,
    )
    .option("--wrt <names>", "variables to differentiate with respect to, comma-separated (default: all)")
    .option("--shapes <shapes>", 'shapes of the variables, e.g. "W:n×m,x:m,b:n,u:n" (a: scalar, A:3x4)', "")
    .option("--order <n>", "1 for gradients and Jacobians, 2 for Hessians", "1")
    .option("--name <name>", "the output's name in the results (default f)")
    .option("--steps", "show the steps: pieces, local Jacobians, chain rule, simplification")
    .option("--latex", "print LaTeX instead of text")
    .option("--code", "print TypeScript code computing the value and the gradients with chainrule")
    .option("--check", "compare with backprop and finite differences at random values")
    .option("--sizes <sizes>", "sizes of the symbolic dimensions for --check, e.g. n=3,m=4")
    .option("--seed <n>", "seed of the random values for --check", "0")
    .option("--json", "print the derivation as JSON")
    .action((expression: string, options: DeriveCommandOptions) => {
      const order = Number(options.order ?? "1");
      if (order !== 1 && order !== 2) throw new ValueError(`--order must be 1 or 2, got ${options.order}`);
      const wrt = options.wrt ? splitTopLevel(options.wrt) : expressionVariables(expression);
      const derivation = derive(expression, {
        wrt,
        shapes: parseShapesOption(options.shapes ?? ""),
        order,
        ...(options.name !== undefined ? { name: options.name } : {}),
      });
      const out: string[] = [];
      if (options.json) out.push(JSON.stringify(derivation.toJSON(), null, 2));
      else if (options.latex) out.push(derivation.toLatex({ steps: options.steps === true }));
      else out.push(derivation.toText({ steps: options.steps === true }));
      if (options.code) out.push("", derivation.code.trimEnd());
      let report: CheckReport | null = null;
      if (options.check) {
        const seed = Number(options.seed ?? "0");
        if (!Number.isSafeInteger(seed))
          throw new ValueError(`--seed must be an integer, got ${options.seed}`);
        report = checkDerivation(derivation, {
          seed,
          ...(options.sizes ? { sizes: parseSizes(options.sizes) } : {}),
        });
        out.push("", formatCheck(report));
      }
      process.stdout.write(out.join("\n") + "\n");
      if (report && !report.passed) {
        throw new GradientError(
          "derive --check: the derivation does not agree with backprop and finite differences",
        );
      }
    });
}
