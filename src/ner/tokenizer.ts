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
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** A sentence: its tokens, and the span from its first token's start to its last token's end. */
export interface TokenizedSentence {
  readonly tokens: Token[];
  readonly start: number;
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
const SPACE = /\s/u;
const URL = /(?:https?:\/\/|www\.)[^\s<>"]+/iy;
const EMAIL = /[\p{L}\p{Nd}._%+-]+@[\p{L}\p{Nd}-]+(?:\.[\p{L}\p{Nd}-]+)+/uy;
const APOSTROPHES = new Set(["'", "\u2019"]);
const CLOSERS = new Set(['"', "'", "''", "\u201d", "\u2019", ")", "]", "}", "\u00bb"]);
const TERMINALS = new Set([".", "!", "?", "...", "\u2026"]);

/** The code point at `index` as a string ("" past the end). */
function characterAt(text: string, index: number): string {
  if (index < 0 || index >= text.length) return "";
  const code = text.codePointAt(index)!;
  return code > 0xffff ? text.slice(index, index + 2) : text[index]!;
}

function matchesAt(pattern: RegExp, text: string, index: number): boolean {
  const character = characterAt(text, index);
  return character !== "" && pattern.test(character);
}

/** The end of the run of word characters starting at `index`. */
function endOfRun(text: string, index: number): number {
  let i = index;
  while (i < text.length) {
    const character = characterAt(text, i);
    if (!WORD_CHARACTER.test(character)) break;
    i += character.length;
  }
  return i;
}

/** True if the code unit before `index` is a digit (digits are never astral in practice). */
function digitBefore(text: string, index: number): boolean {
  return index > 0 && DIGIT.test(text[index - 1]!);
}

class Scanner {
  readonly tokens: Token[] = [];
  constructor(private readonly text: string) {}

  private emit(start: number, end: number): void {
    if (end > start) this.tokens.push({ text: this.text.slice(start, end), start, end });
  }

  run(): Token[] {
    const { text } = this;
    let i = 0;
    while (i < text.length) {
      const character = characterAt(text, i);
      if (SPACE.test(character)) {
        i += character.length;
        continue;
      }
      const link = this.matchLink(i);
      if (link > i) {
        this.emit(i, link);
        i = link;
      } else if (WORD_CHARACTER.test(character)) i = this.word(i);
      else i = this.punctuation(i);
    }
    return this.tokens;
  }

  /** The end of a URL or e-mail address at `index` (trailing sentence punctuation left out), or `index`. */
  private matchLink(index: number): number {
    const { text } = this;
    for (const pattern of [URL, EMAIL]) {
      pattern.lastIndex = index;
      const match = pattern.exec(text);
      if (match !== null) {
        let end = index + match[0].length;
        while (end > index && /[.,;:!?)\]'"\u2019\u201d]/.test(text[end - 1]!)) end--;
        if (end > index) return end;
      }
    }
    return index;
  }

  /** Scans a word starting at `start` (a word character) and emits it, with any clitic; returns the end. */
  private word(start: number): number {
    const { text } = this;
    let end = endOfRun(text, start);

    // Letter-period sequences: U.S., e.g., U.S.A.; a single capital initial: J.
    const first = text.slice(start, end);
    if (text[end] === "." && first.length === characterAt(text, start).length && LETTER.test(first)) {
      let position = end + 1;
      let letters = 1;
      while (true) {
        const next = characterAt(text, position);
        if (next === "" || !LETTER.test(next) || text[position + next.length] !== ".") break;
        position += next.length + 1;
        letters++;
      }
      if (letters >= 2 || this.isInitial(first, end + 1)) {
        const tokenEnd = letters >= 2 ? position : end + 1;
        this.emit(start, tokenEnd);
        return tokenEnd;
      }
    }

    while (end < text.length) {
      const next = text[end]!;
      if (next === "-" && matchesAt(WORD_CHARACTER, text, end + 1)) {
        end = endOfRun(text, end + 1);
      } else if (
        (next === "." || next === ":" || next === "/") &&
        digitBefore(text, end) &&
        matchesAt(DIGIT, text, end + 1)
      ) {
        end = endOfRun(text, end + 1);
      } else if (next === "," && digitBefore(text, end) && this.threeDigitGroup(end + 1)) {
        end += 4;
      } else if (next === "&" && LETTER.test(text[end - 1]!) && matchesAt(LETTER, text, end + 1)) {
        end = endOfRun(text, end + 1);
      } else if (APOSTROPHES.has(next) && matchesAt(LETTER, text, end + 1)) {
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
    for (let k = 0; k < 3; k++) if (!matchesAt(DIGIT, text, index + k)) return false;
    return !matchesAt(WORD_CHARACTER, text, index + 3);
  }

  /**
   * True if `letter` followed by a period (ending just before `after`) is a name's initial: a capital other
   * than `I`, followed by spaces and a capitalised word (`J. K. Rowling`), so that `vitamin C.` at the end of
   * a sentence keeps its period as a separate token.
   */
  private isInitial(letter: string, after: number): boolean {
    if (!UPPER.test(letter) || letter === "I") return false;
    let i = after;
    while (i < this.text.length && SPACE.test(this.text[i]!)) i++;
    return i > after && matchesAt(UPPER, this.text, i);
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
  return /\n[^\S\n]*\n/.test(text.slice(from, to));
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
      if (next === undefined || !LOWER.test(characterAt(next.text, 0))) {
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
