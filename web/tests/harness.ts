/**
 * What the browser suites share: the production build served by `chainrule playground` on a free port, where
 * their screenshots go, and the rule for a missing browser (skipped with a message that names the package,
 * unless CHAINRULE_E2E=required, as in .ci/run, where it fails).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "vitest";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const ARTIFACTS = resolve(
  process.env.CHAINRULE_E2E_ARTIFACTS ?? join(ROOT, "web", "tests", "artifacts"),
);
export const SITE = join(ROOT, "web", "dist", "index.html");
export const LECTURE_SENTENCE = "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.";
const REQUIRED = process.env.CHAINRULE_E2E === "required";

/**
 * Whether the suite for `browser` (found at `executable`, installed by `apt-get install -y <debianPackage>`)
 * runs. A missing browser is reported on stderr, or, when CHAINRULE_E2E=required, as a failing test.
 */
export function browserAvailable(browser: string, executable: string, debianPackage: string): boolean {
  const available = existsSync(executable);
  if (!available && !REQUIRED) {
    process.stderr.write(
      `playground ${browser} tests skipped: ${executable} is missing (apt-get install -y ${debianPackage}; ` +
        "CHAINRULE_E2E=required makes a missing browser a failure)\n",
    );
  }
  describe.runIf(REQUIRED && !available)(`the playground's ${browser} tests`, () => {
    it(`need ${browser}`, () => {
      throw new Error(
        `CHAINRULE_E2E=required but ${executable} is missing: apt-get install -y ${debianPackage}`,
      );
    });
  });
  return available;
}

/** A running `chainrule playground` and its address. */
export interface PlaygroundServer {
  url: string;
  close(): void;
}

/** Serves web/dist with `chainrule playground --port 0` (the built site must exist) and waits for its address. */
export async function startPlayground(): Promise<PlaygroundServer> {
  if (!existsSync(SITE)) throw new Error(`${SITE} is missing: run npm run build:web first`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const server: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "playground", "--port", "0"],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  server.stderr!.on("data", (d) => (stderr += String(d)));
  const url = await new Promise<string>((resolvePromise, reject) => {
    let out = "";
    server.stdout!.on("data", (d) => {
      out += String(d);
      const match = /chainrule playground: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (match) resolvePromise(match[1]!);
    });
    server.on("exit", (code) => reject(new Error(`chainrule playground exited with ${code}: ${stderr}`)));
  });
  return { url, close: () => server.kill("SIGTERM") };
}
