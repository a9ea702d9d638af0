/**
 * An English tokenizer for tagging raw text, following the conventions of the CoNLL-2003 data the tagger is
 * trained on (Penn Treebank style), and keeping every token's character offsets into the original string.
 *
 * - Words and numbers are runs of letters, marks and digits. A hyphen between two such runs joins them
 *   (`sequin-covered`, `1996-08-22`); so do `.`, `:` and `/` between digits (`1.5`, `10:30`, `1/2`), a comma
 *   before exactly three digits (`1,000.50`), and `&` between letters (`AT&T`).
 * - Clitics are split off: possessive `'s`, `'m`, `'re`, `'ve`, `'ll`, `'d` (`Paris's` → `Paris` `'s`) and
 *   `n't` (`don't` → `do` `n't`, `can't` → `ca` `n't`); other apostrophes inside a word stay (`O'Brien`).
 * - A period stays on known abbreviations (`Mr.`, `Dr.`, `Inc.`, `Jan.` …), on letter-period sequences
 *   (`U.S.`, `e.g.`) and on a capital initial before a capitalised word (`J. K. Rowling`); otherwise it is
 *   its own token.
 * - Quotes, brackets and other punctuation are single tokens, except `...`, `--`, ` `` ` and `''`.
 * - URLs (`https://…`, `www.…`) and e-mail addresses are single tokens.
 *
 * Sentences end after `.`, `!`, `?` or an ellipsis (with any closing quotes or brackets right after it) unless
 * the next token starts with a lower-case letter, and at blank lines. Offsets are [start, end) in UTF-16 code
 * units, so `text.slice(token.start, token.end) === token.text` always holds.
 */

import { ValueError } from "../errors.js";

/** A token and its place in the original text: `text.slice(start, end)`. */
export interface Token {
  /** The token's characters. */
  readonly text: string;
  /** Offset of its first character in the text. */
  readonly start: number;
  /** Offset just past its last character. */
  readonly end: number;
}

/** A sentence: its tokens, and the span from its first token's start to its last token's end. */
export interface TokenizedSentence {
  /** The sentence's tokens, in order. */
  readonly tokens: Token[];
  /** Offset of the first token's first character. */
  readonly start: number;
  /** Offset just past the last token's last character. */
  readonly end: number;
}

/** Abbreviations that keep their period (compared case-sensitively, without the period). */
const ABBREVIATIONS = new Set([
  "Mr",
  "Mrs",
  "Ms",
  "Messrs",
  "Dr",
  "Prof",
  "Sr",
  "Jr",
  "St",
  "Mt",
  "Ft",
  "Gen",
  "Gov",
  "Sen",
  "Rep",
  "Rev",
  "Hon",
  "Pres",
  "Capt",
  "Col",
  "Lt",
  "Sgt",
  "Maj",
  "Adm",
  "Cpl",
  "Pvt",
  "Supt",
  "Insp",
  "Inc",
  "Ltd",
  "Co",
  "Corp",
  "Bros",
  "Plc",
  "Cos",
  "Dept",
  "Univ",
  "Assn",
  "Ave",
  "Blvd",
  "Rd",
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Sept",
  "Oct",
  "Nov",
  "Dec",
  "Mon",
  "Tue",
  "Tues",
  "Wed",
  "Thu",
  "Thur",
  "Thurs",
  "Fri",
  "Sat",
  "Sun",
  "vs",
  "etc",
  "approx",
  "No",
  "Nos",
  "Vol",
  "Fig",
  "Calif",
  "Mass",
  "Conn",
  "Penn",
  "Ariz",
  "Colo",
  "Fla",
  "Ill",
  "Mich",
  "Minn",
  "Wash",
  "Wis",
]);

const CLITICS = new Set(["s", "m", "re", "ve", "ll", "d"]);

const WORD_CHARACTER = /[\p{L}\p{M}\p{Nd}]/u;
const LETTER = /\p{L}/u;
const UPPER = /\p{Lu}/u;
const LOWER = /\p{Ll}/u;
const DIGIT = /\p{Nd}/u;
/** How links start (compared case-insensitively). */
const LINK_PREFIXES = ["http://", "https://", "www."];
const APOSTROPHES = new Set(["'", "\u2019"]);
const CLOSERS = new Set(['"', "'", "''", "\u201d", "\u2019", ")", "]", "}", "\u00bb"]);
const TERMINALS = new Set([".", "!", "?", "...", "\u2026"]);

/** The code point at `index` as a string ("" past the end). */
function characterAt(text: string, index: number): string {
  if (index < 0 || index >= text.length) return "";
  const code = text.codePointAt(index)!;
  return code > 0xffff ? text.slice(index, index + 2) : text[index]!;
}

/**
 * Character classes as bits, so that the common case needs no pattern: each code point of the Basic
 * Multilingual Plane gets its bits from the Unicode patterns the first time it is seen (`KNOWN_BIT` marks that),
 * and astral code points are tested with the patterns each time.
 */
const WORD_BIT = 1;
const LETTER_BIT = 2;
const UPPER_BIT = 4;
const LOWER_BIT = 8;
const DIGIT_BIT = 16;
const KNOWN_BIT = 128;
let bmpClasses: Uint8Array | null = null;

/** The class bits of astral code points seen so far (few texts hold many distinct ones). */
const astralClasses = new Map<string, number>();

function classBitsOf(character: string): number {
  if (character.length === 2) {
    let bits = astralClasses.get(character);
    if (bits === undefined) {
      if (astralClasses.size >= 4096) astralClasses.clear();
      astralClasses.set(character, (bits = classBitsOfUncached(character)));
    }
    return bits;
  }
  return classBitsOfUncached(character);
}

function classBitsOfUncached(character: string): number {
  return (
    KNOWN_BIT |
    (WORD_CHARACTER.test(character) ? WORD_BIT : 0) |
    (LETTER.test(character) ? LETTER_BIT : 0) |
    (UPPER.test(character) ? UPPER_BIT : 0) |
    (LOWER.test(character) ? LOWER_BIT : 0) |
    (DIGIT.test(character) ? DIGIT_BIT : 0)
  );
}

/** True if the code unit at `index` alone is in a class (a lone surrogate is in none). */
function unitClassAt(text: string, index: number, bit: number): boolean {
  if (index < 0 || index >= text.length) return false;
  const code = text.charCodeAt(index);
  bmpClasses ??= new Uint8Array(0x10000);
  let bits = bmpClasses[code]!;
  if (bits === 0) bmpClasses[code] = bits = classBitsOf(text[index]!);
  return (bits & bit) !== 0;
}

/** True if the code point at `index` is in a class (`bit`, one of the bits above or several or-ed). */
function classAt(text: string, index: number, bit: number): boolean {
  if (codePointLength(text, index) === 2) return (classBitsOf(characterAt(text, index)) & bit) !== 0;
  return unitClassAt(text, index, bit);
}

const wordCharacterAt = (text: string, index: number): boolean => classAt(text, index, WORD_BIT);
const letterAt = (text: string, index: number): boolean => classAt(text, index, LETTER_BIT);
const upperAt = (text: string, index: number): boolean => classAt(text, index, UPPER_BIT);
const lowerAt = (text: string, index: number): boolean => classAt(text, index, LOWER_BIT);
const digitAt = (text: string, index: number): boolean => classAt(text, index, DIGIT_BIT);
/** Letters and digits: the characters of e-mail addresses besides a few symbols. */
const letterOrDigitAt = (text: string, index: number): boolean =>
  classAt(text, index, LETTER_BIT | DIGIT_BIT);

/** The end of the run of word characters starting at `index`. */
function endOfRun(text: string, index: number): number {
  let i = index;
  while (wordCharacterAt(text, i)) i += codePointLength(text, i);
  return i;
}

/** True if the code unit before `index` is a digit (digits are never astral in practice). */
function digitBefore(text: string, index: number): boolean {
  return unitClassAt(text, index - 1, DIGIT_BIT);
}

/** True for the code units JavaScript's `\s` matches (all of them are in the Basic Multilingual Plane). */
function isWhitespaceCode(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** The length in code units of the code point at `index` (2 for a surrogate pair, else 1). */
function codePointLength(text: string, index: number): number {
  const code = text.charCodeAt(index);
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(index + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return 2;
  }
  return 1;
}

/** The end of the run of e-mail local-part characters (letters, digits, `._%+-`) starting at `index`. */
function endOfLocalPart(text: string, index: number): number {
  let i = index;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 46 || code === 95 || code === 37 || code === 43 || code === 45) i++;
    else if (letterOrDigitAt(text, i)) i += codePointLength(text, i);
    else break;
  }
  return i;
}

/** The end of the run of domain-label characters (letters, digits, `-`) starting at `index`. */
function endOfLabel(text: string, index: number): number {
  let i = index;
  while (i < text.length) {
    if (text.charCodeAt(i) === 45) i++;
    else if (letterOrDigitAt(text, i)) i += codePointLength(text, i);
    else break;
  }
  return i;
}

/**
 * The end of a domain starting at `index` (labels joined by dots, at least two), or -1. The greedy match of
 * `label(\.label)+`, written as a loop because patterns over megabyte-long runs can exhaust V8's stack.
 */
function endOfDomain(text: string, index: number): number {
  let end = endOfLabel(text, index);
  if (end === index) return -1;
  let labels = 1;
  while (text.charCodeAt(end) === 46) {
    const next = endOfLabel(text, end + 1);
    if (next === end + 1) break;
    end = next;
    labels++;
  }
  return labels >= 2 ? end : -1;
}

/** The end of a link (`http://…`, `https://…`, `www.…`, then anything up to a space, `<`, `>` or `"`), or -1. */
/** True if `prefix` (lower-case ASCII) starts at `index`, ignoring the case of ASCII letters. */
function startsWithIgnoringAsciiCase(text: string, index: number, prefix: string): boolean {
  if (text.length - index < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) {
    let code = text.charCodeAt(index + k);
    if (code >= 65 && code <= 90) code += 32;
    if (code !== prefix.charCodeAt(k)) return false;
  }
  return true;
}

function endOfUrl(text: string, index: number): number {
  let prefixEnd = -1;
  for (const prefix of LINK_PREFIXES) {
    if (startsWithIgnoringAsciiCase(text, index, prefix)) {
      prefixEnd = index + prefix.length;
      break;
    }
  }
  if (prefixEnd < 0) return -1;
  let i = prefixEnd;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 60 || code === 62 || code === 34 || isWhitespaceCode(code)) break;
    i++;
  }
  return i > prefixEnd ? i : -1;
}

class Scanner {
  readonly tokens: Token[] = [];
  /** The run of e-mail local-part characters last scanned, `[localStart, localEnd)` (see matchEmail). */
  private localStart = -1;
  private localEnd = -1;
  /** The `@` whose domain was last matched, and the end of that domain (-1: no domain there). */
  private domainAt = -1;
  private domainEnd = -1;
  constructor(private readonly text: string) {}

  private emit(start: number, end: number): void {
    if (end > start) this.tokens.push({ text: this.text.slice(start, end), start, end });
  }

  run(): Token[] {
    const { text } = this;
    let i = 0;
    while (i < text.length) {
      if (isWhitespaceCode(text.charCodeAt(i))) {
        i++;
        continue;
      }
      const link = this.matchLink(i);
      if (link > i) {
        this.emit(i, link);
        i = link;
      } else if (wordCharacterAt(text, i)) i = this.word(i);
      else i = this.punctuation(i);
    }
    return this.tokens;
  }

  /** The end of a URL or e-mail address at `index` (trailing sentence punctuation left out), or `index`. */
  private matchLink(index: number): number {
    const { text } = this;
    const url = endOfUrl(text, index);
    let end = url >= 0 ? url : this.matchEmail(index);
    while (end > index && /[.,;:!?)\]'"\u2019\u201d]/.test(text[end - 1]!)) end--;
    return end;
  }

  /**
   * The end of an e-mail address starting at `index`, or `index`. The local part is a run of characters that
   * cannot hold `@`, so an address starting anywhere inside a run ends at the same place: the run and the
   * domain after it are scanned once and remembered, which keeps tokenizing linear (scanning afresh at every
   * token would rescan the rest of a long run each time).
   */
  private matchEmail(index: number): number {
    const { text } = this;
    if (index < this.localStart || index >= this.localEnd) {
      const end = endOfLocalPart(text, index);
      if (end === index) return index;
      this.localStart = index;
      this.localEnd = end;
    }
    const at = this.localEnd;
    if (text.charCodeAt(at) !== 64) return index;
    if (this.domainAt !== at) {
      this.domainAt = at;
      this.domainEnd = endOfDomain(text, at + 1);
    }
    return this.domainEnd < 0 ? index : this.domainEnd;
  }

  /** Scans a word starting at `start` (a word character) and emits it, with any clitic; returns the end. */
  private word(start: number): number {
    const { text } = this;
    let end = endOfRun(text, start);

    // Letter-period sequences: U.S., e.g., U.S.A.; a single capital initial: J.
    if (text[end] === "." && end - start === codePointLength(text, start) && letterAt(text, start)) {
      let position = end + 1;
      let letters = 1;
      while (letterAt(text, position)) {
        const length = codePointLength(text, position);
        if (text[position + length] !== ".") break;
        position += length + 1;
        letters++;
      }
      if (letters >= 2 || this.isInitial(start, end + 1)) {
        const tokenEnd = letters >= 2 ? position : end + 1;
        this.emit(start, tokenEnd);
        return tokenEnd;
      }
    }

    while (end < text.length) {
      const next = text[end]!;
      if (next === "-" && wordCharacterAt(text, end + 1)) {
        end = endOfRun(text, end + 1);
      } else if (
        (next === "." || next === ":" || next === "/") &&
        digitBefore(text, end) &&
        digitAt(text, end + 1)
      ) {
        end = endOfRun(text, end + 1);
      } else if (next === "," && digitBefore(text, end) && this.threeDigitGroup(end + 1)) {
        end += 4;
      } else if (next === "&" && unitClassAt(text, end - 1, LETTER_BIT) && letterAt(text, end + 1)) {
        end = endOfRun(text, end + 1);
      } else if (APOSTROPHES.has(next) && letterAt(text, end + 1)) {
        const cliticEnd = endOfRun(text, end + 1);
        const clitic = text.slice(end + 1, cliticEnd).toLowerCase();
        if (CLITICS.has(clitic)) {
          this.emit(start, end);
          this.emit(end, cliticEnd);
          return cliticEnd;
        }
        if (clitic === "t" && end - start >= 2 && (text[end - 1] === "n" || text[end - 1] === "N")) {
          this.emit(start, end - 1);
          this.emit(end - 1, cliticEnd);
          return cliticEnd;
        }
        end = cliticEnd;
      } else break;
    }

    if (text[end] === "." && ABBREVIATIONS.has(text.slice(start, end))) end++;
    this.emit(start, end);
    return end;
  }

  /** True if exactly three digits start at `index` and no word character follows them. */
  private threeDigitGroup(index: number): boolean {
    const { text } = this;
    for (let k = 0; k < 3; k++) if (!digitAt(text, index + k)) return false;
    return !wordCharacterAt(text, index + 3);
  }

  /**
   * True if the letter at `index` followed by a period (ending just before `after`) is a name's initial: a
   * capital other than `I`, followed by spaces and a capitalised word (`J. K. Rowling`), so that `vitamin C.`
   * at the end of a sentence keeps its period as a separate token.
   */
  private isInitial(index: number, after: number): boolean {
    const { text } = this;
    if (!upperAt(text, index) || text[index] === "I") return false;
    let i = after;
    while (i < text.length && isWhitespaceCode(text.charCodeAt(i))) i++;
    return i > after && upperAt(text, i);
  }

  /** Scans punctuation or a symbol at `start`, emits it and returns the end. */
  private punctuation(start: number): number {
    const { text } = this;
    const character = characterAt(text, start);
    let end = start + character.length;
    if (character === "." || character === "-") {
      while (text[end] === character) end++;
    } else if ((character === "`" || character === "'") && text[end] === character) {
      end++;
    }
    this.emit(start, end);
    return end;
  }
}

/** Splits English text into tokens with their offsets (see the module comment for the rules). */
export function tokenize(text: string): Token[] {
  if (typeof text !== "string") throw new ValueError(`tokenize: expected a string, got ${typeof text}`);
  return new Scanner(text).run();
}

/** True if the text between two offsets holds a blank line (a paragraph break). */
function hasBlankLine(text: string, from: number, to: number): boolean {
  let afterNewline = false;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code === 10) {
      if (afterNewline) return true;
      afterNewline = true;
    } else if (!isWhitespaceCode(code)) afterNewline = false;
  }
  return false;
}

/**
 * Groups tokens of `text` into sentences: a sentence ends after `.`, `!`, `?`, `...` or `…` (taking along
 * closing quotes and brackets that touch it) unless the next token starts with a lower-case letter, and at a
 * blank line.
 */
export function splitSentences(text: string, tokens: readonly Token[]): TokenizedSentence[] {
  const sentences: TokenizedSentence[] = [];
  let current: Token[] = [];
  const close = (): void => {
    if (current.length === 0) return;
    sentences.push({ tokens: current, start: current[0]!.start, end: current[current.length - 1]!.end });
    current = [];
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    current.push(token);
    let next = tokens[i + 1];
    if (TERMINALS.has(token.text)) {
      while (
        next !== undefined &&
        next.start === current[current.length - 1]!.end &&
        (TERMINALS.has(next.text) || CLOSERS.has(next.text))
      ) {
        current.push(next);
        i++;
        next = tokens[i + 1];
      }
      if (next === undefined || !lowerAt(next.text, 0)) {
        close();
        continue;
      }
    }
    if (next !== undefined && hasBlankLine(text, current[current.length - 1]!.end, next.start)) close();
  }
  close();
  return sentences;
}

/** Tokenizes text and splits it into sentences. */
export function tokenizeSentences(text: string): TokenizedSentence[] {
  return splitSentences(text, tokenize(text));
}
