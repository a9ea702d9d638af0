// Setup file of the "core-js" test project (vitest.config.ts): the core suite on the JavaScript reference kernels.
import { setBackend } from "../../src/index.js";

setBackend("js");
