/**
 * The playground's build: a static site in web/dist. The shipped Wikigold data and GloVe table are NOT copied
 * into it (the package ships them once, in data/): `chainrule playground` and the development server answer
 * `data/…` from the repository's data/. For a site that works offline from any static file server, the
 * standalone build copies them (with their licences) into web/dist/data.
 *
 *   npm run web               development server
 *   npm run build:web         production build, then the size of the initial JavaScript (gzipped)
 *   npm run build:web:static  the same, standalone (web/dist/data holds the data)
 */
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import { SHIPPED_DATA, SHIPPED_DATA_NOTICES } from "./src/shipped-data.js";

const repository = fileURLToPath(new URL("..", import.meta.url));
const dataDirectory = join(repository, "data");

/** Serves data/ in development; with `standalone`, copies the shipped data into the build. */
function shippedData(standalone: boolean): Plugin {
  return {
    name: "chainrule-shipped-data",
    configureServer(server) {
      server.middlewares.use("/data/", (request, response, next) => {
        const path = decodeURIComponent((request.url ?? "/").split("?")[0]!);
        const file = normalize(join(dataDirectory, path));
        if (!file.startsWith(dataDirectory + sep)) return next();
        try {
          if (!statSync(file).isFile()) return next();
        } catch {
          return next();
        }
        const type = extname(file) === ".conll" ? "text/plain; charset=utf-8" : "application/octet-stream";
        response.setHeader("content-type", type);
        createReadStream(file).pipe(response);
      });
    },
    async generateBundle() {
      if (!standalone) return;
      const { readFile } = await import("node:fs/promises");
      for (const path of [...Object.values(SHIPPED_DATA), ...SHIPPED_DATA_NOTICES]) {
        this.emitFile({
          type: "asset",
          fileName: path,
          source: await readFile(join(repository, path)),
        });
      }
    },
  };
}

export default defineConfig(({ mode }) => ({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  publicDir: false,
  server: { fs: { allow: [repository] }, host: "127.0.0.1" },
  preview: { host: "127.0.0.1" },
  worker: { format: "es" },
  plugins: [shippedData(mode === "standalone")],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The GloVe table and the KaTeX fonts are fetched, never inlined.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
}));
