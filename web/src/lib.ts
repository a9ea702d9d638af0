/**
 * Everything the playground takes from chainrule, in one place. The library runs in the page itself: these
 * are its browser-safe modules.
 */
export { tensor } from "../../src/tensor/creation.js";
export type { Tensor, NestedArray } from "../../src/tensor/tensor.js";
export { Random } from "../../src/tensor/random.js";
export { ChainruleError, ParseError } from "../../src/errors.js";
export { noGrad } from "../../src/autograd/mode.js";
export {
  traceBackward,
  type BackpropTrace,
  type TraceNode,
  type TraceStep,
} from "../../src/autograd/trace.js";
export { initWasm, getBackend } from "../../src/backend/index.js";
export { parseExpression, expressionVariables } from "../../src/calculus/parser.js";
export { buildExpression } from "../../src/calculus/build.js";
export { evaluateExpr, bindValues } from "../../src/calculus/evaluate.js";
export { variablesOf } from "../../src/calculus/expr.js";
export {
  SCALAR,
  vectorShape,
  matrixShape,
  parseShape,
  shapeToText,
  symbolsOf,
  type Shape,
} from "../../src/calculus/shape.js";
export { derive, type Derivation } from "../../src/calculus/derive.js";
export { checkDerivation, type CheckReport } from "../../src/calculus/check.js";
