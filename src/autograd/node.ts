// The graph node lives in the graph layer (graph/node.ts); this path is kept for existing imports.
export { Node, leafNodeOf, gradNodeOf, type GradHook } from "../graph/node.js";
