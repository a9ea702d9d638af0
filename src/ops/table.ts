import type { AttrsOf } from "../graph/rule.js";
import { elementwiseRules } from "./elementwise.js";
import { reduceRules } from "./reduce.js";
import { shapeRules } from "./shape.js";
import { linalgRules } from "./linalg.js";
import { nnRules } from "./nn.js";

/**
 * The op table: every primitive, keyed by name, with everything about it in its rule (forward, backward, jvp,
 * differentiability, how traces show it), defined in the category files. Each rule is typed `OpRule`, so a
 * primitive missing a part does not compile. Nothing below ops/ reads this table: a recorded node carries its
 * own rule.
 */
export const opTable = {
  ...elementwiseRules,
  ...reduceRules,
  ...shapeRules,
  ...linalgRules,
  ...nnRules,
};

/** The type of the op table: each primitive's name and its rule. */
export type OpTable = typeof opTable;
/** The name of a primitive. */
export type OpName = keyof OpTable;
/** Every primitive and the attributes its forward and backward read (declared beside its rule). */
export type OpAttrs = { [P in OpName]: AttrsOf<OpTable[P]> };

/** The op table: every primitive, keyed by name, with its rule (forward, backward, jvp, how traces show it). */
export function getOpTable(): OpTable {
  return opTable;
}
