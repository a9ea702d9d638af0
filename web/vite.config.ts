/**
 * The playground's build: a static site in web/dist that works offline from any static file server (every
 * asset, the shipped Wikigold data and GloVe table included, is bundled with a relative path).
 *
 *   npm run web         development server
 *   npm run build:web   production build, then the size of the initial JavaScript (gzipped)
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const repository = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  publicDir: false,
  server: { fs: { allow: [repository] }, host: "127.0.0.1" },
  preview: { host: "127.0.0.1" },
  worker: { format: "es" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The GloVe table and the data files are fetched, never inlined.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
});
