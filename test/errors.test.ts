import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { QUOTE_LIMIT, quoteInput } from "../src/errors.js";

describe("quoteInput: input echoed in error messages, readable and short", () => {
  it("quotes short strings whole, as JSON", () => {
    expect(quoteInput("B-XYZ")).toBe('"B-XYZ"');
    expect(quoteInput("a\tb\u0000")).toBe('"a\\tb\\u0000"');
    expect(quoteInput("")).toBe('""');
    // Invisible characters show as escapes.
    expect(quoteInput("\uFEFFa\u00a0b\u200b\u2028")).toBe('"\\ufeffa\\u00a0b\\u200b\\u2028"');
  });

  it("cuts long strings, keeping whole escapes, and gives their length", () => {
    const long = "x".repeat(770_000);
    expect(quoteInput(long)).toBe(`"${"x".repeat(QUOTE_LIMIT)}…" (770000 characters)`);
    // The start of an ELF file: escapes count towards the limit and are never cut in half.
    const elf = "\u007fELF\u0002\u0001\u0001" + "\u0000".repeat(1700);
    const quoted = quoteInput(elf);
    expect(quoted.length).toBeLessThan(QUOTE_LIMIT + 30);
    expect(quoted).toMatch(/^"\\u007fELF\\u0002\\u0001\\u0001(\\u0000)+…" \(1707 characters\)$/);
  });

  it("describes non-strings by kind, never [object Object]", () => {
    expect(quoteInput(1e308)).toBe("1e+308");
    expect(quoteInput(-2.5)).toBe("-2.5");
    expect(quoteInput(Number.NaN)).toBe("NaN");
    expect(quoteInput(null)).toBe("null");
    expect(quoteInput(undefined)).toBe("undefined");
    expect(quoteInput(true)).toBe("true");
    expect(quoteInput(10n)).toBe("10n");
    // Small structures as JSON, big ones by kind and size.
    expect(quoteInput([1, 2, 3])).toBe("[1,2,3]");
    expect(quoteInput({ a: 1 })).toBe('{"a":1}');
    expect(quoteInput(Array(1000).fill(0))).toBe("an array of 1000 items");
    expect(quoteInput(["x".repeat(100)])).toBe("an array of 1 item");
    expect(quoteInput({})).toBe("{}");
    const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, i]));
    expect(quoteInput(big)).toBe('an object with keys "key0", "key1", "key2", "key3", … (40 keys)');
    expect(quoteInput({ a: "x".repeat(100) })).toBe('an object with key "a"');
    // Not JSON at all: described.
    expect(quoteInput({ a: 1n })).toBe('an object with key "a"');
    expect(quoteInput(new Uint8Array(3))).toBe("a Uint8Array of 3 bytes");
    expect(quoteInput(() => 1)).toBe("a function");
  });

  it("is always short and never [object Object] (property)", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const quoted = quoteInput(value);
        expect(quoted).not.toContain("[object");
        expect(quoted.length).toBeLessThan(200);
      }),
    );
  });
});
