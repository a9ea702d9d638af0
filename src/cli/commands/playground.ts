/**
 * `chainrule playground [--port N] [--host H]`: serves the built web playground (web/dist, shipped in the
 * package) on 127.0.0.1 and prints its address. It binds another interface only when asked with `--host`.
 *
 * The NER tab fetches the shipped data (data/wikigold, data/glove) from `data/` beside the page. The package
 * ships that data once, in its data/ directory: this server answers `/data/…` from there whenever the built
 * site has no copy of its own (a standalone build, `npm run build:web:static`, carries one).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ValueError } from "../../errors.js";

/** The built site, found relative to this file: `dist/cli/commands` or `src/cli/commands` → `web/dist`. */
export function playgroundDirectory(): string {
  return fileURLToPath(new URL("../../../web/dist/", import.meta.url));
}

/** The package's shipped data (served under `/data/`), found relative to this file like the site. */
export function playgroundDataDirectory(): string {
  return fileURLToPath(new URL("../../../data/", import.meta.url));
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wasm": "application/wasm",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".ttf": "font/ttf",
  ".txt": "text/plain; charset=utf-8",
  ".conll": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** The file a URL path names under `root`, or null when it would leave `root`. */
function within(root: string, path: string): string | null {
  const file = normalize(join(root, path));
  return file === root || file.startsWith(root + sep) ? file : null;
}

/** Whether `file` is a regular file. */
async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function handle(
  root: string,
  data: string | null,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
  } catch {
    response.writeHead(400).end("bad request");
    return;
  }
  if (path.includes("\0")) {
    response.writeHead(400).end("bad request");
    return;
  }
  if (path.endsWith("/")) path += "index.html";
  let file = within(root, path);
  if (file === null) {
    response.writeHead(403).end("forbidden");
    return;
  }
  // The shipped data, from the package's data/ unless the site carries its own copy.
  if (data !== null && path.startsWith("/data/") && !(await isFile(file))) {
    file = within(data, path.slice("/data".length));
    if (file === null) {
      response.writeHead(403).end("forbidden");
      return;
    }
  }
  try {
    if (!(await isFile(file))) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
    const body = await readFile(file);
    response.writeHead(200, {
      "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      "content-length": body.length,
      "cache-control": path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  } catch {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found");
  }
}

export interface PlaygroundServerOptions {
  /** Port to listen on (0: any free port). Default 5175. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** The built site (default: the package's web/dist). */
  directory?: string;
  /**
   * The data served under `/data/` when the site has no copy (default: the package's data/; null: none).
   */
  dataDirectory?: string | null;
}

/** Starts the static server and resolves with it and its address once it listens. */
export async function servePlayground(
  options: PlaygroundServerOptions = {},
): Promise<{ server: Server; url: string }> {
  const directory = normalize(options.directory ?? playgroundDirectory());
  const root = directory.endsWith(sep) ? directory.slice(0, -1) : directory;
  try {
    await stat(join(root, "index.html"));
  } catch {
    throw new ValueError(
      `playground: the built site is missing (${join(root, "index.html")}); run \`npm run build:web\` in the chainrule repository`,
    );
  }
  const dataOption = options.dataDirectory === undefined ? playgroundDataDirectory() : options.dataDirectory;
  const data = dataOption === null ? null : normalize(dataOption).replace(/[\\/]+$/, "");
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 5175;
  const server = createServer((request, response) => {
    handle(root, data, request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address !== null ? address.port : port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return { server, url: `http://${shownHost}:${actualPort}/` };
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ValueError(`--port: expected a port number from 0 to 65535, got '${text}'`);
  }
  return port;
}

export function register(program: Command): void {
  program
    .command("playground")
    .description(
      "serve the web playground (backprop step by step, derivations by hand, the window NER classifier) " +
        "on 127.0.0.1 and print its address",
    )
    .option("--port <n>", "port to listen on (0 picks a free one)", "5175")
    .option(
      "--host <address>",
      "interface to bind instead of 127.0.0.1 (e.g. 0.0.0.0 to share it on your network)",
    )
    .action(async (options: { port: string; host?: string }) => {
      const port = parsePort(options.port);
      let started;
      try {
        started = await servePlayground({
          port,
          ...(options.host !== undefined ? { host: options.host } : {}),
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE")
          throw new ValueError(`playground: port ${port} is in use; choose another with --port`);
        if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
          throw new ValueError(`playground: cannot bind ${options.host}: no such interface on this machine`);
        }
        throw error;
      }
      process.stdout.write(`chainrule playground: ${started.url}\n(press Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          started.server.close(() => resolve());
          started.server.closeAllConnections();
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
