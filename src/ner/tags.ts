/**
 * Tag schemes and entity spans.
 *
 * A tag is `O` (outside any entity) or `PREFIX-TYPE`, for example `B-PER` or `I-LOC`. Three schemes are
 * supported:
 *
 * - **IOB1** (CoNLL-2003's original files): every entity token is `I-TYPE`; `B-TYPE` marks only the first
 *   token of an entity that directly follows another entity of the same type.
 * - **IOB2**: every entity starts with `B-TYPE`, the rest of it is `I-TYPE`.
 * - **IOBES**: `S-TYPE` for a one-token entity, otherwise `B-TYPE`, `I-TYPE`…, `E-TYPE`.
 *
 * Entity spans are read with the chunk rules of the conlleval script (CoNLL-2000), so that a sequence of tags,
 * well formed or not, yields exactly the entities conlleval counts: an `I-` after `O` opens an entity, a
 * change of type ends one and opens another, and a sentence end closes whatever is open. IOB1 and IOB2 are read
 * with the same rules (they differ only in how entities are written). IOBES is first rewritten as IOB2,
 * because conlleval does not know `S-` and reads `E-` as the IOE schemes do.
 */
import { ValueError, quoteInput } from "../errors.js";

/**
 * How entity tags mark spans: IOB1 (`I-` throughout, `B-` only between two adjacent entities of one type),
 * IOB2 (every entity starts with `B-`), or IOBES (`S-` single-token entities, `B-` `I-` … `E-` longer ones).
 */
export type TagScheme = "IOB1" | "IOB2" | "IOBES";

/** Every supported tag scheme. */
export const TAG_SCHEMES: readonly TagScheme[] = ["IOB1", "IOB2", "IOBES"];

/** The outside tag. */
export const OUTSIDE_TAG = "O";

/** A tag split as conlleval splits it: the prefix before the first hyphen and the type after it. */
export interface SplitTag {
  /** `B`, `I`, `E`, `S`, `O`, … (the whole tag when it has no hyphen). */
  readonly prefix: string;
  /** The entity type, `""` when the tag has no hyphen. */
  readonly type: string;
}

/** An entity: tokens `[start, end)` of one sentence, of one type. */
export interface EntitySpan {
  /** The entity type (`LOC`, …). */
  readonly type: string;
  /** Index of its first token. */
  readonly start: number;
  /** Index just past its last token. */
  readonly end: number;
}

const OUTSIDE: SplitTag = { prefix: "O", type: "" };

/** True if `scheme` names a supported tag scheme. */
export function isTagScheme(scheme: unknown): scheme is TagScheme {
  return scheme === "IOB1" || scheme === "IOB2" || scheme === "IOBES";
}

/** Checks a scheme name given by a caller and returns it, or throws a ValueError naming the choices. */
export function checkTagScheme(scheme: unknown, where: string): TagScheme {
  if (!isTagScheme(scheme)) {
    throw new ValueError(`${where}: unknown tag scheme ${quoteInput(scheme)} (expected IOB1, IOB2 or IOBES)`);
  }
  return scheme;
}

/**
 * Splits a tag at its first hyphen, as conlleval does (so types may contain hyphens: `B-WORK-OF-ART` has type
 * `WORK-OF-ART`). A tag without a hyphen is all prefix, with type `""`.
 */
export function splitTag(tag: string): SplitTag {
  const hyphen = tag.indexOf("-");
  if (hyphen < 0) return tag === "O" ? OUTSIDE : { prefix: tag, type: "" };
  return { prefix: tag.slice(0, hyphen), type: tag.slice(hyphen + 1) };
}

/**
 * Why `tag` is not a valid tag (`O`, or `B-`, `I-`, `E-` or `S-` followed by a non-empty type), or undefined
 * if it is valid. The readers use this to reject unknown prefixes with a clear message.
 */
export function tagProblem(tag: string): string | undefined {
  if (tag === "O") return undefined;
  const hyphen = tag.indexOf("-");
  if (hyphen < 0) {
    return `tag ${quoteInput(tag)} has no prefix (expected O or B-, I-, E-, S- followed by a type)`;
  }
  const prefix = tag.slice(0, hyphen);
  if (prefix !== "B" && prefix !== "I" && prefix !== "E" && prefix !== "S") {
    return `unknown tag prefix ${quoteInput(prefix)} in ${quoteInput(tag)} (expected O or B-, I-, E-, S- followed by a type)`;
  }
  if (hyphen === tag.length - 1) return `tag ${quoteInput(tag)} has no entity type after the prefix`;
  return undefined;
}

/**
 * conlleval's rule for "a chunk ended between the previous token and this one", given the previous and the
 * current prefix and type. Among the prefixes conlleval knows: B and I chunks end before B or O; an E token
 * (IOE schemes) ends its chunk before E, I or O; a change of type ends any chunk (except after O or `.`);
 * `[` and `]` are one-token chunks.
 */
export function isChunkEnd(
  previousPrefix: string,
  prefix: string,
  previousType: string,
  type: string,
): boolean {
  if (previousPrefix === "[" || previousPrefix === "]") return true;
  if (previousPrefix !== "O" && previousPrefix !== "." && previousType !== type) return true;
  switch (previousPrefix) {
    case "B":
    case "I":
      return prefix === "B" || prefix === "O";
    case "E":
      return prefix === "E" || prefix === "I" || prefix === "O";
    default:
      return false;
  }
}

/**
 * conlleval's rule for "a chunk started at this token", given the previous and the current prefix and type:
 * B starts a chunk (except after E of the same type), I or E starts one after O, E after E starts one, I
 * after E starts one, a change of type starts one (except at O or `.`), and `[` and `]` always do.
 */
export function isChunkStart(
  previousPrefix: string,
  prefix: string,
  previousType: string,
  type: string,
): boolean {
  if (prefix === "[" || prefix === "]") return true;
  if (prefix !== "O" && prefix !== "." && previousType !== type) return true;
  switch (prefix) {
    case "B":
      return previousPrefix === "B" || previousPrefix === "I" || previousPrefix === "O";
    case "I":
      return previousPrefix === "O" || previousPrefix === "E";
    case "E":
      return previousPrefix === "O" || previousPrefix === "E";
    default:
      return false;
  }
}

/**
 * Rewrites one sentence of IOBES tags as IOB2, reading them leniently: `S-` and `B-` begin an entity; `I-`
 * and `E-` continue the entity of the previous token if that was a `B-` or `I-` of the same type, and begin a
 * new one otherwise (so an entity always ends after `E-` or `S-`). Other tags are kept as they are.
 */
export function iobesToIob2(tags: readonly string[]): string[] {
  const out = new Array<string>(tags.length);
  let previous = OUTSIDE;
  for (let i = 0; i < tags.length; i++) {
    const tag = tags[i]!;
    const current = splitTag(tag);
    switch (current.prefix) {
      case "S":
      case "B":
        out[i] = `B-${current.type}`;
        break;
      case "I":
      case "E": {
        const continues =
          (previous.prefix === "B" || previous.prefix === "I") && previous.type === current.type;
        out[i] = `${continues ? "I" : "B"}-${current.type}`;
        break;
      }
      default:
        out[i] = tag;
    }
    previous = current;
  }
  return out;
}

/**
 * The entities in one sentence of tags, read as conlleval reads them (see the module comment); for IOBES the
 * tags are first rewritten with `iobesToIob2`. Spans come in order and never overlap.
 */
export function extractEntities(tags: readonly string[], scheme: TagScheme = "IOB2"): EntitySpan[] {
  checkTagScheme(scheme, "extractEntities");
  const sequence = scheme === "IOBES" ? iobesToIob2(tags) : tags;
  const spans: EntitySpan[] = [];
  let previous = OUTSIDE;
  let openStart = -1;
  let openType = "";
  for (let i = 0; i <= sequence.length; i++) {
    // One step past the end is the sentence boundary, which conlleval reads as an O token.
    const current = i < sequence.length ? splitTag(sequence[i]!) : OUTSIDE;
    const starts =
      i < sequence.length && isChunkStart(previous.prefix, current.prefix, previous.type, current.type);
    if (openStart >= 0) {
      const ends =
        i === sequence.length ||
        starts ||
        isChunkEnd(previous.prefix, current.prefix, previous.type, current.type);
      if (ends) {
        spans.push({ type: openType, start: openStart, end: i });
        openStart = -1;
      }
    }
    if (starts) {
      openStart = i;
      openType = current.type;
    }
    previous = current;
  }
  return spans;
}

/**
 * Writes entities as tags of a sentence of `length` tokens in `scheme`. Spans must be in order, inside the
 * sentence, non-empty, non-overlapping and have a non-empty type.
 */
export function encodeEntities(spans: readonly EntitySpan[], length: number, scheme: TagScheme): string[] {
  checkTagScheme(scheme, "encodeEntities");
  if (!Number.isInteger(length) || length < 0) {
    throw new ValueError(`encodeEntities: length must be a non-negative integer, got ${length}`);
  }
  const tags = new Array<string>(length).fill(OUTSIDE_TAG);
  let previous: EntitySpan | undefined;
  for (const span of spans) {
    if (
      !Number.isInteger(span.start) ||
      !Number.isInteger(span.end) ||
      span.start < 0 ||
      span.end > length ||
      span.start >= span.end
    ) {
      throw new ValueError(
        `encodeEntities: span [${span.start}, ${span.end}) is empty or outside a sentence of ${length} tokens`,
      );
    }
    if (typeof span.type !== "string" || span.type === "") {
      throw new ValueError(`encodeEntities: span [${span.start}, ${span.end}) has no entity type`);
    }
    if (previous !== undefined && span.start < previous.end) {
      throw new ValueError(
        `encodeEntities: span [${span.start}, ${span.end}) overlaps or precedes span [${previous.start}, ${previous.end})`,
      );
    }
    const { type, start, end } = span;
    switch (scheme) {
      case "IOB2":
        tags[start] = `B-${type}`;
        for (let i = start + 1; i < end; i++) tags[i] = `I-${type}`;
        break;
      case "IOB1": {
        const touchesSameType = previous !== undefined && previous.end === start && previous.type === type;
        tags[start] = `${touchesSameType ? "B" : "I"}-${type}`;
        for (let i = start + 1; i < end; i++) tags[i] = `I-${type}`;
        break;
      }
      case "IOBES":
        if (end - start === 1) tags[start] = `S-${type}`;
        else {
          tags[start] = `B-${type}`;
          for (let i = start + 1; i < end - 1; i++) tags[i] = `I-${type}`;
          tags[end - 1] = `E-${type}`;
        }
        break;
    }
    previous = span;
  }
  return tags;
}

/**
 * Converts one sentence of tags from one scheme to another, through its entities: malformed input (an `I-`
 * after `O`, say) is read as conlleval reads it, and the output is always well formed.
 */
export function convertTags(tags: readonly string[], from: TagScheme, to: TagScheme): string[] {
  checkTagScheme(from, "convertTags");
  checkTagScheme(to, "convertTags");
  return encodeEntities(extractEntities(tags, from), tags.length, to);
}

/** How {@link detectScheme} decided, with the counts it saw. */
export interface SchemeDetection {
  /** The scheme decided on. */
  readonly scheme: TagScheme;
  /** False when the tags hold no evidence either way (no entities at all): the scheme is then IOB2. */
  readonly certain: boolean;
  /** Tokens with an `S-` or `E-` prefix. */
  readonly singleOrEndTags: number;
  /** Entities whose first token is `I-` (allowed only in IOB1). */
  readonly entitiesStartingWithI: number;
  /** Entities whose first token is `B-`. */
  readonly entitiesStartingWithB: number;
}

/**
 * Decides which scheme sentences of tags are written in: IOBES if any tag has an `S-` or `E-` prefix; else
 * IOB1 if some entity begins with `I-` (after `O`, at a sentence start or after another type), as in
 * CoNLL-2003's files; else IOB2 (every entity begins with `B-`). With no entities at all the answer is IOB2 and
 * `certain` is false. IOB1 and IOB2 are read identically, so a wrong guess between them changes only how
 * entities are written back.
 */
export function detectScheme(sentences: Iterable<readonly string[]>): SchemeDetection {
  const detector = new SchemeDetector();
  for (const tags of sentences) detector.add(tags);
  return detector.result();
}

/** {@link detectScheme} one sentence at a time, for input read as a stream. */
export class SchemeDetector {
  private singleOrEndTags = 0;
  private entitiesStartingWithI = 0;
  private entitiesStartingWithB = 0;

  /** Counts the tags of one sentence. */
  add(tags: readonly string[]): void {
    let previous = OUTSIDE;
    for (const tag of tags) {
      const current = splitTag(tag);
      if (current.prefix === "S" || current.prefix === "E") this.singleOrEndTags++;
      else if (isChunkStart(previous.prefix, current.prefix, previous.type, current.type)) {
        if (current.prefix === "I") this.entitiesStartingWithI++;
        else if (current.prefix === "B") this.entitiesStartingWithB++;
      }
      previous = current;
    }
  }

  /** The scheme of the sentences added so far. */
  result(): SchemeDetection {
    const { singleOrEndTags, entitiesStartingWithI, entitiesStartingWithB } = this;
    let scheme: TagScheme = "IOB2";
    if (singleOrEndTags > 0) scheme = "IOBES";
    else if (entitiesStartingWithI > 0) scheme = "IOB1";
    return {
      scheme,
      certain: singleOrEndTags + entitiesStartingWithI + entitiesStartingWithB > 0,
      singleOrEndTags,
      entitiesStartingWithI,
      entitiesStartingWithB,
    };
  }
}

/** The entity types named by a list of tags (the part after the prefix), sorted, without duplicates. */
export function entityTypes(tags: Iterable<string>): string[] {
  const types = new Set<string>();
  for (const tag of tags) {
    if (tag === "O") continue;
    const { type } = splitTag(tag);
    if (type !== "") types.add(type);
  }
  return [...types].sort(compareCodePoints);
}

/** Orders strings by Unicode code points (byte order of their UTF-8), as Perl's `sort` orders bytes. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}
