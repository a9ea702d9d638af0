/**
 * A traced node's operation over its inputs' names, as `chainrule grad` prints it and the playground shows it
 * beside each node: `a + b`, `max(y, z)`, `uᵀ @ h` (or `uᵀh` in the lecture's notation).
 */
import type { TraceNode } from "../../autograd/trace.js";

/**
 * `operators` writes every product with its operator (`a · b`, `W @ x`); `lecture` writes them as the lecture
 * does: a matrix product by juxtaposition (`Wx`), an elementwise product of two arrays with `∘`, a scalar times
 * an array by juxtaposition (`2x`).
 */
export type FormulaNotation = "operators" | "lecture";

const INFIX: Partial<Record<string, string>> = { add: "+", sub: "−", mul: "·", div: "/" };

/**
 * The formula of `node` in terms of `names` (every node's name, by id), with the transposes a matmul folds
 * into its kernel (`uᵀh`); `shapes` (every node's shape, by id) tells the lecture's notation which products
 * are elementwise.
 */
export function nodeFormula(
  node: TraceNode,
  names: readonly string[],
  notation: FormulaNotation = "operators",
  shapes: readonly (readonly number[])[] = [],
): string {
  const args = node.inputs.map((i) => names[i]!);
  if (node.op === "matmul" && args.length === 2) {
    const [transA, transB] = node.transposed ?? [false, false];
    const left = `${args[0]}${transA ? "ᵀ" : ""}`;
    const right = `${args[1]}${transB ? "ᵀ" : ""}`;
    return notation === "lecture" ? `${left}${right}` : `${left} @ ${right}`;
  }
  if (notation === "lecture" && node.op === "mul" && args.length === 2) {
    const arrays = node.inputs.map((i) => (shapes[i]?.length ?? 0) > 0);
    if (arrays[0] && arrays[1]) return `${args[0]} ∘ ${args[1]}`;
    if (arrays[0] || arrays[1]) return `${args[0]} ${args[1]}`;
  }
  const symbol = INFIX[node.op];
  if (symbol !== undefined && args.length === 2) return `${args[0]} ${symbol} ${args[1]}`;
  switch (node.op) {
    case "neg":
      return `−${args[0]}`;
    case "square":
      return `${args[0]}²`;
    case "pow":
      return `${args[0]}^${args[1]}`;
    case "transpose":
      return `${args[0]}ᵀ`;
    case "maximum":
      return `max(${args.join(", ")})`;
    case "minimum":
      return `min(${args.join(", ")})`;
    default:
      return `${node.op}(${args.join(", ")})`;
  }
}
