import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MemoryProbe,
  deadArrayBuffersPeak,
  ownResidentMap,
  parseSmaps,
  residentMB,
  residentMap,
  type ResidentMap,
} from "../../bench/memory.js";
import { measureNerStep } from "../../bench/ner-step.js";

const linux = process.platform === "linux";

/** A smaps entry: the header line and the fields the parser reads (and one it skips). */
function entry(start: number, end: number, perms: string, name: string, rssKB: number): string {
  const hex = (n: number): string => n.toString(16).padStart(12, "0");
  return [
    `${hex(start)}-${hex(end)} ${perms} 00000000 00:00 0${name === "" ? "" : `                          ${name}`}`,
    `Size:           ${(end - start) / 1024} kB`,
    `Rss:            ${rssKB} kB`,
    `Pss:            ${rssKB} kB`,
  ].join("\n");
}

const MB = 1024 * 1024;
const sum = (map: ResidentMap): number =>
  map.executable + map.files + map.mainHeap + map.threadHeaps + map.webAssembly + map.other;

describe("bench/memory.ts: resident memory by kind of mapping", () => {
  it("tells the executable, files, the main heap, thread heaps, WebAssembly memories and the rest apart", () => {
    const arena = 0x7f00_0000_0000; // a multiple of 64 MB
    const wasm = 0x7e00_0000_0000;
    const text = [
      entry(0x400000, 0x400000 + 40 * MB, "r-xp", "/usr/bin/node", 30 * 1024),
      entry(0x500000_0000, 0x500000_0000 + MB, "r--p", "/usr/lib/libc.so.6", 1024),
      entry(0x600000_0000, 0x600000_0000 + 20 * MB, "rw-p", "[heap]", 10 * 1024),
      // a thread heap: 3 MB in use of a 64 MB reservation at a 64 MB boundary
      entry(arena, arena + 3 * MB, "rw-p", "", 2 * 1024),
      entry(arena + 3 * MB, arena + 64 * MB, "---p", "", 0),
      // a WebAssembly memory: 6 MB in use of a 10 GiB reservation
      entry(wasm, wasm + 6 * MB, "rw-p", "", 5 * 1024),
      entry(wasm + 6 * MB, wasm + 10 * 1024 * MB, "---p", "", 0),
      // anonymous memory elsewhere: a lone mapping, one reserved like a heap but not at a boundary, a stack
      entry(0x700000_0000, 0x700000_0000 + 8 * MB, "rw-p", "", 4 * 1024),
      entry(arena + 128 * MB + 4096, arena + 128 * MB + 4096 + 2 * MB, "rw-p", "", 1024),
      entry(arena + 130 * MB + 4096, arena + 192 * MB + 4096, "---p", "", 0),
      entry(0x7ffd_0000_0000, 0x7ffd_0000_0000 + MB, "rw-p", "[stack]", 512),
    ].join("\n");
    const map = residentMap(text, "/usr/bin/node");
    expect(map).toEqual({
      executable: 30,
      files: 1,
      mainHeap: 10,
      threadHeaps: 2,
      webAssembly: 5,
      other: 4 + 1 + 0.5,
      total: 53.5,
    });
  });

  it("reads any text without throwing, every figure finite, non-negative and adding up to the total", () => {
    const line = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.nat(),
          fc.nat(),
          fc.constantFrom("rw-p", "---p", "r-xp", "rwxs", "zz"),
          fc.string(),
          fc.nat(),
        )
        .map(([a, b, perms, name, rss]) =>
          entry(a * 4096, (a + b) * 4096, perms, name.replace(/\n/g, ""), rss),
        ),
      fc.nat().map((rss) => `Rss: ${rss} kB`),
      fc.constant("Rss:  -4 kB"),
      fc.constant("ffffffffffffffffffff-0 rw-p 0 0:0 0"),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        const text = lines.join("\n");
        const map = residentMap(text, "/usr/bin/node");
        for (const mb of Object.values(map)) expect(Number.isFinite(mb) && mb >= 0).toBe(true);
        expect(sum(map)).toBeCloseTo(map.total, 6);
        expect(parseSmaps(text).every((m) => m.end >= m.start && m.residentKB >= 0)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it.runIf(linux)("adds up this process's mappings to about its resident size", () => {
    const map = ownResidentMap()!;
    const rss = residentMB();
    expect(map.total).toBeGreaterThan(rss * 0.9);
    expect(map.total).toBeLessThan(rss * 1.1);
    expect(map.executable).toBeGreaterThan(0);
    expect(sum(map)).toBeCloseTo(map.total, 6);
  });
});

describe("bench/memory.ts: what a probe samples", () => {
  it("counts the young collections that dead arrays cause, and the largest and smallest ArrayBuffer totals", async () => {
    const probe = new MemoryProbe();
    probe.stage("before");
    // 200 MB of arrays dropped at once: the engine collects them at far less than that.
    for (let i = 0; i < 800; i++) {
      const array = new Float32Array(64 * 1024);
      array[0] = i;
      probe.step();
    }
    probe.stage("after");
    const profile = await probe.finish();
    expect(Object.keys(profile.stages)).toEqual(["before", "after"]);
    expect(profile.collections.young).toBeGreaterThan(0);
    expect(profile.arrayBuffersPeak).toBeGreaterThan(profile.arrayBuffersLow);
    expect(profile.arrayBuffersPeak).toBeLessThan(200);
  });

  it("gives the NER step's stages when a probe rides along", async () => {
    const probe = new MemoryProbe();
    measureNerStep(32, 0.05, false, null, 0, probe);
    const profile = await probe.finish();
    expect(Object.keys(profile.stages)).toEqual(["model built", "first step", "end"]);
    for (const mb of Object.values(profile.stages)) expect(mb).toBeGreaterThan(0);
    expect(profile.arrayBuffersPeak).toBeGreaterThan(0);
  });

  it("measures the dead ArrayBuffers the engine lets pile up: bounded, far below what was allocated", () => {
    const peak = deadArrayBuffersPeak(256 * 1024, 200);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(1000);
  });
});
