import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KERNELS_WASM_BASE64 } from "../../src/backend/wasm/kernels.generated.js";
import { KERNEL_FUNCTIONS } from "../../src/backend/wasm/runtime.js";
import { BINARY_CODES, FIRST_TRANSCENDENTAL, UNARY_CODES } from "../../src/backend/wasm/elementwise.js";

// The host side of the WebAssembly kernels (src/backend/wasm/) must agree with assembly/, the one source of the
// kernels: the operation codes the host passes, and the functions it calls.

const root = join(import.meta.dirname, "..", "..");

/** The `const NAME = n;` lines of one block of assembly/elementwise.ts, by camelCase name. */
async function codesOf(block: "Unary" | "Binary"): Promise<Record<string, number>> {
  const source = await readFile(join(root, "assembly", "elementwise.ts"), "utf8");
  const start = source.indexOf(`// ${block} operation codes`);
  expect(start, `assembly/elementwise.ts has a "// ${block} operation codes" block`).toBeGreaterThanOrEqual(
    0,
  );
  const codes: Record<string, number> = {};
  for (const line of source.slice(start).split("\n")) {
    if (line.startsWith("//")) continue; // the block's comment
    const match = /^(?:export )?const ([A-Z_]+) = (\d+);$/.exec(line);
    if (match === null) break;
    const name = match[1]!.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    codes[name] = Number(match[2]);
  }
  return codes;
}

describe("the WebAssembly kernels' interface", () => {
  it("uses the unary and binary operation codes of assembly/elementwise.ts", async () => {
    expect(UNARY_CODES).toEqual(await codesOf("Unary"));
    expect(BINARY_CODES).toEqual(await codesOf("Binary"));
  });

  it("treats exactly exp, tanh and sigmoid as transcendental (float32 only in WebAssembly)", () => {
    const transcendental = Object.entries(UNARY_CODES)
      .filter(([, code]) => code! >= FIRST_TRANSCENDENTAL)
      .map(([name]) => name);
    expect(transcendental.sort()).toEqual(["exp", "sigmoid", "tanh"]);
  });

  it("declares exactly the functions the compiled module exports", () => {
    const module = new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, "base64"));
    const functions = WebAssembly.Module.exports(module)
      .filter((entry) => entry.kind === "function")
      .map((entry) => entry.name);
    expect([...KERNEL_FUNCTIONS].sort()).toEqual(functions.sort());
  });
});
