import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const folder = join(dirname(fileURLToPath(import.meta.url)), "../../src/nn");
const files = readdirSync(folder).filter((f) => f.endsWith(".ts"));
const nodeOnly = (name: string): boolean => name.endsWith("-node.ts") || name === "node.ts";

describe("chainrule/nn runs in a browser", () => {
  it("only the Node-only files (*-node.ts, node.ts) import Node modules or the Node-only files", () => {
    expect(files).toContain("safetensors-node.ts");
    for (const name of files) {
      const source = readFileSync(join(folder, name), "utf8");
      expect(source, name).not.toMatch(/\brequire\(/);
      if (nodeOnly(name)) continue;
      expect(source, name).not.toMatch(/["']node:/);
      expect(source, name).not.toMatch(/from\s+["'][^"']*(-node|\/node)\.js["']/);
    }
  });
});
