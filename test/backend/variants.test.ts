import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as generated from "../../src/backend/wasm/variants.generated.js";
import {
  SHARED_MAXIMUM_PAGES,
  pickVariant,
  plainVariants,
  sharedVariants,
  type Variant,
} from "../../src/backend/wasm/variants.js";
import { compileVariants, readGeneratedVariants } from "../../scripts/build-wasm.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

const compilerAvailable = await import("assemblyscript/asc").then(
  () => true,
  () => false,
);

function cpuHasFma(): boolean {
  try {
    return /^flags\s*:.*\bfma\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

/** Runs `script` (an ES module, from the repository's root) in Node with relaxed SIMD on; its last line as JSON. */
function withRelaxedSimd<T>(script: string): T {
  const result = spawnSync(
    process.execPath,
    ["--experimental-wasm-relaxed-simd", "--import", "tsx", "--input-type=module", "-e", script],
    { cwd: root, encoding: "utf8", timeout: 120_000 },
  );
  return JSON.parse(result.stdout.trim().split("\n").pop()!) as T;
}

function variant(name: string): Variant {
  return { name, bytes: new Uint8Array([name.length]) };
}

describe("picking a build at run time", () => {
  it("takes the builds the engine validates, and the faster of several", () => {
    const plain = variant("simd");
    const relaxed = variant("relaxed-simd");
    const speeds = new Map([
      ["simd", 10],
      ["relaxed-simd", 12],
    ]);
    const speed = (v: Variant) => speeds.get(v.name)!;
    // Both validate: the faster.
    expect(pickVariant([plain, relaxed], () => true, speed)?.name).toBe("relaxed-simd");
    speeds.set("relaxed-simd", 8);
    expect(pickVariant([plain, relaxed], () => true, speed)?.name).toBe("simd");
    // A tie, or the plain one faster by less than the margin (10 %), keeps the last (relaxed) one.
    speeds.set("relaxed-simd", 10);
    expect(pickVariant([plain, relaxed], () => true, speed)?.name).toBe("relaxed-simd");
    speeds.set("relaxed-simd", 9.2);
    expect(pickVariant([plain, relaxed], () => true, speed)?.name).toBe("relaxed-simd");
    expect(pickVariant([plain, relaxed], () => true, speed, 4, 0.05)?.name).toBe("simd");
    speeds.set("relaxed-simd", 9);
    expect(pickVariant([plain, relaxed], () => true, speed)?.name).toBe("simd");
    // A build still on unoptimised code (3–4 times slower) is measured again until it is optimised: here the
    // relaxed build's optimised code arrives in its sixth round, after the usual four.
    const schedule = (fast: number, slow: number, from: number) => {
      let calls = 0;
      return () => (calls++ < from ? slow : fast);
    };
    const late = { simd: schedule(8, 2.5, 1), "relaxed-simd": schedule(10.5, 2.8, 5) };
    const lateSpeed = (v: Variant) => late[v.name as keyof typeof late]();
    expect(pickVariant([plain, relaxed], () => true, lateSpeed)?.name).toBe("relaxed-simd");
    // Up to a limit: a build that stays twice as slow is measured 24 rounds, then the faster is taken.
    const rounds: string[] = [];
    const steady = (v: Variant) => (rounds.push(v.name), v.name === "simd" ? 8 : 4);
    expect(pickVariant([plain, relaxed], () => true, steady)?.name).toBe("simd");
    expect(rounds.length).toBe(48);
    // Settled builds take the usual four rounds.
    rounds.length = 0;
    expect(
      pickVariant(
        [plain, relaxed],
        () => true,
        (v) => (rounds.push(v.name), 10),
      )?.name,
    ).toBe("relaxed-simd");
    expect(rounds.length).toBe(8);
    // Only one validates (Node 20 without its flag refuses relaxed SIMD): that one, without timing anything.
    const timed: string[] = [];
    const counting = (v: Variant) => (timed.push(v.name), speed(v));
    expect(pickVariant([plain, relaxed], (b) => b[0] === 4, counting)?.name).toBe("simd");
    expect(pickVariant([plain, relaxed], (b) => b[0] === 12, counting)?.name).toBe("relaxed-simd");
    expect(timed).toEqual([]);
    // A validator that throws counts as a refusal; none valid: null.
    expect(
      pickVariant(
        [plain, relaxed],
        () => {
          throw new Error("no");
        },
        counting,
      ),
    ).toBeNull();
  });

  it("the plain builds validate in every engine with SIMD; the relaxed ones exactly where relaxed SIMD is on", () => {
    const [plain] = plainVariants.map((v) => v());
    const [shared] = sharedVariants.map((v) => v());
    expect(WebAssembly.validate(plain!.bytes)).toBe(true);
    expect(WebAssembly.validate(shared!.bytes)).toBe(true);
    // Node 20 ships relaxed SIMD behind --experimental-wasm-relaxed-simd (which the library turns on when it
    // chooses its build: see the next tests); later engines have it on.
    const check = spawnSync(
      process.execPath,
      [
        "--experimental-wasm-relaxed-simd",
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `import { plainVariants, sharedVariants } from "./src/backend/wasm/variants.ts";
         console.log([...plainVariants, ...sharedVariants].map((v) => WebAssembly.validate(v().bytes)).join(" "));`,
      ],
      { cwd: root, encoding: "utf8", timeout: 120_000 },
    );
    expect(check.stdout.trim()).toBe("true true true true");
  });

  /** Runs a script in a fresh Node (no flags) with `CHAINRULE_RELAXED_SIMD` set to `setting` (or unset). */
  function chooseInChild(setting: string | undefined) {
    const env = { ...process.env };
    delete env.CHAINRULE_RELAXED_SIMD;
    if (setting !== undefined) env.CHAINRULE_RELAXED_SIMD = setting;
    const result = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `import { plainVariants, sharedVariants, allowRelaxedSimd } from "./src/backend/wasm/variants.ts";
         import { wasmKernelBuild } from "./src/backend/wasm/runtime.ts";
         import { setThreads, threadPool } from "./src/backend/wasm/threads.ts";
         const valid = () => [...plainVariants, ...sharedVariants].map((v) => WebAssembly.validate(v().bytes)).join(" ");
         const before = valid();
         const build = wasmKernelBuild();
         setThreads(2);
         const pool = threadPool()?.variant ?? null;
         console.log(JSON.stringify({ before, allowed: allowRelaxedSimd(), after: valid(), build, pool }));`,
      ],
      { cwd: root, encoding: "utf8", env, timeout: 120_000 },
    );
    expect(result.stderr).toBe("");
    return JSON.parse(result.stdout) as {
      before: string;
      allowed: boolean;
      after: string;
      build: string | null;
      pool: string | null;
    };
  }

  it("turns relaxed SIMD on (Node 20's flag) before it chooses, and the pool runs the calling thread's kind of build", () => {
    const major = Number(process.versions.node.split(".")[0]);
    const chosen = chooseInChild(undefined);
    if (major === 20) expect(chosen.before).toBe("true false true false");
    expect(chosen.allowed).toBe(true);
    expect(chosen.after).toBe("true true true true");
    // Which one runs is the faster in a timed trial (on this machine with FMA, the relaxed one, but a busy
    // machine may disturb the trial); the pool follows the calling thread's choice either way.
    expect(["simd", "relaxed-simd"]).toContain(chosen.build);
    expect(chosen.pool).toBe(chosen.build);
  }, 120_000);

  it("CHAINRULE_RELAXED_SIMD=0 (or false, off) keeps to the plain builds and leaves the engine's flags alone", () => {
    const major = Number(process.versions.node.split(".")[0]);
    for (const setting of ["0", " OFF ", "false"]) {
      const chosen = chooseInChild(setting);
      expect(chosen.allowed).toBe(false);
      expect(chosen.after).toBe(chosen.before);
      if (major === 20) expect(chosen.after).toBe("true false true false");
      expect(chosen.build).toBe("simd");
      expect(chosen.pool).toBe("simd");
    }
    // Any other value is the default.
    expect(chooseInChild("1").allowed).toBe(true);
  }, 240_000);

  it("the shared builds import a shared memory of the declared maximum", () => {
    const module = new WebAssembly.Module(sharedVariants[0]!().bytes);
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAXIMUM_PAGES, shared: true });
    expect(() => new WebAssembly.Instance(module, { env: { memory } })).not.toThrow();
  });

  it("with relaxed SIMD on, the fused float32 matmul agrees with the plain one to float32 rounding", () => {
    const { worst, differ, size } = withRelaxedSimd<{ worst: number; differ: number; size: number }>(
      `import { plainVariants } from "./src/backend/wasm/variants.ts";
         const [m, n, k] = [37, 29, 300];
         const outputs = plainVariants.map((v) => {
           const x = new WebAssembly.Instance(new WebAssembly.Module(v().bytes), {}).exports;
           const memory = x.memory;
           const base = (x.heapBase() + 63) & ~63;
           const b = base + m * k * 4, out = b + k * n * 4, packed = out + m * n * 4;
           const scratch = packed + x.matmulPackedBytes(n, k, 4);
           memory.grow(Math.ceil((scratch + x.matmulScratchBytes(4)) / 65536));
           const values = new Float32Array(memory.buffer, base, m * k + k * n);
           for (let i = 0; i < values.length; i++) values[i] = Math.sin(i) ;
           x.matmulPackF32(b, n, k, 0, packed);
           x.matmulRowsF32(base, packed, out, m, n, k, 0, 0, m, scratch);
           return Array.from(new Float32Array(memory.buffer, out, m * n));
         });
         let worst = 0, differ = 0;
         outputs[0].forEach((p, i) => { const d = Math.abs(p - outputs[1][i]); worst = Math.max(worst, d); if (d > 0) differ++; });
         console.log(JSON.stringify({ worst, differ, size: outputs[0].length }));`,
    );
    expect(size).toBe(37 * 29);
    // On a CPU with FMA the engine fuses: rounded once instead of twice, so some sums differ in the last bits.
    if (cpuHasFma()) expect(differ).toBeGreaterThan(0);
    // |error| ≤ k·ε·Σ|aᵢbᵢ| ≤ 300 · 2⁻²³ · 300 for values in [−1, 1]; in practice far below.
    expect(worst).toBeLessThan(300 * 300 * 2 ** -23);
  });

  it("with relaxed SIMD on, the fused float64 tanh rounds to what the plain one and Math.tanh give", () => {
    // Both single-thread builds' float32 tanh (op 8) on a network's pre-activations and on every float32 of the
    // bands where the kernel's reduction changes (|x| = ln 2/4) and where float32 tanh reaches ±1 (9.01).
    const { n, report, between, special } = withRelaxedSimd<{
      n: number;
      report: { differing: number; worst: number }[];
      between: number;
      special: (number | null)[];
    }>(
      `import { plainVariants } from "./src/backend/wasm/variants.ts";
         const inputs = [];
         let state = 12345;
         const uniform = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
         for (let i = 0; i < 1 << 18; i++) inputs.push(20 * uniform() - 10, 0.3 * Math.tan(Math.PI * (uniform() - 0.5)));
         const bits = new Uint32Array(1);
         const floats = new Float32Array(bits.buffer);
         for (const [low, high] of [[0.17, 0.177], [8.9, 9.1]]) {
           floats[0] = low; const first = bits[0]; floats[0] = high; const last = bits[0];
           for (let b = first; b <= last; b++) { bits[0] = b; inputs.push(floats[0], -floats[0]); }
         }
         inputs.push(0, -0, NaN, Infinity, -Infinity, 1e-40, -1e-40, 100, -100);
         const values = Float32Array.from(inputs);
         const n = values.length;
         const outputs = plainVariants.map((v) => {
           const x = new WebAssembly.Instance(new WebAssembly.Module(v().bytes), {}).exports;
           const at = (x.heapBase() + 15) & ~15;
           x.memory.grow(Math.ceil((at + 8 * n) / 65536));
           new Float32Array(x.memory.buffer, at, n).set(values);
           x.unaryF32(8, at, at + 4 * n, n);
           return new Float32Array(x.memory.buffer, at + 4 * n, n).slice();
         });
         const reference = values.map((v) => Math.tanh(v));
         const ulps = (a, b) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) ? 0
           : Math.abs(new Int32Array(Float32Array.of(a).buffer)[0] - new Int32Array(Float32Array.of(b).buffer)[0]);
         const report = outputs.map((out) => {
           let differing = 0, worst = 0;
           out.forEach((value, i) => { const d = ulps(value, reference[i]); if (d > 0) differing++; worst = Math.max(worst, d); });
           return { differing, worst };
         });
         let between = 0;
         outputs[0].forEach((value, i) => { if (ulps(value, outputs[1][i]) > 0) between++; });
         console.log(JSON.stringify({ n, report, between, special: Array.from(outputs[1].slice(n - 9)) }));`,
    );
    expect(n).toBeGreaterThan(1_000_000);
    for (const { differing, worst } of report) {
      expect(worst).toBeLessThanOrEqual(1);
      expect(differing / n).toBeLessThan(1e-5);
    }
    expect(between / n).toBeLessThan(1e-5);
    // JSON has no NaN, −0 or infinities: NaN and the infinities' images print as null, 1 and −1.
    expect(special.slice(0, 2)).toEqual([0, 0]);
    expect(special.slice(2)).toEqual([null, 1, -1, Math.fround(1e-40), Math.fround(-1e-40), 1, -1]);
  });
});

describe("src/backend/wasm/variants.generated.ts", () => {
  it("holds every variant", () => {
    for (const name of ["RELAXED_WASM_BASE64", "SHARED_WASM_BASE64", "SHARED_RELAXED_WASM_BASE64"])
      expect((generated as Record<string, string>)[name]!.length).toBeGreaterThan(1000);
  });

  it.skipIf(!compilerAvailable)(
    "matches a fresh compile of assembly/ (run `npm run build:wasm` if this fails)",
    async () => {
      const fresh = await compileVariants();
      const committed = await readGeneratedVariants();
      expect(committed.length).toBe(fresh.length);
      fresh.forEach((binary, i) =>
        expect(Buffer.compare(Buffer.from(committed[i]!), Buffer.from(binary))).toBe(0),
      );
    },
    180_000,
  );
});
