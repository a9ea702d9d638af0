/**
 * The package as a user gets it: packs the tarball (`npm pack`, which builds dist/), installs it into a fresh
 * project in a temporary folder without the network where it can (`npm install --offline`: its one dependency
 * comes from the npm cache that `npm ci` filled; when that cache lacks the dependency's registry metadata, with
 * `--prefer-offline`), and there
 *
 * - type-checks (strict, `"moduleResolution": "nodenext"`) and runs the README's first TypeScript example;
 * - runs `npx chainrule grad …` as the README shows it;
 * - imports every entry point in Node and checks what each offers (the Node versions add file I/O);
 * - type-checks an import of every entry point, under nodenext (Node's types) and under bundler resolution
 *   (the browser's types);
 * - bundles `chainrule`, `chainrule/nn` and `chainrule/ner` from the installed package for the browser with
 *   esbuild (which must resolve them to the browser-safe files, with no Node import) and runs the lecture's
 *   example from the bundle.
 *
 * Run with `npm run test:package` (CI runs it; it takes longer than the unit tests should). Exits 1 on failure.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createContext, runInContext } from "node:vm";
import { build } from "esbuild";
import ts from "typescript";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "chainrule-package-"));
const project = join(work, "project");
let failures = 0;

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function check(what: string, condition: boolean, detail = ""): void {
  console.log(`${condition ? "ok  " : "FAIL"} ${what}${condition || detail === "" ? "" : `\n${detail}`}`);
  if (!condition) failures++;
}

/** Type-checks files of the project, strict; returns the diagnostics as text ("" when clean). */
function typeCheck(files: string[], moduleResolution: "nodenext" | "bundler"): string {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: moduleResolution === "nodenext" ? ts.ModuleKind.NodeNext : ts.ModuleKind.ESNext,
    moduleResolution:
      moduleResolution === "nodenext" ? ts.ModuleResolutionKind.NodeNext : ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules/@types")],
  };
  const program = ts.createProgram(files, options);
  return ts.formatDiagnostics(ts.getPreEmitDiagnostics(program), {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => project,
    getNewLine: () => "\n",
  });
}

try {
  // 1. Pack (prepare builds dist/) and install into a fresh project, offline.
  // A file left in dist/ by an earlier build (of a source since deleted) must not be shipped: the build
  // empties dist/ first.
  const stale = "dist/stale-output-of-a-deleted-source.js";
  mkdirSync(join(ROOT, "dist"), { recursive: true });
  writeFileSync(join(ROOT, stale), "export {};\n");
  // The build scripts (prepare, prepack) print to the same output before npm's JSON report.
  const packOutput = run("npm", ["pack", "--json", "--pack-destination", work], ROOT);
  const packed = JSON.parse(packOutput.slice(packOutput.search(/^\[\s*$/m))) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = join(work, packed[0]!.filename);
  const shipped = new Set(packed[0]!.files.map((f) => f.path));
  for (const file of [
    "README.md",
    "LICENSE",
    "docs/ner.md",
    "dist/index.js",
    "dist/node.js",
    "src/index.ts",
  ]) {
    check(`the tarball holds ${file}`, shipped.has(file));
  }
  check("the build emptied dist/ first: no stale file is shipped", !shipped.has(stale));
  rmSync(join(ROOT, stale), { force: true });
  check("the tarball holds no test or benchmark", ![...shipped].some((f) => /^(test|bench)\//.test(f)));
  run("mkdir", ["-p", project], work);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "uses-chainrule", private: true, type: "module" }, null, 2),
  );
  try {
    run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], project);
  } catch (error) {
    // `npm ci` installs from the lockfile's tarballs and may leave the cache without the dependency's registry
    // metadata, which resolving a range needs: then the registry is asked once (a machine with no cache and no
    // network cannot install the package at all).
    if (!/ENOTCACHED/.test(String((error as { stderr?: unknown }).stderr ?? error))) throw error;
    console.log("note the npm cache lacks a dependency's metadata: installing with --prefer-offline");
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], project);
  }
  const installed = join(project, "node_modules", "chainrule");

  // 2. The README's first TypeScript example, as written, type-checked and run.
  const readme = readFileSync(join(installed, "README.md"), "utf8");
  const example = /^```ts\n([\s\S]*?)^```$/m.exec(readme)![1]!;
  writeFileSync(join(project, "readme-example.ts"), example);
  const readmeProblems = typeCheck([join(project, "readme-example.ts")], "nodenext");
  check("the README's first example type-checks (strict, nodenext)", readmeProblems === "", readmeProblems);
  writeFileSync(
    join(project, "readme-example.mjs"),
    ts.transpileModule(example, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText + "\nconsole.log(JSON.stringify([x.grad.item(), y.grad.item(), z.grad.item()]));\n",
  );
  const grads = run("node", ["readme-example.mjs"], project).trim();
  check("the README's first example runs: ∂f/∂x, ∂f/∂y, ∂f/∂z = 2, 5, 0", grads === "[2,5,0]", grads);

  // 3. The command-line tool through npx.
  const cli = run(
    "npx",
    ["--offline", "chainrule", "grad", "(x + y) * max(y, z)", "--at", "x=1,y=2,z=0"],
    project,
  );
  check(
    "npx chainrule grad prints the lecture's gradients",
    cli.includes("∂f/∂x = 2, ∂f/∂y = 5, ∂f/∂z = 0"),
    cli,
  );

  // 4. Every entry point imported in Node.
  const probe = `
    const main = await import("chainrule"), node = await import("chainrule/node");
    const nn = await import("chainrule/nn"), nnNode = await import("chainrule/nn/node");
    const ner = await import("chainrule/ner"), nerNode = await import("chainrule/ner/node");
    console.log(JSON.stringify({
      main: [typeof main.tensor, typeof main.nn.save, typeof main.NerTagger.load, typeof main.ner.readConllFile],
      node: [typeof node.tensor, typeof node.nn.load],
      nn: [typeof nn.Linear, typeof nn.save, typeof nnNode.load],
      ner: [typeof ner.parseConll, typeof ner.NerTagger.load, typeof nerNode.readEmbeddingsFile],
    }));`;
  const imported = JSON.parse(run("node", ["--input-type=module", "-e", probe], project)) as Record<
    string,
    string[]
  >;
  check(
    "every entry point imports in Node, with the file functions",
    Object.values(imported).every((types) => types.every((t) => t === "function")),
    JSON.stringify(imported),
  );
  let requireError = "";
  try {
    run("node", ["-e", 'require("chainrule")'], project);
  } catch (error) {
    requireError = String((error as { stderr?: string }).stderr);
  }
  check(
    "require() is refused (ESM only), as the README says",
    requireError.includes("ERR_PACKAGE_PATH_NOT_EXPORTED"),
  );

  // 5. Types: Node's under nodenext, the browser's under bundler resolution.
  writeFileSync(
    join(project, "types-node.ts"),
    [
      'import { nn, NerTagger, tensor } from "chainrule";',
      'import { save } from "chainrule/nn";',
      'import { readConllFile, NerTagger as Tagger } from "chainrule/ner";',
      'import * as node from "chainrule/node";',
      'import * as nnNode from "chainrule/nn/node";',
      'import * as nerNode from "chainrule/ner/node";',
      "export const used = [nn.save, nn.load, NerTagger.load, tensor(1), save, readConllFile, Tagger.load,",
      "  node.nn.save, nnNode.load, nerNode.readEmbeddingsFile];",
    ].join("\n"),
  );
  writeFileSync(
    join(project, "types-browser.ts"),
    [
      'import { nn, NerTagger, tensor } from "chainrule";',
      'import { parse, serialize } from "chainrule/nn";',
      'import { parseConll } from "chainrule/ner";',
      "export const used = [nn.parse, NerTagger.fromBytes, tensor(1), parse, serialize, parseConll];",
      "// @ts-expect-error: the browser's nn has no file functions",
      "nn.save;",
    ].join("\n"),
  );
  const nodeTypes = typeCheck([join(project, "types-node.ts")], "nodenext");
  check("every entry point type-checks under nodenext with the Node types", nodeTypes === "", nodeTypes);
  const browserTypes = typeCheck([join(project, "types-browser.ts")], "bundler");
  check("under bundler resolution the types are the browser's", browserTypes === "", browserTypes);

  // 6. The browser bundles, from the installed package.
  for (const [entry, probeCode] of [
    ["chainrule", 'import { tensor, maximum } from "chainrule"; export { tensor, maximum };'],
    ["chainrule/nn", 'export { Linear, serialize, parse } from "chainrule/nn";'],
    ["chainrule/ner", 'export { parseConll, NerTagger } from "chainrule/ner";'],
  ] as const) {
    let code = "";
    let error = "";
    try {
      const result = await build({
        stdin: { contents: probeCode, resolveDir: project, loader: "js" },
        bundle: true,
        platform: "browser",
        format: "iife",
        globalName: "bundle",
        write: false,
        logLevel: "silent",
      });
      code = result.outputFiles[0]!.text;
    } catch (failure) {
      error = String(failure);
    }
    check(
      `${entry} bundles for the browser from the package`,
      error === "" && !/["']node:/.test(code),
      error,
    );
    if (entry === "chainrule" && code !== "") {
      const context = createContext({ TextEncoder, TextDecoder, console });
      runInContext(code, context);
      const result = runInContext(
        `(() => { const { tensor, maximum } = bundle;
           const x = tensor(1, { requiresGrad: true }), y = tensor(2, { requiresGrad: true }), z = tensor(0, { requiresGrad: true });
           x.add(y).mul(maximum(y, z)).backward();
           return [x.grad.item(), y.grad.item(), z.grad.item()].join(","); })()`,
        context,
      ) as string;
      check("the lecture's example runs from the browser bundle", result === "2,5,0", result);
    }
  }
} catch (error) {
  failures++;
  const { stdout, stderr } = error as { stdout?: string; stderr?: string };
  console.log(`FAIL ${String(error)}\n${stdout ?? ""}${stderr ?? ""}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(failures === 0 ? "package: all checks passed" : `package: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
