/**
 * Reverse-mode symbolic differentiation: the lecture's backpropagation, done on expressions instead of
 * numbers. Each node receives the gradient of the output with respect to itself (its adjoint, of the node's
 * shape: the gradient convention), multiplies it by its local derivative and passes the result to its inputs;
 * an input used several times sums what it receives (fan-out). Identical sub-expressions are one node, so a
 * shared piece gets one adjoint (the lecture's "re-using computation").
 */
import { children, matmul, product, sum, transpose, ONE, type Expr } from "../expression/expr.js";
import { ruleOf, unbroadcast } from "../expression/functions.js";
import { simplify } from "../4-simplify/simplify.js";

export interface ReverseResult {
  /** The adjoint ∂f/∂node of every node reached, by key, simplified. */
  adjoints: Map<string, Expr>;
  /** Every node of the expression, inputs before the nodes that use them. */
  order: Expr[];
  /** The distinct nodes by key. */
  nodes: Map<string, Expr>;
}

/**
 * The gradient flowing into input `slot` of `node` given the node's adjoint `g` (the vector–Jacobian
 * product), or null when none flows (indicator, sign).
 */
export function localAdjoint(node: Expr, slot: number, g: Expr): Expr | null {
  switch (node.kind) {
    case "sum":
      // d(a + b) = da + db: the gradient is distributed unchanged
      return unbroadcast(node.terms[slot]!, node, g);
    case "product": {
      // d(c · Π bᵢ^pᵢ) = Σᵢ c pᵢ bᵢ^(pᵢ−1) Π_{j≠i} bⱼ^pⱼ ∘ dbᵢ: each factor gets the others ("switching")
      const factor = node.factors[slot]!;
      const rest = node.factors.map((f, i) => (i === slot ? { base: f.base, power: f.power - 1 } : f));
      const local = product([{ base: g, power: 1 }, ...rest], node.coefficient * factor.power);
      return unbroadcast(factor.base, node, local);
    }
    case "matmul": {
      // d(F₁⋯Fₖ) = Σᵢ F₁⋯dFᵢ⋯Fₖ, so ∂f/∂Fᵢ = (F₁⋯Fᵢ₋₁)ᵀ G (Fᵢ₊₁⋯Fₖ)ᵀ
      const left = node.factors.slice(0, slot);
      const right = node.factors.slice(slot + 1);
      const items: Expr[] = [];
      if (left.length > 0) items.push(transpose(matmul(left)));
      items.push(g);
      if (right.length > 0) items.push(transpose(matmul(right)));
      return matmul(items);
    }
    case "transpose":
      // d(Aᵀ) = (dA)ᵀ
      return transpose(g);
    case "call":
      // the function's own rule (f'(a) ∘ upstream for elementwise f, −X⁻ᵀ G X⁻ᵀ for inv, …)
      return ruleOf(node).adjoint(node, slot, g);
    default:
      return null;
  }
}

/**
 * Runs the backward sweep from `root`, seeded with `seed` (1 for a scalar output). Contributions to a node
 * are summed in the order in which their uses appear in the expression, read left to right.
 */
export function reverseMode(root: Expr, seed: Expr = ONE): ReverseResult {
  const nodes = new Map<string, Expr>();
  const edgeOrder = new Map<string, number>();
  let counter = 0;
  // Preorder walk of the tree (a repeated sub-tree is walked at each use): each use of a node is numbered in
  // the order it is read, left to right.
  const stack: { node: Expr; edge: string | null }[] = [{ node: root, edge: null }];
  while (stack.length > 0) {
    const { node, edge } = stack.pop()!;
    if (edge !== null && !edgeOrder.has(edge)) edgeOrder.set(edge, counter);
    counter++;
    if (!nodes.has(node.key)) nodes.set(node.key, node);
    const kids = children(node);
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i]!, edge: `${node.key}#${i}` });
  }
  // Topological order over distinct nodes (iterative post-order).
  const order: Expr[] = [];
  const visited = new Set<string>();
  const work: { node: Expr; next: number }[] = [{ node: root, next: 0 }];
  visited.add(root.key);
  while (work.length > 0) {
    const top = work[work.length - 1]!;
    const kids = children(top.node);
    if (top.next < kids.length) {
      const child = kids[top.next++]!;
      if (!visited.has(child.key)) {
        visited.add(child.key);
        work.push({ node: child, next: 0 });
      }
    } else {
      work.pop();
      order.push(top.node);
    }
  }
  const pending = new Map<string, { order: number; gradient: Expr }[]>();
  pending.set(root.key, [{ order: -1, gradient: seed }]);
  const adjoints = new Map<string, Expr>();
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    const contributions = pending.get(node.key);
    if (!contributions) continue;
    contributions.sort((p, q) => p.order - q.order);
    const g = simplify(sum(contributions.map((c) => c.gradient)));
    adjoints.set(node.key, g);
    const kids = children(node);
    for (let slot = 0; slot < kids.length; slot++) {
      const local = localAdjoint(node, slot, g);
      if (local === null) continue;
      const child = kids[slot]!;
      const list = pending.get(child.key) ?? [];
      list.push({ order: edgeOrder.get(`${node.key}#${slot}`)!, gradient: local });
      pending.set(child.key, list);
    }
  }
  return { adjoints, order, nodes };
}
