import type { Command } from "commander";
import { register as registerDerive } from "./derive.js";
import { register as registerGrad } from "./grad.js";
import { register as registerNer } from "./ner.js";
import { register as registerPlayground } from "./playground.js";

/** Each subcommand module exports a function that adds its commands to the program. */
export type RegisterCommand = (program: Command) => void;

/** The subcommands of `chainrule`, in the order `--help` lists them. */
export const commands: RegisterCommand[] = [registerDerive, registerGrad, registerNer, registerPlayground];
