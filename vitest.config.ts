import { defineConfig } from "vitest/config";

// Every test on the default backend ("wasm" in Node), and the core suite once more on each backend explicitly: the
// JavaScript reference kernels, and the WebAssembly kernels for every size (the default thresholds send small
// tensors, most of the core suite's, to the JavaScript kernels); the playground in browsers; and the matrix
// product tests on the plain SIMD build (the default is the relaxed one where the engine has it).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: "default", include: ["test/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "core-js",
          include: ["test/core/**/*.test.ts"],
          setupFiles: ["test/backend/setup-js.ts"],
        },
      },
      {
        // The web playground in Chromium and Firefox (web/tests; each skipped with a message where it is missing).
        extends: true,
        test: { name: "e2e", include: ["web/tests/**/*.test.ts"] },
      },
      {
        // The products on the plain SIMD build too (its float32 tile has 5 rows; the relaxed build's, 6).
        extends: true,
        test: {
          name: "plain-simd",
          include: [
            "test/backend/matmul-reference.test.ts",
            "test/backend/matmul-epilogue.test.ts",
            "test/backend/threads.test.ts",
          ],
          env: { CHAINRULE_RELAXED_SIMD: "0" },
          setupFiles: ["test/backend/setup-plain-simd.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "core-wasm-every-size",
          include: ["test/core/**/*.test.ts"],
          setupFiles: ["test/backend/setup-wasm-every-size.ts"],
        },
      },
    ],
  },
});
