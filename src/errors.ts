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

/** A compiled function (`compile`) called in a way its plan does not fit: another sequence of ops, say. */
export class CompileError extends ChainruleError {}

/** A NaN or an infinity found by `detectAnomaly`. */
export class AnomalyError extends ChainruleError {}

/** Text that does not parse; `line` and `column` are 1-based. */
export class ParseError extends ChainruleError {
  /** The line of the problem, from 1. */
  readonly line: number;
  /** The column of the problem on its line, from 1. */
  readonly column: number;
  /** The text that was parsed, when known (to show the problem in context). */
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
  /** The byte offset in the file where the problem was found. */
  readonly offset: number;
  /** The file's path, when the bytes came from a file. */
  readonly file: string | undefined;
  constructor(message: string, offset: number, file?: string) {
    super(message);
    this.offset = offset;
    this.file = file;
  }
}

/** About the most characters of input an error message quotes; longer input is cut (see {@link quoteInput}). */
export const QUOTE_LIMIT = 60;

/**
 * Quotes a value taken from input for an error message, readably and briefly:
 *
 * - a string as JSON (control and other invisible characters escaped), cut to about `limit` characters
 *   with `…` and its full length when longer: `"\u007fELF\u0002…" (1 742 characters)`;
 * - a number, boolean, null or undefined as written (`1e+308`, `-1`, `NaN`, `null`);
 * - an array or object as JSON when that is short (`[1,2]`), else by kind and size (`an array of 300 items`,
 *   `an object with keys "a", "b"`), so that a message never says `[object Object]` nor echoes a whole
 *   structure.
 */
export function quoteInput(value: unknown, limit = QUOTE_LIMIT): string {
  if (typeof value === "string") return quoteString(value, limit);
  if (value === null || value === undefined || typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${value.byteLength} bytes`;
  const json = shortJson(value, limit);
  if (json !== undefined) return json;
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? "" : "s"}`;
  const keys = Object.keys(value as object);
  if (keys.length === 0) return "an empty object";
  const shown = keys.slice(0, 4).map((key) => quoteString(key, 20));
  return `an object with key${keys.length === 1 ? "" : "s"} ${shown.join(", ")}${keys.length > 4 ? `, … (${keys.length} keys)` : ""}`;
}

/** Characters shown as `\\uXXXX`: controls, format characters (U+FEFF, U+200B …), separators but the space. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;

function escapeCharacter(character: string): string {
  if (character.length === 1 && INVISIBLE.test(character) && !/[\b\f\n\r\t]/.test(character)) {
    return `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`;
  }
  return JSON.stringify(character).slice(1, -1);
}

/** The JSON of a small array or object if it fits in `limit` characters. */
function shortJson(value: unknown, limit: number): string | undefined {
  const size = Array.isArray(value) ? value.length : Object.keys(value as object).length;
  if (size > limit / 2) return undefined;
  try {
    const json = JSON.stringify(value);
    return typeof json === "string" && json.length <= limit ? json : undefined;
  } catch {
    return undefined;
  }
}

function quoteString(text: string, limit: number): string {
  // Keep whole characters (and whole escapes) up to the limit; look at no more of the text than that needs.
  let kept = "";
  let index = 0;
  for (const character of text) {
    const escaped = escapeCharacter(character);
    if (kept.length + escaped.length > limit) break;
    kept += escaped;
    index += character.length;
  }
  return index === text.length ? `"${kept}"` : `"${kept}…" (${text.length} characters)`;
}
