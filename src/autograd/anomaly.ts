// Anomaly mode lives in the graph layer (graph/anomaly.ts); this path is kept for existing imports.
export { detectAnomaly, checkFiniteForward, checkFiniteGradient, inBackwardOf } from "../graph/anomaly.js";
