import type { OpTable } from "./types.js";
import { elementwiseRules } from "./elementwise.js";
import { reduceRules } from "./reduce.js";
import { shapeRules } from "./shape.js";
import { linalgRules } from "./linalg.js";
import { nnRules } from "./nn.js";

/**
 * The op table: every primitive, keyed by name, with its forward and its backward side by side (in the
 * category files). Typed as `OpTable`, so a primitive missing a rule does not compile. Nothing below ops/
 * reads it: a recorded node carries its own rule.
 */
export const opTable: OpTable = {
  ...elementwiseRules,
  ...reduceRules,
  ...shapeRules,
  ...linalgRules,
  ...nnRules,
};

/** The op table (see {@link opTable}). */
export function getOpTable(): OpTable {
  return opTable;
}
