/**
 * Lists of `name=value` assignments as people type them for an expression's variables: the CLI's
 * `--at x=1,v=[1,2]` and the playground's values field read them with the same rules.
 */
import { ValueError } from "../../errors.js";
import type { NestedArray } from "../../tensor/tensor.js";

/** Splits on separators outside brackets: `W=[[1, 2]], x=1` → `W=[[1, 2]]`, `x=1`; drops empty parts. */
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

/**
 * Splits `x=1, W: n×m` into `[name, text]` pairs (`=` or `:` between them; entries separated by `,`, `;` or
 * new lines outside brackets). Throws ValueError naming the entry that is not `name=value`, with `example`
 * as the hint.
 */
export function parseAssignments(text: string, example = "x=1"): [string, string][] {
  return splitTopLevel(text, ",;\n").map((entry) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*(.*)$/s.exec(entry);
    if (!match) throw new ValueError(`expected name=value (e.g. ${example}), got '${entry}'`);
    return [match[1]!, match[2]!.trim()];
  });
}

/**
 * Reads the values of variables: `x=1, y=2, v=[1, 2], A=[[1, 0], [0, 1]]` (numbers, vectors, matrices; `−`
 * is read as a minus). Throws ValueError for an entry that is not `name=value`, a value that is not a finite
 * number or a non-empty vector or matrix of them, or a name given twice.
 */
export function parseValueAssignments(text: string): Map<string, NestedArray> {
  const values = new Map<string, NestedArray>();
  for (const [name, raw] of parseAssignments(text, "x=1 or v=[1, 2]")) {
    let value: unknown;
    try {
      value = JSON.parse(raw.replace(/−/g, "-"));
    } catch {
      throw new ValueError(`the value of ${name} is not a number or an array: '${raw}'`);
    }
    const valid = (v: unknown, depth: number): boolean =>
      (typeof v === "number" && Number.isFinite(v)) ||
      (Array.isArray(v) && depth < 2 && v.length > 0 && v.every((item) => valid(item, depth + 1)));
    if (!valid(value, 0)) {
      throw new ValueError(`the value of ${name} must be a number, a vector [..] or a matrix [[..], ..]`);
    }
    if (values.has(name)) throw new ValueError(`${name} is given twice`);
    values.set(name, value as NestedArray);
  }
  return values;
}
