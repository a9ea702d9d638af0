/**
 * Symbolic matrix calculus: the lecture's "gradients by hand", as software. See docs/calculus.md.
 */
export {
  derive,
  type Derivation,
  type DerivationData,
  type DeriveOptions,
  type DerivativeKind,
  type DerivativeResult,
  type Definition,
  type ShapeDeclarationInput,
} from "./derive.js";
export type { DerivationStep, StepLine } from "./5-output/steps.js";
export {
  parseExpression,
  expressionVariables,
  FUNCTIONS as EXPRESSION_FUNCTIONS,
  type ParsedExpression,
  type SyntaxNode,
} from "./1-parse/parser.js";
export {
  parseShape as parseSymbolicShape,
  type Shape as SymbolicShape,
  type ShapeSpec,
  type Dim,
} from "./expression/shape.js";
export { checkDerivation, type CheckOptions, type CheckReport } from "./numeric/check.js";
export type { VariableValue, VariableValues } from "./numeric/evaluate.js";
export type { Expr } from "./expression/expr.js";
export { toText as expressionToText, toLatex as expressionToLatex } from "./5-output/print.js";
export { trace, diagMatrix, diagonal, outer, norm2, indicatorGreater } from "./numeric/tensor-ops.js";
export {
  traceExpression,
  type ExpressionTrace,
  type TraceExpressionOptions,
  type TracePiece,
  type TraceValue,
} from "./numeric/trace.js";
export { nodeFormula, type FormulaNotation } from "./numeric/node-formula.js";
export { splitTopLevel, parseAssignments, parseValueAssignments } from "./1-parse/assignments.js";
