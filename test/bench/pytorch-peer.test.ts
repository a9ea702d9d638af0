import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The PyTorch peer script (bench/peers/pytorch.py) must make OpenMP's threads wait passively before torch loads:
// spinning, they held the cores Debian's OpenBLAS threads needed, and PyTorch's two-thread step ran 3–4× slower
// than its one-thread step. A stand-in `torch` module on PYTHONPATH refuses to load without the setting, so the
// test needs python3 but not PyTorch.

const SCRIPT = fileURLToPath(new URL("../../bench/peers/pytorch.py", import.meta.url));
const python = spawnSync("python3", ["--version"]).status === 0 ? "python3" : null;

const FAKE_TORCH = `import os
if os.environ.get("OMP_WAIT_POLICY") is None:
    raise ImportError("OMP_WAIT_POLICY was not set before torch loaded")
__version__ = "0.0-stand-in"
def get_num_threads():
    return 1
class _Config:
    @staticmethod
    def show():
        return "BLAS_INFO=stand-in"
__config__ = _Config()
`;

describe.skipIf(python === null)("the PyTorch peer script", () => {
  const directory = mkdtempSync(join(tmpdir(), "chainrule-torch-"));
  writeFileSync(join(directory, "torch.py"), FAKE_TORCH);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const info = (policy: string | undefined): Record<string, unknown> => {
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: directory };
    delete env.OMP_WAIT_POLICY;
    if (policy !== undefined) env.OMP_WAIT_POLICY = policy;
    const result = spawnSync(python!, [SCRIPT, "info"], { env, encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    return JSON.parse(result.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  };

  it("makes OpenMP's threads wait passively before torch loads, and reports it", () => {
    const details = info(undefined);
    expect(details.error).toBeUndefined();
    expect(details.torch).toBe("0.0-stand-in");
    expect(details.ompWaitPolicy).toBe("PASSIVE");
  });

  it("keeps a policy the environment sets", () => {
    expect(info("ACTIVE").ompWaitPolicy).toBe("ACTIVE");
  });
});
