/**
 * Labelled sentences stored compactly, for training on big files (browser-safe). Each distinct token and each
 * distinct tag is kept once, in a table; the corpus itself is two `Int32Array`s of ids into those tables, one
 * entry per token, and the sentences' offsets: about 8 bytes per token plus the tables, where arrays of strings
 * take 50 or more. A {@link CompactCorpusBuilder} takes the sentences one at a time, so a file read as a stream
 * (`readCompactCorpus` in `conll-node.ts`) is never held whole; {@link CompactCorpus.fromSentences} stores
 * sentences already in memory.
 *
 * While it stores the sentences, the builder also computes what training needs from all of them before it can
 * start: how often each distinct token occurs (for the vocabulary), the tag scheme's evidence
 * ({@link SchemeDetector}) and the checksum that a resumed run compares.
 */
import { ValueError, quoteInput } from "../errors.js";
import { sortTags } from "./conll.js";
import { SchemeDetector, type SchemeDetection } from "./tags.js";

/** A sentence as `trainNer` and the corpus take it: tokens and one tag per token. */
export interface TaggedSentence {
  /** The words, in order. */
  readonly tokens: readonly string[];
  /** One tag per token. */
  readonly tags: readonly string[];
}

/**
 * A checksum of sentences' tokens and tags, fed one sentence at a time: FNV-1a (32 bits) of the UTF-8 of the
 * text `tokens.join(" ") + "\t" + tags.join(" ")` of each sentence, the sentences joined by `"\n"`, without
 * ever building that text.
 */
export class SentenceChecksum {
  private hash = 0x811c9dc5;
  private count = 0;

  /** The number of sentences added (empty ones included). */
  get sentenceCount(): number {
    return this.count;
  }

  /** Adds one sentence. */
  add(tokens: readonly string[], tags: readonly string[]): void {
    if (this.count > 0) this.addByte(0x0a);
    for (let i = 0; i < tokens.length; i++) {
      if (i > 0) this.addByte(0x20);
      this.addString(tokens[i]!);
    }
    this.addByte(0x09);
    for (let i = 0; i < tags.length; i++) {
      if (i > 0) this.addByte(0x20);
      this.addString(tags[i]!);
    }
    this.count++;
  }

  /** `count:fnv1a32:xxxxxxxx`, the form `fingerprintSentences` gives. */
  result(): string {
    return `${this.count}:fnv1a32:${(this.hash >>> 0).toString(16).padStart(8, "0")}`;
  }

  private addByte(byte: number): void {
    this.hash = Math.imul(this.hash ^ byte, 0x01000193);
  }

  /** The UTF-8 bytes of `text` as `TextEncoder` writes them (a lone surrogate becomes U+FFFD). */
  private addString(text: string): void {
    for (let i = 0; i < text.length; i++) {
      let code = text.charCodeAt(i);
      if (code < 0x80) {
        this.addByte(code);
        continue;
      }
      if (code < 0x800) {
        this.addByte(0xc0 | (code >> 6));
        this.addByte(0x80 | (code & 0x3f));
        continue;
      }
      if (code >= 0xd800 && code <= 0xdfff) {
        const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
          i++;
          this.addByte(0xf0 | (code >> 18));
          this.addByte(0x80 | ((code >> 12) & 0x3f));
          this.addByte(0x80 | ((code >> 6) & 0x3f));
          this.addByte(0x80 | (code & 0x3f));
          continue;
        }
        code = 0xfffd;
      }
      this.addByte(0xe0 | (code >> 12));
      this.addByte(0x80 | ((code >> 6) & 0x3f));
      this.addByte(0x80 | (code & 0x3f));
    }
  }
}

/** A growable list of 32-bit integers. */
class IntList {
  private data = new Int32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      // Grows by half: at most a third of the array is ever unused.
      const bigger = new Int32Array(Math.ceil(this.data.length * 1.5));
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** Adds 1 to the value at `index`. */
  increment(index: number): void {
    this.data[index] = this.data[index]! + 1;
  }

  /** The values, in an array of their exact length. */
  finish(): Int32Array {
    const data = this.data;
    this.data = new Int32Array(0);
    return data.length === this.length ? data : data.slice(0, this.length);
  }
}

/** Assigns ids to strings in order of first appearance. */
class StringTable {
  readonly strings: string[] = [];
  private readonly ids = new Map<string, number>();

  idOf(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.strings.length;
      // A string cut from a longer one (a token from a line read in chunks) can keep the whole chunk alive:
      // the table keeps a copy of its own.
      const own = text.length >= 13 ? (JSON.parse(JSON.stringify(text)) as string) : text;
      this.ids.set(own, id);
      this.strings.push(own);
    }
    return id;
  }
}

/**
 * Builds a {@link CompactCorpus} one sentence at a time. Empty sentences count in the checksum (as in
 * `fingerprintSentences`) but are not stored.
 */
export class CompactCorpusBuilder {
  private readonly file: string;
  private readonly tokenTable = new StringTable();
  private readonly tagTable = new StringTable();
  private readonly counts = new IntList();
  private readonly tokenIds = new IntList();
  private readonly tagIds = new IntList();
  private readonly offsets = new IntList();
  private readonly checksum = new SentenceChecksum();
  private readonly detector = new SchemeDetector();
  private finished = false;

  /** `file` names the source (a path, or what the sentences are) in the corpus and in messages. */
  constructor(file = "<sentences>") {
    this.file = file;
    this.offsets.push(0);
  }

  /** Adds a sentence: its tokens and one tag per token, all strings. */
  add(tokens: readonly string[], tags: readonly string[]): void {
    if (this.finished) throw new ValueError(`CompactCorpusBuilder: ${this.file}: add after finish`);
    const index = this.checksum.sentenceCount;
    if (!Array.isArray(tokens) || !Array.isArray(tags) || tokens.length !== tags.length) {
      throw new ValueError(`${this.file}: sentence ${index} needs tokens and tags of the same length`);
    }
    for (let i = 0; i < tokens.length; i++) {
      const token: unknown = tokens[i];
      const tag: unknown = tags[i];
      if (typeof token !== "string" || typeof tag !== "string") {
        throw new ValueError(
          `${this.file}: sentence ${index}, token ${i}: tokens and tags must be strings, got ${quoteInput(typeof token !== "string" ? token : tag)}`,
        );
      }
    }
    this.checksum.add(tokens, tags);
    if (tokens.length === 0) return;
    if (this.tokenIds.length + tokens.length > 0x7fffffff) {
      throw new ValueError(`${this.file}: more than ${0x7fffffff} tokens do not fit in one corpus`);
    }
    this.detector.add(tags);
    for (let i = 0; i < tokens.length; i++) {
      const id = this.tokenTable.idOf(tokens[i]!);
      if (id === this.counts.length) this.counts.push(0);
      this.counts.increment(id);
      this.tokenIds.push(id);
      this.tagIds.push(this.tagTable.idOf(tags[i]!));
    }
    this.offsets.push(this.tokenIds.length);
  }

  /** The corpus of the sentences added. The builder cannot be used afterwards. */
  finish(): CompactCorpus {
    this.finished = true;
    return new CompactCorpus({
      file: this.file,
      tokenTable: this.tokenTable.strings,
      tokenCounts: this.counts.finish(),
      tagTable: this.tagTable.strings,
      tokenIds: this.tokenIds.finish(),
      tagIds: this.tagIds.finish(),
      offsets: this.offsets.finish(),
      fingerprint: this.checksum.result(),
      schemeDetection: this.detector.result(),
    });
  }
}

/** The parts of a {@link CompactCorpus} (what its builder gives it). */
export interface CompactCorpusParts {
  /** Where the sentences came from (a path, or `<sentences>`). */
  readonly file: string;
  /** The distinct tokens, in order of first appearance. */
  readonly tokenTable: readonly string[];
  /** How often each distinct token occurs. */
  readonly tokenCounts: Int32Array;
  /** The distinct tags, in order of first appearance. */
  readonly tagTable: readonly string[];
  /** Per token, in order: its index in `tokenTable`. */
  readonly tokenIds: Int32Array;
  /** Per token, in order: its tag's index in `tagTable`. */
  readonly tagIds: Int32Array;
  /**
   * Where each sentence starts, and the token count last (sentences + 1 entries): sentence s holds tokens
   * `offsets[s]` … `offsets[s + 1] − 1`. Empty sentences are left out.
   */
  readonly offsets: Int32Array;
  /** The checksum of all the sentences added, empty ones included, as `fingerprintSentences` gives it. */
  readonly fingerprint: string;
  /** What the tags say about their scheme ({@link SchemeDetector} over every sentence). */
  readonly schemeDetection: SchemeDetection;
}

/**
 * Labelled sentences as ids into tables of distinct tokens and tags (see the top of this file). `trainNer`
 * takes one as its training or dev data, like an array of sentences, with the same results.
 */
export class CompactCorpus implements CompactCorpusParts {
  readonly file: string;
  readonly tokenTable: readonly string[];
  readonly tokenCounts: Int32Array;
  readonly tagTable: readonly string[];
  readonly tokenIds: Int32Array;
  readonly tagIds: Int32Array;
  readonly offsets: Int32Array;
  readonly fingerprint: string;
  readonly schemeDetection: SchemeDetection;

  /** Use `readCompactCorpus` (Node), {@link CompactCorpus.fromSentences} or a `CompactCorpusBuilder`. */
  constructor(parts: CompactCorpusParts) {
    this.file = parts.file;
    this.tokenTable = parts.tokenTable;
    this.tokenCounts = parts.tokenCounts;
    this.tagTable = parts.tagTable;
    this.tokenIds = parts.tokenIds;
    this.tagIds = parts.tagIds;
    this.offsets = parts.offsets;
    this.fingerprint = parts.fingerprint;
    this.schemeDetection = parts.schemeDetection;
  }

  /** Stores sentences held in memory; `file` names them in messages. */
  static fromSentences(sentences: Iterable<TaggedSentence>, file = "<sentences>"): CompactCorpus {
    const builder = new CompactCorpusBuilder(file);
    for (const sentence of sentences) builder.add(sentence.tokens, sentence.tags);
    return builder.finish();
  }

  /** The number of (non-empty) sentences. */
  get sentenceCount(): number {
    return this.offsets.length - 1;
  }

  /** The number of tokens. */
  get tokenCount(): number {
    return this.tokenIds.length;
  }

  /** The distinct tags, sorted (`O` first if present, then by code point), as `ConllCorpus.tagSet`. */
  get tagSet(): string[] {
    return sortTags(this.tagTable);
  }

  /** The tokens of sentence `s` (0-based), as strings. */
  tokensOf(s: number): string[] {
    return this.stringsOf(s, this.tokenIds, this.tokenTable);
  }

  /** The tags of sentence `s`, as strings. */
  tagsOf(s: number): string[] {
    return this.stringsOf(s, this.tagIds, this.tagTable);
  }

  /** The sentences one at a time, as strings (each made when it is reached). */
  *sentences(): Generator<TaggedSentence> {
    for (let s = 0; s < this.sentenceCount; s++) yield { tokens: this.tokensOf(s), tags: this.tagsOf(s) };
  }

  /** The tokens of each sentence, one sentence at a time; iterable more than once. */
  tokenLists(): Iterable<string[]> {
    return { [Symbol.iterator]: () => this.listsOf(this.tokenIds, this.tokenTable) };
  }

  private *listsOf(ids: Int32Array, table: readonly string[]): Generator<string[]> {
    for (let s = 0; s < this.sentenceCount; s++) yield this.stringsOf(s, ids, table);
  }

  private stringsOf(s: number, ids: Int32Array, table: readonly string[]): string[] {
    if (!Number.isInteger(s) || s < 0 || s >= this.sentenceCount) {
      throw new ValueError(`CompactCorpus: sentence ${s} is outside [0, ${this.sentenceCount})`);
    }
    const start = this.offsets[s]!;
    const end = this.offsets[s + 1]!;
    const out = new Array<string>(end - start);
    for (let i = start; i < end; i++) out[i - start] = table[ids[i]!]!;
    return out;
  }
}
