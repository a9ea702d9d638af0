/**
 * Graph layout by Graphviz's `dot` (compiled to WebAssembly, loaded on first use): left to right, inputs on
 * the left and the output on the right, as the lecture draws computation graphs. Returns node centres and
 * edge splines in page pixels (one Graphviz point = one pixel).
 */
export interface LayoutNode {
  id: number;
  width: number;
  height: number;
}

export interface LayoutResult {
  width: number;
  height: number;
  /** Node centres by id. */
  centres: Map<number, { x: number; y: number }>;
  /** Edges as SVG path data and the arrowhead's tip, keyed `from->to`. */
  edges: Map<string, { path: string; tip: { x: number; y: number }; mid: { x: number; y: number } }>;
}

type GraphvizInstance = import("@hpcc-js/wasm-graphviz").Graphviz;

let graphviz: Promise<GraphvizInstance> | null = null;

function loadGraphviz(): Promise<GraphvizInstance> {
  const loading = graphviz ?? import("@hpcc-js/wasm-graphviz").then((module) => module.Graphviz.load());
  graphviz = loading;
  loading.catch(() => (graphviz = null));
  return loading;
}

interface GraphvizJson {
  bb: string;
  objects?: { _gvid: number; name: string; pos?: string }[];
  edges?: { tail: number; head: number; pos?: string }[];
}

const MARGIN = 8;

export async function layoutGraph(
  nodes: readonly LayoutNode[],
  edges: readonly [number, number][],
): Promise<LayoutResult> {
  const instance = await loadGraphviz();
  const lines = [
    "digraph G {",
    "  rankdir=LR; nodesep=0.25; ranksep=0.45; splines=true;",
    '  node [shape=box, fixedsize=true, label=""];',
    ...nodes.map(
      (n) => `  n${n.id} [width=${(n.width / 72).toFixed(3)}, height=${(n.height / 72).toFixed(3)}];`,
    ),
    ...edges.map(([a, b]) => `  n${a} -> n${b};`),
    "}",
  ];
  const json = JSON.parse(instance.layout(lines.join("\n"), "json", "dot")) as GraphvizJson;
  const [, , bbWidth, bbHeight] = json.bb.split(",").map(Number) as [number, number, number, number];
  const flip = (x: number, y: number) => ({ x: x + MARGIN, y: bbHeight - y + MARGIN });
  const centres = new Map<number, { x: number; y: number }>();
  const gvidToId = new Map<number, number>();
  for (const object of json.objects ?? []) {
    const id = Number(object.name.slice(1));
    gvidToId.set(object._gvid, id);
    const [x, y] = (object.pos ?? "0,0").split(",").map(Number) as [number, number];
    centres.set(id, flip(x, y));
  }
  const edgeMap: LayoutResult["edges"] = new Map();
  for (const edge of json.edges ?? []) {
    const from = gvidToId.get(edge.tail)!;
    const to = gvidToId.get(edge.head)!;
    const parts = (edge.pos ?? "").split(" ");
    let tip: { x: number; y: number } | null = null;
    const points: { x: number; y: number }[] = [];
    for (const part of parts) {
      if (part.startsWith("e,")) {
        const [x, y] = part.slice(2).split(",").map(Number) as [number, number];
        tip = flip(x, y);
      } else if (part.startsWith("s,")) continue;
      else if (part !== "") {
        const [x, y] = part.split(",").map(Number) as [number, number];
        points.push(flip(x, y));
      }
    }
    if (points.length === 0) continue;
    let path = `M${points[0]!.x},${points[0]!.y}`;
    for (let i = 1; i + 2 < points.length; i += 3) {
      const [p1, p2, p3] = [points[i]!, points[i + 1]!, points[i + 2]!];
      path += ` C${p1.x},${p1.y} ${p2.x},${p2.y} ${p3.x},${p3.y}`;
    }
    const end = tip ?? points[points.length - 1]!;
    if (tip) path += ` L${tip.x},${tip.y}`;
    const mid = points[Math.floor(points.length / 2)]!;
    edgeMap.set(`${from}->${to}`, { path, tip: end, mid });
  }
  return { width: bbWidth + 2 * MARGIN, height: bbHeight + 2 * MARGIN, centres, edges: edgeMap };
}
