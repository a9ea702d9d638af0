// The op table's types, gathered for importers. Each op's attributes are declared beside its rule.
export type { BackwardContext, InputGrad, JvpContext, OpRule, OpPresentation } from "../graph/rule.js";
export type { OpAttrs, OpName, OpTable } from "./table.js";
export type { Reduction } from "./nn.js";
