#!/usr/bin/env node
/**
 * The command-line tool's entry point (the `chainrule` binary). It makes the process-wide settings that must
 * precede the loading of the library, then loads the tool (`program.ts`) with a dynamic import and runs it.
 *
 * For the `ner` commands, which read and train on corpora, V8's young generation is kept small (see
 * `keepYoungGenerationSmall`). Set after the library's modules load, it came too late: loading them alone had
 * grown the young generation to 4 MB a semi-space, and `ner train` on CoNLL-2003 peaked 10 MB higher.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { keepYoungGenerationSmall } from "./commands/ner/memory.js";

/** Runs the CLI on `argv` and resolves to the exit status (see `program.ts`). */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = await import("./program.js");
  return program.main(argv);
}

/** True when this file is the process's entry point (also through npm's bin symlink). */
function invokedDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  if (process.argv[2] === "ner") keepYoungGenerationSmall();
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `chainrule: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
