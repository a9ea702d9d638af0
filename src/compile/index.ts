export { compile, type CompileOptions, type CompiledFunction, type CompileStats } from "./compile.js";
