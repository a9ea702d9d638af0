/**
 * `chainrule playground [--port N] [--host H]`: serves the built web playground (web/dist, shipped in the
 * package) on 127.0.0.1 and prints its address. It binds another interface only when asked with `--host`.
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

async function handle(root: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
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
  const file = normalize(join(root, path));
  if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) {
    response.writeHead(403).end("forbidden");
    return;
  }
  try {
    const info = await stat(file);
    if (!info.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
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
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 5175;
  const server = createServer((request, response) => {
    handle(root, request, response).catch(() => {
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
