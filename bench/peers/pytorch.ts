/**
 * PyTorch on the CPU as a peer: runs bench/peers/pytorch.py with Debian's python3-torch (or any python3 that
 * imports torch). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from that command's environment only, so
 * that OpenBLAS picks its kernels for this CPU itself; the script makes OpenMP's threads wait passively, so that
 * they leave the cores to OpenBLAS's own threads (see pytorch.py).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./pytorch.py", import.meta.url));

export interface PytorchPeer {
  python: string;
  version: string;
  /** The BLAS library PyTorch calls (from threadpoolctl), e.g. "openblas 0.3.21 (Zen)". */
  blas: string;
  /** OMP_WAIT_POLICY in the peer's process (pytorch.py sets PASSIVE unless the environment has a value). */
  ompWaitPolicy: string;
  run(args: string[]): Record<string, unknown>;
}

function environment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function call(python: string, args: string[]): Record<string, unknown> {
  const result = spawnSync(python, [SCRIPT, ...args], { env: environment(), encoding: "utf8" });
  const line = (result.stdout ?? "").trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    const detail = (result.stderr || result.error?.message || `exit ${result.status}`)
      .trim()
      .split("\n")
      .pop();
    return { error: detail ?? "no output" };
  }
}

/**
 * Finds a python3 that imports torch (Debian's /usr/bin/python3 first: a pyenv shim may not see Debian's
 * packages); returns the reason as a string when there is none.
 */
export function loadPytorch(): PytorchPeer | string {
  const candidates = [process.env.CHAINRULE_BENCH_PYTHON, "/usr/bin/python3", "python3"].filter(
    (p): p is string => p !== undefined && p !== "" && (p.includes("/") ? existsSync(p) : true),
  );
  let reason = "no python3 found";
  for (const python of candidates) {
    const info = call(python, ["info"]);
    if (typeof info.error === "string") {
      reason = `${python}: ${info.error}`;
      continue;
    }
    const pools = Array.isArray(info.blas) ? (info.blas as Record<string, unknown>[]) : [];
    const blas = pools.find((p) => p.internal_api !== "openmp");
    return {
      python,
      version: String(info.torch),
      blas: blas
        ? `${String(blas.internal_api)} ${String(blas.version)} (${String(blas.architecture)})`
        : "unknown",
      ompWaitPolicy: typeof info.ompWaitPolicy === "string" ? info.ompWaitPolicy : "unset",
      run: (args) => call(python, args),
    };
  }
  return `PyTorch not installed (${reason}); on Debian: apt-get install python3-torch python3-threadpoolctl libopenblas0-pthread`;
}
