import type { OpTable } from "./types.js";
import { elementwiseRules } from "./elementwise.js";
import { reduceRules } from "./reduce.js";
import { shapeRules } from "./shape.js";
import { linalgRules } from "./linalg.js";
import { nnRules } from "./nn.js";

let table: OpTable | null = null;

/**
 * The op table: every primitive, keyed by name, with its forward and its backward side by side (in the
 * category files). Typed as `OpTable`, so a primitive missing a rule does not compile. Assembled on first
 * use, because the rule files and the recorder import each other.
 */
export function getOpTable(): OpTable {
  table ??= {
    ...elementwiseRules,
    ...reduceRules,
    ...shapeRules,
    ...linalgRules,
    ...nnRules,
  };
  return table;
}
