/**
 * Every error chainrule throws on purpose is a subclass of {@link ChainruleError}, so callers can catch the
 * library's errors in one place and tell them from bugs. Messages name the operation and the shapes involved.
 */
export class ChainruleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit an operation: mismatched dimensions, bad reshape sizes, non-broadcastable operands. */
export class ShapeError extends ChainruleError {}

/** A dtype an operation does not accept, or two dtypes it will not mix. */
export class DTypeError extends ChainruleError {}

/** An axis, index or argument outside its allowed range, or an argument of the wrong kind. */
export class ValueError extends ChainruleError {}

/** Misuse of the computation graph: backward through a freed graph, a non-scalar output without a seed, … */
export class GraphError extends ChainruleError {}

/** A gradient that a rule or a hook returned with the wrong shape or dtype, or a failed gradient check. */
export class GradientError extends ChainruleError {}

/** A NaN or an infinity found by `detectAnomaly`. */
export class AnomalyError extends ChainruleError {}

/** Text that does not parse; `line` and `column` are 1-based. */
export class ParseError extends ChainruleError {
  readonly line: number;
  readonly column: number;
  readonly source: string | undefined;
  constructor(message: string, line: number, column: number, source?: string) {
    super(message);
    this.line = line;
    this.column = column;
    this.source = source;
  }
}

/** A file whose bytes do not follow its format; `offset` is the byte offset where the problem was found. */
export class FormatError extends ChainruleError {
  readonly offset: number;
  readonly file: string | undefined;
  constructor(message: string, offset: number, file?: string) {
    super(message);
    this.offset = offset;
    this.file = file;
  }
}
