import { describe, expect, it } from "vitest";
import { KERNELS_WASM_BASE64 } from "../../src/backend/wasm/kernels.generated.js";
import { compileKernels, readGeneratedBinary } from "../../scripts/build-wasm.js";

// The WebAssembly binary is committed as a generated TypeScript module (so nothing needs the compiler to install,
// build, test or run chainrule). These tests keep it honest: it must be exactly what assembly/ compiles to today.

const compilerAvailable = await import("assemblyscript/asc").then(
  () => true,
  () => false,
);

describe("src/backend/wasm/kernels.generated.ts", () => {
  it("holds a valid WebAssembly module with SIMD that owns its memory and imports nothing", () => {
    const bytes = new Uint8Array(Buffer.from(KERNELS_WASM_BASE64, "base64"));
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x00, 0x61, 0x73, 0x6d]); // "\0asm"
    expect(WebAssembly.validate(bytes)).toBe(true);
    const module = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const exported = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const name of [
      "memory",
      "heapBase",
      "matmulPackF32",
      "matmulRowsF64",
      "unaryF32",
      "binaryF64",
      "sumAxisF32",
    ])
      expect(exported).toContain(name);
  });

  it.skipIf(!compilerAvailable)(
    "matches a fresh compile of assembly/ (run `npm run build:wasm` if this fails)",
    async () => {
      const fresh = await compileKernels();
      const committed = await readGeneratedBinary();
      expect(committed.length).toBe(fresh.length);
      expect(Buffer.compare(Buffer.from(committed), Buffer.from(fresh))).toBe(0);
    },
    120_000,
  );
});
