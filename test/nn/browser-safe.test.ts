import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const folder = join(dirname(fileURLToPath(import.meta.url)), "../../src/nn");
const files = readdirSync(folder).filter((f) => f.endsWith(".ts"));

describe("chainrule/nn runs in a browser", () => {
  it("no file imports a Node module at load time (the *-node.ts files import them inside their functions)", () => {
    expect(files).toContain("safetensors-node.ts");
    for (const name of files) {
      const source = readFileSync(join(folder, name), "utf8");
      expect(source, name).not.toMatch(/^\s*import[^;]*from\s+["'](node:|fs|path|os)["']/m);
      expect(source, name).not.toMatch(/\brequire\(/);
      if (!name.endsWith("-node.ts")) expect(source, name).not.toMatch(/["']node:/);
    }
  });
});
