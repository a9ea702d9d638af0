/**
 * The strict JSON reader of the safetensors header: it reads the header's bytes directly, so that every error
 * carries the exact byte offset in the file, refuses duplicate keys and nesting deeper than {@link MAX_DEPTH},
 * and checks UTF-8 before decoding. Browser-safe.
 */
import { FormatError } from "../errors.js";

/** Deepest nesting of arrays and objects accepted in a header (a valid header needs 3). */
export const MAX_DEPTH = 64;

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

export interface JsonEntry {
  value: JsonValue;
  /** Byte offset (in the file) of the key and of the value. */
  keyOffset: number;
  valueOffset: number;
}

export class JsonObject {
  readonly entries = new Map<string, JsonEntry>();
}

export class HeaderReader {
  private pos: number;
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly end: number,
    private readonly file: string | undefined,
  ) {
    this.pos = start;
  }

  fail(message: string, offset = this.pos): never {
    throw new FormatError(`safetensors: ${message} (at byte ${offset})`, offset, this.file);
  }

  private skipWhitespace(): void {
    const b = this.bytes;
    while (this.pos < this.end) {
      const c = b[this.pos]!;
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  private describe(): string {
    if (this.pos >= this.end) return "the end of the header";
    const c = this.bytes[this.pos]!;
    return c >= 0x21 && c < 0x7f
      ? `'${String.fromCharCode(c)}'`
      : `byte 0x${c.toString(16).padStart(2, "0")}`;
  }

  /** Parses the whole header: one JSON value, then only whitespace. */
  document(): JsonValue {
    this.skipWhitespace();
    const value = this.value(0);
    this.skipWhitespace();
    if (this.pos < this.end) this.fail(`unexpected ${this.describe()} after the header's JSON value`);
    return value;
  }

  private value(depth: number): JsonValue {
    if (this.pos >= this.end) this.fail("the header's JSON ends early");
    const c = this.bytes[this.pos]!;
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth >= MAX_DEPTH) this.fail(`the header's JSON nests deeper than ${MAX_DEPTH} levels`);
      return c === 0x7b ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === 0x22 /* " */) return this.string();
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) return true;
    if (this.literal("false")) return false;
    if (this.literal("null")) return null;
    return this.fail(`unexpected ${this.describe()} in the header's JSON`);
  }

  private literal(word: string): boolean {
    if (this.pos + word.length > this.end) return false;
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.pos + i] !== word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  private expect(byte: number, what: string): void {
    this.skipWhitespace();
    if (this.pos >= this.end || this.bytes[this.pos] !== byte) {
      this.fail(`expected ${what} but found ${this.describe()} in the header's JSON`);
    }
    this.pos++;
  }

  private object(depth: number): JsonObject {
    const out = new JsonObject();
    this.pos++; // {
    this.skipWhitespace();
    if (this.pos < this.end && this.bytes[this.pos] === 0x7d /* } */) {
      this.pos++;
      return out;
    }
    while (true) {
      this.skipWhitespace();
      const keyOffset = this.pos;
      if (this.pos >= this.end || this.bytes[this.pos] !== 0x22) {
        this.fail(`expected a quoted key but found ${this.describe()} in the header's JSON`);
      }
      const key = this.string();
      if (out.entries.has(key)) this.fail(`the key ${JSON.stringify(key)} appears twice`, keyOffset);
      this.expect(0x3a, "':'");
      this.skipWhitespace();
      const valueOffset = this.pos;
      const value = this.value(depth);
      out.entries.set(key, { value, keyOffset, valueOffset });
      this.skipWhitespace();
      if (this.pos < this.end && this.bytes[this.pos] === 0x2c /* , */) {
        this.pos++;
        continue;
      }
      this.expect(0x7d, "',' or '}'");
      return out;
    }
  }

  private array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++; // [
    this.skipWhitespace();
    if (this.pos < this.end && this.bytes[this.pos] === 0x5d /* ] */) {
      this.pos++;
      return out;
    }
    while (true) {
      this.skipWhitespace();
      out.push(this.value(depth));
      this.skipWhitespace();
      if (this.pos < this.end && this.bytes[this.pos] === 0x2c) {
        this.pos++;
        continue;
      }
      this.expect(0x5d, "',' or ']'");
      return out;
    }
  }

  private number(): number {
    const b = this.bytes;
    const start = this.pos;
    const digits = (): number => {
      const from = this.pos;
      while (this.pos < this.end && b[this.pos]! >= 0x30 && b[this.pos]! <= 0x39) this.pos++;
      return this.pos - from;
    };
    if (b[this.pos] === 0x2d) this.pos++;
    if (this.pos < this.end && b[this.pos] === 0x30) this.pos++;
    else if (digits() === 0) this.fail("a number in the header's JSON has no digits", start);
    if (this.pos < this.end && b[this.pos] === 0x2e /* . */) {
      this.pos++;
      if (digits() === 0) this.fail("a number in the header's JSON has no digits after '.'", start);
    }
    if (this.pos < this.end && (b[this.pos] === 0x65 || b[this.pos] === 0x45) /* e E */) {
      this.pos++;
      if (this.pos < this.end && (b[this.pos] === 0x2b || b[this.pos] === 0x2d)) this.pos++;
      if (digits() === 0) this.fail("a number in the header's JSON has an empty exponent", start);
    }
    return Number(this.decode(start, this.pos));
  }

  private string(): string {
    const b = this.bytes;
    const start = this.pos;
    this.pos++; // opening quote
    let pieces: string[] | null = null;
    let runStart = this.pos;
    while (true) {
      if (this.pos >= this.end) this.fail("a string in the header's JSON is not closed", start);
      const c = b[this.pos]!;
      if (c === 0x22) break;
      if (c < 0x20) this.fail("a control character inside a string in the header's JSON");
      if (c !== 0x5c /* \ */) {
        this.pos++;
        continue;
      }
      pieces ??= [];
      pieces.push(this.decode(runStart, this.pos));
      const escapeAt = this.pos;
      this.pos++;
      if (this.pos >= this.end) this.fail("a string in the header's JSON is not closed", start);
      const e = b[this.pos]!;
      this.pos++;
      switch (e) {
        case 0x22:
          pieces.push('"');
          break;
        case 0x5c:
          pieces.push("\\");
          break;
        case 0x2f:
          pieces.push("/");
          break;
        case 0x62:
          pieces.push("\b");
          break;
        case 0x66:
          pieces.push("\f");
          break;
        case 0x6e:
          pieces.push("\n");
          break;
        case 0x72:
          pieces.push("\r");
          break;
        case 0x74:
          pieces.push("\t");
          break;
        case 0x75: {
          const unit = this.hex4(escapeAt);
          if (unit >= 0xdc00 && unit <= 0xdfff)
            this.fail("a lone low surrogate escape in a string", escapeAt);
          if (unit >= 0xd800 && unit <= 0xdbff) {
            let low = -1;
            if (this.pos + 1 < this.end && b[this.pos] === 0x5c && b[this.pos + 1] === 0x75) {
              this.pos += 2;
              low = this.hex4(escapeAt);
            }
            if (low < 0xdc00 || low > 0xdfff) this.fail("a lone high surrogate escape in a string", escapeAt);
            pieces.push(String.fromCharCode(unit, low));
          } else pieces.push(String.fromCharCode(unit));
          break;
        }
        default:
          this.fail("an invalid escape sequence in a string in the header's JSON", escapeAt);
      }
      runStart = this.pos;
    }
    const tail = this.decode(runStart, this.pos);
    this.pos++; // closing quote
    return pieces === null ? tail : pieces.join("") + tail;
  }

  private hex4(escapeAt: number): number {
    if (this.pos + 4 > this.end) this.fail("a \\u escape needs four hex digits", escapeAt);
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.bytes[this.pos + i]!;
      const digit =
        c >= 0x30 && c <= 0x39
          ? c - 0x30
          : c >= 0x61 && c <= 0x66
            ? c - 87
            : c >= 0x41 && c <= 0x46
              ? c - 55
              : -1;
      if (digit < 0) this.fail("a \\u escape needs four hex digits", escapeAt);
      value = value * 16 + digit;
    }
    this.pos += 4;
    return value;
  }

  private decode(from: number, to: number): string {
    return from === to ? "" : this.utf8.decode(this.bytes.subarray(from, to));
  }
}

/** Offset of the first byte that breaks UTF-8 in bytes[start, end), or −1 if all is valid. */
export function firstInvalidUtf8(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = bytes[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let code = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const next = i + k < end ? bytes[i + k]! : -1;
      if ((next & 0xc0) !== 0x80 || next < 0) return i;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}
