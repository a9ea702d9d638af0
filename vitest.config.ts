import { defineConfig } from "vitest/config";

// Three projects: every test on the default backend ("wasm" in Node), and the core suite once more on each
// backend explicitly: the JavaScript reference kernels, and the WebAssembly kernels for every size (the default
// thresholds send small tensors, most of the core suite's, to the JavaScript kernels).
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
