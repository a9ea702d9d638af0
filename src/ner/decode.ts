/**
 * Turning the window classifier's per-token scores into a sentence's tags.
 *
 * The classifier scores each token on its own, so the most likely tag of each token (greedy decoding) can
 * make a sequence no scheme allows: `I-PER` after `O` in IOB2, `B-LOC` not followed by `I-LOC` or `E-LOC`
 * in IOBES. Constrained decoding (`"viterbi"`) instead picks the sequence with the highest total log
 * probability among the sequences the scheme allows, by dynamic programming over the tags (Viterbi). The
 * transitions carry no learned weights: they are allowed or not.
 */
import { ValueError } from "../errors.js";
import { splitTag, type TagScheme } from "./tags.js";

/**
 * How per-token scores become tags: "greedy" takes each token's best tag on its own; "viterbi" takes the
 * best-scoring sequence that the tag scheme allows (no `I-LOC` after `O` in IOB2, …).
 */
export type Decoding = "greedy" | "viterbi";

/** Every decoding, for option checks and help texts. */
export const DECODINGS: readonly Decoding[] = ["greedy", "viterbi"];

export function checkDecoding(value: unknown, where: string): Decoding {
  if (value !== "greedy" && value !== "viterbi") {
    throw new ValueError(`${where}: decoding must be "greedy" or "viterbi", got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Which tags may follow which in a scheme: the tables {@link viterbiDecode} uses. */
export interface TransitionTable {
  /** The number of tags. */
  readonly size: number;
  /** Shape `[size × size]`: `allowed[previous * size + next]` is 1 if `next` may follow `previous`. */
  readonly allowed: Uint8Array;
  /** Shape `[size]`: 1 if the tag may begin a sentence. */
  readonly start: Uint8Array;
  /** Shape `[size]`: 1 if the tag may end a sentence. */
  readonly end: Uint8Array;
}

/**
 * The transitions a scheme allows between `tags`:
 * - IOB1: `B-x` only right after `I-x` or `B-x` (it separates two touching entities of one type);
 * - IOB2: `I-x` only after `B-x` or `I-x`;
 * - IOBES: `I-x` and `E-x` only after `B-x` or `I-x`; `O`, `B-` and `S-` only after `O`, `E-` or `S-` (or at
 *   the start); a sentence ends on `O`, `E-` or `S-`.
 */
export function transitionTable(tags: readonly string[], scheme: TagScheme): TransitionTable {
  const size = tags.length;
  const parts = tags.map((tag) => splitTag(tag));
  const allowed = new Uint8Array(size * size);
  const start = new Uint8Array(size);
  const end = new Uint8Array(size);
  const inside = (p: { prefix: string }) => p.prefix === "B" || p.prefix === "I";
  for (let j = 0; j < size; j++) {
    const next = parts[j]!;
    switch (scheme) {
      case "IOB1":
        start[j] = next.prefix === "B" ? 0 : 1;
        end[j] = 1;
        break;
      case "IOB2":
        start[j] = next.prefix === "I" ? 0 : 1;
        end[j] = 1;
        break;
      case "IOBES":
        start[j] = next.prefix === "I" || next.prefix === "E" ? 0 : 1;
        end[j] = next.prefix === "B" || next.prefix === "I" ? 0 : 1;
        break;
    }
    for (let i = 0; i < size; i++) {
      const previous = parts[i]!;
      let ok = true;
      switch (scheme) {
        case "IOB1":
          if (next.prefix === "B")
            ok = (previous.prefix === "I" || previous.prefix === "B") && previous.type === next.type;
          break;
        case "IOB2":
          if (next.prefix === "I") ok = inside(previous) && previous.type === next.type;
          break;
        case "IOBES":
          if (next.prefix === "I" || next.prefix === "E")
            ok = inside(previous) && previous.type === next.type;
          else ok = !inside(previous);
          break;
      }
      allowed[i * size + j] = ok ? 1 : 0;
    }
  }
  return { size, allowed, start, end };
}

/**
 * The tag ids with the best total score among the sequences `table` allows, for `length` tokens whose scores
 * (log probabilities) are rows `first … first + length − 1` of the row-major [rows × size] `scores`. Falls
 * back to greedy decoding if no sequence is allowed (a tag set that cannot spell any sentence).
 */
export function viterbiDecode(
  scores: ArrayLike<number>,
  first: number,
  length: number,
  table: TransitionTable,
): Int32Array {
  const { size, allowed, start, end } = table;
  const out = new Int32Array(length);
  if (length === 0) return out;
  let best = new Float64Array(size);
  let nextBest = new Float64Array(size);
  const back = new Int32Array(length * size);
  for (let j = 0; j < size; j++) {
    best[j] = start[j] === 1 ? scores[first * size + j]! : -Infinity;
  }
  for (let t = 1; t < length; t++) {
    const row = (first + t) * size;
    for (let j = 0; j < size; j++) {
      let top = -Infinity;
      let arg = -1;
      for (let i = 0; i < size; i++) {
        if (allowed[i * size + j] === 0) continue;
        const value = best[i]!;
        if (value > top) {
          top = value;
          arg = i;
        }
      }
      nextBest[j] = top + scores[row + j]!;
      back[t * size + j] = arg;
    }
    [best, nextBest] = [nextBest, best];
  }
  let top = -Infinity;
  let arg = -1;
  for (let j = 0; j < size; j++) {
    if (end[j] === 1 && best[j]! > top) {
      top = best[j]!;
      arg = j;
    }
  }
  if (arg < 0) return greedyDecode(scores, first, length, size);
  for (let t = length - 1; t >= 0; t--) {
    out[t] = arg;
    arg = back[t * size + arg]!;
  }
  return out;
}

/** The highest-scoring tag id of each token (rows `first … first + length − 1` of [rows × size] scores). */
export function greedyDecode(
  scores: ArrayLike<number>,
  first: number,
  length: number,
  size: number,
): Int32Array {
  const out = new Int32Array(length);
  for (let t = 0; t < length; t++) {
    const row = (first + t) * size;
    let arg = 0;
    for (let j = 1; j < size; j++) if (scores[row + j]! > scores[row + arg]!) arg = j;
    out[t] = arg;
  }
  return out;
}

/** Row-wise log-softmax of [rows × size] logits, in double precision. */
export function logSoftmaxRows(logits: ArrayLike<number>, rows: number, size: number): Float64Array {
  const out = new Float64Array(rows * size);
  for (let r = 0; r < rows; r++) {
    const offset = r * size;
    let max = -Infinity;
    for (let j = 0; j < size; j++) max = Math.max(max, logits[offset + j]!);
    let total = 0;
    for (let j = 0; j < size; j++) total += Math.exp(logits[offset + j]! - max);
    const logTotal = Math.log(total);
    for (let j = 0; j < size; j++) out[offset + j] = logits[offset + j]! - max - logTotal;
  }
  return out;
}
