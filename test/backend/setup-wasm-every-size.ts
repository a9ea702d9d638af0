// Setup file of the "core-wasm-every-size" test project (vitest.config.ts): the core suite on the wasm backend with
// its size thresholds at 0, so that even the suite's small tensors run through the WebAssembly kernels.
import { getBackend, setBackend } from "../../src/index.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";

setBackend("wasm");
wasmThresholds.matmulFlops = 0;
wasmThresholds.elementwise = 0;
if (getBackend().name !== "wasm") throw new Error("the wasm backend could not be selected");
