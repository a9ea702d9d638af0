// Grad mode lives in the graph layer (graph/mode.ts); this path is kept for existing imports.
export { autogradState, noGrad, enableGrad, isGradEnabled } from "../graph/mode.js";
