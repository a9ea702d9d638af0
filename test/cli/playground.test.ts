import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  playgroundDataDirectory,
  playgroundDirectory,
  servePlayground,
} from "../../src/cli/commands/playground.js";
import { run } from "../calculus/run-cli.js";

/** A raw GET (no URL normalisation on the client side, so that `..` reaches the server as sent). */
function get(url: string, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (d) => (body += String(d)));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("chainrule playground", () => {
  let site: string;
  let server: Awaited<ReturnType<typeof servePlayground>>;

  beforeAll(async () => {
    const base = mkdtempSync(join(tmpdir(), "chainrule-playground-"));
    site = join(base, "site");
    mkdirSync(join(site, "assets"), { recursive: true });
    writeFileSync(join(site, "index.html"), "<!doctype html><title>playground</title>");
    writeFileSync(join(site, "assets", "app.js"), "export {};");
    writeFileSync(join(base, "secret.txt"), "outside the site");
    // The shipped data lives beside the site, not in it.
    mkdirSync(join(base, "data", "wikigold"), { recursive: true });
    writeFileSync(join(base, "data", "wikigold", "train.conll"), "Paris I-LOC\n");
    server = await servePlayground({ port: 0, directory: site, dataDirectory: join(base, "data") });
  });

  afterAll(async () => {
    await new Promise((resolve) => server.server.close(resolve));
    rmSync(join(site, ".."), { recursive: true, force: true });
  });

  it("binds 127.0.0.1 unless told otherwise, and gives its address", () => {
    const address = server.server.address();
    expect(typeof address === "object" && address?.address).toBe("127.0.0.1");
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("serves the site's files with their types", async () => {
    const index = await get(server.url, "/");
    expect(index.status).toBe(200);
    expect(index.type).toBe("text/html; charset=utf-8");
    expect(index.body).toContain("<title>playground</title>");
    const script = await get(server.url, "/assets/app.js");
    expect(script.type).toBe("text/javascript; charset=utf-8");
    expect((await get(server.url, "/missing.js")).status).toBe(404);
  });

  it("never serves a file outside the site", async () => {
    for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/%00"]) {
      const response = await get(server.url, path);
      expect(response.status, path).not.toBe(200);
      expect(response.body).not.toContain("outside the site");
    }
  });

  it("serves the shipped data under /data/ from the data directory, and nothing beside it", async () => {
    const train = await get(server.url, "/data/wikigold/train.conll");
    expect(train.status).toBe(200);
    expect(train.type).toBe("text/plain; charset=utf-8");
    expect(train.body).toBe("Paris I-LOC\n");
    expect((await get(server.url, "/data/wikigold/dev.conll")).status).toBe(404);
    for (const path of [
      "/data/../secret.txt",
      "/data/%2e%2e/secret.txt",
      "/data/wikigold/..%2f..%2fsecret.txt",
    ]) {
      const response = await get(server.url, path);
      expect(response.status, path).not.toBe(200);
      expect(response.body).not.toContain("outside the site");
    }
  });

  it("prefers the site's own copy of the data (a standalone build)", async () => {
    mkdirSync(join(site, "data", "wikigold"), { recursive: true });
    writeFileSync(join(site, "data", "wikigold", "train.conll"), "London I-LOC\n");
    try {
      expect((await get(server.url, "/data/wikigold/train.conll")).body).toBe("London I-LOC\n");
    } finally {
      rmSync(join(site, "data"), { recursive: true, force: true });
    }
  });

  it("finds the built site and the shipped data relative to the package", () => {
    expect(playgroundDirectory().replace(/\\/g, "/")).toMatch(/\/web\/dist\/$/);
    expect(playgroundDataDirectory().replace(/\\/g, "/")).toMatch(/\/data\/$/);
    expect(existsSync(join(playgroundDataDirectory(), "wikigold", "train.conll"))).toBe(true);
  });

  it("refuses a bad port and a missing site with one clear line", async () => {
    const bad = await run("playground", "--port", "70000");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("chainrule: --port: expected a port number from 0 to 65535, got '70000'\n");
    await expect(servePlayground({ port: 0, directory: join(site, "nowhere") })).rejects.toThrow(
      /the built site is missing .*npm run build:web/,
    );
  });
});
