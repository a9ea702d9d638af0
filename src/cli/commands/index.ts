import type { Command } from "commander";

/** Each subcommand module exports a function that adds its commands to the program. */
export type RegisterCommand = (program: Command) => void;

/** The subcommands of `chainrule`, in the order `--help` lists them. */
export const commands: RegisterCommand[] = [];
