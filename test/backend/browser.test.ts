import { afterEach, describe, expect, it, vi } from "vitest";

// A browser's main thread may refuse to compile WebAssembly synchronously. Simulated here by a WebAssembly whose
// synchronous Module constructor throws, with fresh copies of the modules imported after it is in place.

describe("the wasm backend where synchronous compilation is refused (a browser's main thread)", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it("starts on js, explains what to do if wasm is selected, and works after `await initWasm()`", async () => {
    vi.resetModules();
    const refusing = new Proxy(WebAssembly, {
      get(target, key) {
        if (key === "Module")
          return function Module() {
            throw new RangeError("WebAssembly.Module(): Buffer size is larger than the main-thread limit");
          };
        return Reflect.get(target, key) as unknown;
      },
    });
    vi.stubGlobal("WebAssembly", refusing);
    const fresh = await import("../../src/index.js");
    expect(fresh.getBackend().name).toBe("js");
    // Selecting it before it is loaded gives a clear error at the first kernel that needs it.
    fresh.setBackend("wasm");
    expect(() => fresh.matmul(fresh.ones([64, 64]), fresh.ones([64, 64]))).toThrow(/initWasm/);
    const backend = await fresh.initWasm();
    expect(backend.name).toBe("wasm");
    expect(fresh.getBackend().name).toBe("wasm");
    expect(Array.from(fresh.matmul(fresh.ones([64, 64]), fresh.ones([64, 64])).data.slice(0, 3))).toEqual([
      64, 64, 64,
    ]);
  });
});
