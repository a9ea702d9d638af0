import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The dependency check of `npm run lint` (.dependency-cruiser.cjs), run on a copy of src/ as it is and with an
// import added against the layers or around a cycle: the check must pass on the first and fail on the others,
// naming the broken rule.

const root = join(import.meta.dirname, "..", "..");
const depcruise = join(root, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
let copy: string;

interface CheckResult {
  ok: boolean;
  output: string;
}

async function check(): Promise<CheckResult> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [depcruise, "src", "--config", ".dependency-cruiser.cjs", "--output-type", "err"],
      { cwd: copy },
    );
    return { ok: true, output: stdout };
  } catch (error) {
    const { stdout, stderr } = error as { stdout: string; stderr: string };
    return { ok: false, output: stdout + stderr };
  }
}

/** Adds `line` at the top of `file` (a path under src/) in the copy. */
async function inject(file: string, line: string): Promise<void> {
  const path = join(copy, "src", file);
  await writeFile(path, `${line}\n${await readFile(path, "utf8")}`);
}

beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), "chainrule-layers-"));
  await cp(join(root, "src"), join(copy, "src"), { recursive: true });
  for (const file of [".dependency-cruiser.cjs", "tsconfig.json", "package.json"]) {
    await cp(join(root, file), join(copy, file));
  }
});

afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

describe("the dependency check (npm run lint)", () => {
  // One cruise per state of the copy (each takes seconds): as it is, then with four faults at once.
  it("passes on src/ as it is", async () => {
    const result = await check();
    expect(result.output).toContain("no dependency violations found");
    expect(result.ok).toBe(true);
  });

  it("fails on an upward import, an upward type import, a sibling import and a cycle, naming each", async () => {
    // The tensor layer importing the ops above it.
    await inject("tensor/tensor.ts", 'import { add } from "../ops/index.js";\nvoid add;');
    // A type-only import upwards (from the graph layer to nn/).
    await inject("graph/node.ts", 'import type { Module } from "../nn/module.js";\nexport type M = Module;');
    // ner/ and calculus/ are siblings.
    await inject("ner/vocab.ts", 'import "../calculus/index.js";');
    // ops/nn.ts imports ops/elementwise.ts; the reverse import closes a circle inside one layer.
    await inject("ops/elementwise.ts", 'import "./nn.js";');
    const result = await check();
    expect(result.ok).toBe(false);
    expect(result.output).toContain("layers:tensor-not-ops: src/tensor/tensor.ts → src/ops/index.ts");
    expect(result.output).toContain("layers:graph-not-nn: src/graph/node.ts → src/nn/module.ts");
    expect(result.output).toContain("layers:ner-not-calculus: src/ner/vocab.ts → src/calculus/index.ts");
    expect(result.output).toMatch(
      /no-circular: src\/ops\/elementwise\.ts →\s+src\/ops\/nn\.ts →\s+src\/ops\/elementwise\.ts/,
    );
  });
});
