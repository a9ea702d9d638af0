/**
 * `chainrule grad EXPR --at x=1,y=2,z=0 [--dot] [--json]`: backpropagation by the algorithm, node by node:
 * the forward value of every node, then for each node the upstream gradient, the local gradient and the
 * downstream gradient sent to each input, and the sums where gradients fan in. On the lecture's example:
 *
 *     chainrule grad "(x + y) * max(y, z)" --at x=1,y=2,z=0
 *     …
 *     f = 6
 *     ∂f/∂x = 2, ∂f/∂y = 5, ∂f/∂z = 0
 */
import type { Command } from "commander";
import { ValueError } from "../../errors.js";
import type { NestedArray } from "../../tensor/tensor.js";

import { toDot } from "../../viz/dot.js";
import { expressionVariables, parseExpression } from "../../calculus/1-parse/parser.js";
import { traceExpression, type ExpressionTrace } from "../../calculus/numeric/trace.js";
import { nodeFormula } from "../../calculus/numeric/node-formula.js";
import { parseValueAssignments } from "../../calculus/1-parse/assignments.js";
import { readLateOptions } from "./derive.js";

/** Reads `--at x=1,y=2,v=[1,2],A=[[1,0],[0,1]]`. */
export function parseValues(text: string): Map<string, NestedArray> {
  try {
    return parseValueAssignments(text);
  } catch (error) {
    if (error instanceof ValueError) throw new ValueError(`--at: ${error.message}`);
    throw error;
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

function formatValue(value: NestedArray | null): string {
  if (value === null) return "—";
  if (typeof value === "number") return formatNumber(value);
  // A column (n × 1) reads as the vector it holds, a 1 × 1 matrix as its number.
  if (value.length > 0 && value.every((row) => Array.isArray(row) && row.length === 1)) {
    const entries = (value as NestedArray[][]).map((row) => row[0]!);
    return entries.length === 1 ? formatValue(entries[0]!) : formatValue(entries);
  }
  return `[${value.map((v) => formatValue(v)).join(", ")}]`;
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - [...cell].length)))
      .join("   ")
      .trimEnd(),
  );
}

/** The report of a backward pass: forward values, the per-node backward table, fan-in sums and gradients. */
export function formatTrace(trace: ExpressionTrace, heading: string): string {
  const { names, outputName } = trace;
  if (trace.steps.length === 0) {
    // The output is a variable itself (x, x''): no operation, nothing to tabulate.
    const output = trace.nodes[trace.output]!;
    return [
      heading,
      "",
      `(${outputName} is the variable ${output.label} itself: there is no operation to backpropagate through)`,
      "",
      `${outputName} = ${formatValue(output.value)}`,
      trace.variables.map((v) => `∂${outputName}/∂${v} = ${v === output.label ? 1 : 0}`).join(", "),
    ].join("\n");
  }
  const lines: string[] = [heading, "", "forward (each node after its inputs)"];
  const forward: string[][] = [];
  for (const node of trace.nodes) {
    if (node.op === "leaf" || node.op === "constant") continue;
    const definition = trace.definitions[node.id];
    const text = definition !== null && definition !== names[node.id] ? definition : nodeFormula(node, names);
    forward.push([`  ${names[node.id]} = ${text}`, `= ${formatValue(node.value)}`]);
  }
  lines.push(...table(forward));
  lines.push("", "backward (downstream = upstream × local, from the output down)");
  const rows: string[][] = [["  node", "upstream", "input", "local", "downstream"]];
  for (const step of trace.steps) {
    let first = true;
    const node = trace.nodes[step.node]!;
    node.inputs.forEach((input, i) => {
      const local = step.local[i];
      if (local === null || local === undefined) return;
      const localText = local.kind === "jacobian" ? formatValue(local.value) : local.text;
      rows.push([
        first ? `  ${names[step.node]}` : "",
        first ? formatValue(step.upstream) : "",
        names[input]!,
        localText,
        formatValue(step.downstream[i] ?? null),
      ]);
      first = false;
    });
  }
  lines.push(...table(rows));
  if (trace.fanOut.length > 0) {
    lines.push("", "fan-out (gradients arriving from several uses are summed)");
    for (const f of trace.fanOut) {
      const parts = f.contributions.map((c) => formatValue(c.value)).join(" + ");
      lines.push(`  ${names[f.node]}: ${parts} = ${formatValue(f.total)}`);
    }
  }
  const output = trace.nodes[trace.output]!;
  lines.push("", `${outputName} = ${formatValue(output.value)}`);
  const gradients = trace.variables.map((v) => {
    const leaf = trace.nodes.find((n) => n.op === "leaf" && n.label === v);
    return `∂${outputName}/∂${v} = ${formatValue(leaf?.grad ?? 0)}`;
  });
  lines.push(gradients.join(", "));
  return lines.join("\n");
}

interface GradCommandOptions {
  at?: string;
  name?: string;
  dot?: boolean;
  json?: boolean;
}

/** Checks the values of `--at` against the expression's variables (before any work, with CLI hints). */
function checkValues(expression: string, values: ReadonlyMap<string, NestedArray>): void {
  const variables = expressionVariables(parseExpression(expression));
  for (const name of values.keys()) {
    if (!variables.includes(name)) {
      throw new ValueError(
        `--at: ${name} does not occur in ${expression.trim()}` +
          (variables.length > 0 ? ` (its variables are ${variables.join(", ")})` : ""),
      );
    }
  }
  const missing = variables.filter((v) => !values.has(v));
  if (missing.length > 0) {
    throw new ValueError(
      `--at: give a value for ${missing.join(", ")}, e.g. --at ${missing.map((m) => `${m}=1`).join(",")}`,
    );
  }
}

/** DOT labels: a piece's name with its definition (`z = Wx + b`). */
function dotLabels(trace: ExpressionTrace): string[] {
  return trace.nodes.map((node) => {
    const name = trace.names[node.id]!;
    const definition = trace.definitions[node.id];
    if (node.op === "leaf" || node.op === "constant") return node.label;
    if (definition !== null && definition !== name) return `${name} = ${definition}`;
    return definition ?? node.label;
  });
}

export function register(program: Command): void {
  program
    .command("grad")
    .description(
      "backpropagate through a scalar expression at given values: forward values, then upstream, local " +
        "and downstream gradients per node (the lecture's backprop by the algorithm)",
    )
    .argument(
      "<expression>",
      `a scalar expression, e.g. "(x + y) * max(y, z)" (quoted; one that starts with a minus sign works as is or after --)`,
    )
    .argument("[options...]", "options may also follow the expression after --")
    .allowUnknownOption()
    .option("--at <values>", "values of the variables, e.g. x=1,y=2,z=0 (vectors as v=[1,2])")
    .option("--name <name>", "the output's name (default f), e.g. s for the lecture's s = uᵀh")
    .option("--dot", "print the computation graph with values and gradients as Graphviz DOT")
    .option("--json", "print the backprop trace as JSON")
    .action(function (this: Command, expression: string, more: string[]) {
      readLateOptions(this, expression, more);
      const options = this.opts<GradCommandOptions>();
      // required, checked here so that it may also follow the expression after --
      if (options.at === undefined) {
        this.error("error: required option '--at <values>' not specified", {
          exitCode: 2,
          code: "commander.missingMandatoryOptionValue",
        });
      }
      const values = parseValues(options.at ?? "");
      checkValues(expression, values);
      const trace = traceExpression(expression, values, {
        ...(options.name !== undefined ? { name: options.name } : {}),
      });
      for (const warning of trace.warnings) process.stderr.write(`chainrule: warning: ${warning}\n`);
      let text: string;
      if (options.dot) text = toDot(trace, { labels: dotLabels(trace) });
      else if (options.json) text = JSON.stringify(trace, null, 2);
      else {
        const at = [...values].map(([k, v]) => `${k} = ${formatValue(v)}`).join(", ");
        text = formatTrace(trace, `${trace.outputName} = ${expression.trim()}   at ${at}`);
      }
      process.stdout.write(text.trimEnd() + "\n");
    });
}
