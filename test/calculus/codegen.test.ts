/**
 * `derivation.code` is TypeScript that runs: it is transpiled with the installed TypeScript compiler, run
 * against chainrule itself, and must give the numbers `derivation.evaluate` gives.
 */
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import * as chainrule from "../../src/index.js";
import { derive, checkDerivation, type Tensor } from "../../src/index.js";
import { expectClose } from "../helpers.js";

type Compute = (inputs: Record<string, Tensor>) => { value: Tensor; gradients: Record<string, Tensor> };

/** Transpiles the generated module to CommonJS and runs it with `chainrule` resolved to the library. */
function load(code: string): Compute {
  const output = ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, strict: true },
    reportDiagnostics: true,
  });
  expect(output.diagnostics ?? []).toEqual([]);
  const exports: Record<string, unknown> = {};
  const require = (name: string): unknown => {
    if (name !== "chainrule") throw new Error(`unexpected import ${name}`);
    return chainrule;
  };
  new Function("require", "exports", output.outputText)(require, exports);
  return exports.compute as Compute;
}

const cases: {
  expression: string;
  wrt: string[];
  shapes: Record<string, string>;
  order?: 1 | 2;
  helpers: string[];
}[] = [
  {
    expression: "u' * tanh(W*x + b)",
    wrt: ["u", "W", "b", "x"],
    shapes: { W: "n×m", x: "m", b: "n", u: "n" },
    helpers: ["outer"],
  },
  {
    expression: "sigmoid(u' * relu(W*x + b))",
    wrt: ["W", "b", "u"],
    shapes: { W: "n×m", x: "m", b: "n", u: "n" },
    helpers: ["indicator"],
  },
  {
    expression: "tr(inv(X)*A) + logdet(X) + det(X)",
    wrt: ["X"],
    shapes: { X: "n×n", A: "n×n" },
    helpers: [],
  },
  {
    expression: "norm2(A*x - b)^2 + norm2(x)",
    wrt: ["x", "A"],
    shapes: { A: "n×m", x: "m", b: "n" },
    helpers: ["norm2"],
  },
  {
    expression: "a'*diag(x)*b + tr(diag(x)*A) + sum(diag(A))",
    wrt: ["x", "A"],
    shapes: { A: "n×n", x: "n", a: "n", b: "n" },
    helpers: ["diagonal"],
  },
  { expression: "softmax(W*x)", wrt: ["x"], shapes: { W: "n×m", x: "m" }, helpers: ["diagMatrix"] },
  { expression: "lse(x) + sum(x .^ 3)", wrt: ["x"], shapes: { x: "n" }, order: 2, helpers: ["diagMatrix"] },
  {
    expression: "tr(X'*A*X) + sum(v + c)",
    wrt: ["X", "c"],
    shapes: { X: "n×n", A: "n×n", v: "n", c: "scalar" },
    helpers: [],
  },
  // y cancels, but its length m is still the result's length: y stays an input that fixes m.
  { expression: "a./y.*y", wrt: ["a"], shapes: { a: "scalar", y: "m" }, helpers: [] },
];

describe("generated code", () => {
  it.each(cases.map((c) => [c.expression, c] as const))("%s: compiles, runs and agrees", (_, c) => {
    const d = derive(c.expression, { wrt: c.wrt, shapes: c.shapes, order: c.order });
    expect(d.code).toContain(`import * as cr from "chainrule";`);
    for (const helper of c.helpers) expect(d.code).toContain(`function ${helper}(`);
    const compute = load(d.code);
    const { values } = checkDerivation(d, { seed: 5 });
    const expected = d.evaluate(values);
    const actual = compute(values);
    expectClose(actual.value, expected.value, 1e-12);
    expect(Object.keys(actual.gradients)).toEqual(c.wrt);
    for (const w of c.wrt) expectClose(actual.gradients[w]!, expected.gradients[w]!, 1e-12);
  });

  it("computes δ once and reads like the derivation", () => {
    const d = derive("u' * tanh(W*x + b)", {
      wrt: ["u", "W", "b", "x"],
      shapes: { W: "n×m", x: "m", b: "n", u: "n" },
      name: "s",
    });
    expect(d.code).toContain(
      [
        "  // z = Wx + b",
        "  const z = cr.add(cr.matmul(W, x), b);",
        "  const tanh_z = cr.tanh(z);",
        "  // δ = u ∘ (1 − tanh²(z))",
        "  const delta = cr.mul(u, cr.sub(1, cr.square(tanh_z)));",
        "  // s = uᵀ tanh(z)",
        "  const value = cr.matmul(u, tanh_z);",
      ].join("\n"),
    );
    // Wᵀδ uses the matmul kernel's transpose flag rather than a transposed copy.
    expect(d.code).toContain(
      "gradients: { u: tanh_z, W: outer(delta, x), b: delta, x: cr.matmul(W, delta, { transposeA: true }) }",
    );
    expect(d.code.match(/const delta =/g)).toHaveLength(1);
  });

  it("keeps variable names that are JavaScript words or helper names usable", () => {
    const d = derive("sum(outer .* new) + tr(diag(in))", {
      wrt: ["outer", "new", "in"],
      shapes: { outer: "n", new: "n", in: "n" },
    });
    const compute = load(d.code);
    const { values } = checkDerivation(d, { seed: 2 });
    const expected = d.evaluate(values);
    const actual = compute(values);
    for (const w of ["outer", "new", "in"]) expectClose(actual.gradients[w]!, expected.gradients[w]!, 1e-12);
  });
});

describe("generated code type-checks", () => {
  it("against chainrule's declarations under strict TypeScript", () => {
    const library = path.resolve(fileURLToPath(new URL("../../src/index.js", import.meta.url)));
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "chainrule-codegen-"));
    try {
      const files = cases.map((c, i) => {
        const d = derive(c.expression, { wrt: c.wrt, shapes: c.shapes, order: c.order });
        const file = path.join(directory, `generated${i}.ts`);
        fs.writeFileSync(file, d.code.replaceAll('"chainrule"', JSON.stringify(library)));
        return file;
      });
      const program = ts.createProgram(files, {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
        types: [],
        skipLibCheck: true,
        noUnusedLocals: true,
      });
      // Only the generated files are checked (the library's own bodies are checked by tsc on the project).
      const diagnostics = files
        .map((file) => program.getSourceFile(file)!)
        .flatMap((source) => [
          ...program.getSyntacticDiagnostics(source),
          ...program.getSemanticDiagnostics(source),
        ])
        .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
      expect(diagnostics).toEqual([]);
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });
});
