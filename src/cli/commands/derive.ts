/**
 * `chainrule derive EXPR --wrt W,b --shapes "W:n×m,x:m,b:n,u:n" [--steps] [--latex] [--code] [--check]`:
 * gradients (Jacobians, Hessians) derived by hand in matrix notation, checked against backprop on request.
 */
import type { Command } from "commander";
import { ValueError, GradientError } from "../../errors.js";
import { checkDerivation, type CheckReport } from "../../calculus/numeric/check.js";
import { derive } from "../../calculus/derive.js";
import { expressionVariables } from "../../calculus/1-parse/parser.js";
import { splitTopLevel } from "../../calculus/1-parse/assignments.js";

export { splitTopLevel };

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

/** Refuses variables without a declared shape, naming the flag that declares them. */
function checkDeclared(expression: string, shapes: Readonly<Record<string, string>>): void {
  const missing = expressionVariables(expression).filter(
    (name) => !Object.prototype.hasOwnProperty.call(shapes, name),
  );
  if (missing.length === 0) return;
  const example = missing.map((name) => `${name}:n`).join(",");
  const declared = Object.keys(shapes);
  throw new ValueError(
    (missing.length === 1
      ? `undeclared variable '${missing[0]}': declare its shape, e.g. --shapes ${example}`
      : `undeclared variables ${missing.map((m) => `'${m}'`).join(", ")}: declare their shapes, e.g. --shapes ${example}`) +
      ` (a scalar is name:scalar, a matrix name:n×m)` +
      (declared.length > 0 ? `; declared: ${declared.join(", ")}` : ""),
  );
}

/** Writes the progress of a long --check on standard error (only once it has run for a second). */
function progressReporter(): {
  report: (p: { variable: string; what: string; done: number; total: number }) => void;
  end: () => void;
} {
  const start = Date.now();
  let last = 0;
  let shown = false;
  return {
    report({ variable, what, done, total }) {
      const now = Date.now();
      if (now - start < 1000 || (now - last < 500 && done < total)) return;
      last = now;
      shown = true;
      const percent = Math.floor((100 * done) / total);
      process.stderr.write(`check: ${what} for ${variable}: ${done}/${total} (${percent}%)\n`);
    },
    end() {
      if (shown) process.stderr.write(`check: done in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
    },
  };
}

/**
 * Options written after the expression past a `--` (`derive -- "-y'*x" --wrt y`) are options still: the
 * words after `--` are read again as options, and only the expression stays an operand.
 */
export function readLateOptions(command: Command, expression: string, more: readonly string[]): void {
  if (/^--[A-Za-z]/.test(expression)) {
    command.error(`error: unknown option '${expression}'`, { exitCode: 2, code: "commander.unknownOption" });
  }
  if (more.length === 0) return;
  const { operands, unknown } = command.parseOptions([...more]);
  const extra = [...operands, ...unknown];
  if (extra.length > 0) {
    const word = extra[0]!;
    const message = word.startsWith("--")
      ? `error: unknown option '${word}'`
      : `error: too many arguments for '${command.name()}': the expression is one argument (quote it), got also '${word}'`;
    command.error(message, { exitCode: 2, code: "commander.excessArguments" });
  }
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
      `the expression, e.g. "u' * tanh(W*x + b)" (quoted; one that starts with a minus sign, "-y' * x", works as is or after --)`,
    )
    .argument("[options...]", "options may also follow the expression after --")
    .allowUnknownOption()
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
    .action(function (this: Command, expression: string, more: string[]) {
      readLateOptions(this, expression, more);
      const options = this.opts<DeriveCommandOptions>();
      const order = Number(options.order ?? "1");
      if (order !== 1 && order !== 2) throw new ValueError(`--order must be 1 or 2, got ${options.order}`);
      const shapes = parseShapesOption(options.shapes ?? "");
      checkDeclared(expression, shapes);
      const wrt = options.wrt ? splitTopLevel(options.wrt) : expressionVariables(expression);
      const derivation = derive(expression, {
        wrt,
        shapes,
        order,
        ...(options.name !== undefined ? { name: options.name } : {}),
      });
      const out: string[] = [];
      // --code alone prints only the code (so that `derive … --code > f.ts` compiles); with other output
      // options the code follows them.
      const codeOnly =
        options.code === true && !options.json && !options.latex && !options.steps && !options.check;
      if (codeOnly) out.push(derivation.code.trimEnd());
      else {
        if (options.json) out.push(JSON.stringify(derivation.toJSON(), null, 2));
        else if (options.latex) out.push(derivation.toLatex({ steps: options.steps === true }));
        else out.push(derivation.toText({ steps: options.steps === true }));
        if (options.code) out.push("", derivation.code.trimEnd());
      }
      let report: CheckReport | null = null;
      if (options.check) {
        const seed = Number(options.seed ?? "0");
        if (!Number.isSafeInteger(seed))
          throw new ValueError(`--seed must be an integer, got ${options.seed}`);
        const progress = progressReporter();
        report = checkDerivation(derivation, {
          seed,
          onProgress: progress.report,
          ...(options.sizes ? { sizes: parseSizes(options.sizes) } : {}),
        });
        progress.end();
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
