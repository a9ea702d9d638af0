/**
 * The command-line tool: its commands, and how a run's errors become one line and an exit status. The entry
 * point (`main.ts`, the `chainrule` binary) loads this module once the process is set up.
 */
import { Command, CommanderError } from "commander";
import { VERSION } from "../version.js";
import { ChainruleError } from "../errors.js";
import { commands } from "./commands/index.js";
import { CommandExit, describeErrno, errnoCode } from "./exit.js";
import { installTensorMethods } from "../autograd/tensor-methods.js";

// Tensor methods (t.add(u), t.backward(), …) sit above the tensor layer; attach them for this entry point.
installTensorMethods();

/** Builds the `chainrule` command with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name("chainrule")
    .description(
      "Neural-network gradients by hand (symbolic matrix calculus) and by backpropagation, " +
        "and the CS224n window-based named-entity classifier trained with them.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError("(run with --help for usage)");
  for (const register of commands) register(program);
  return program;
}

/**
 * `chainrule help ner train` as `chainrule ner train --help`: commander's own help command looks one level
 * deep only, so it would show the help of `ner`.
 */
export function expandHelpCommand(program: Command, argv: readonly string[]): string[] {
  const args = argv.slice(2);
  if (args[0] !== "help" || args.length < 3) return [...argv];
  let command = program;
  for (const name of args.slice(1)) {
    const sub = command.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (sub === undefined) return [...argv];
    command = sub;
  }
  return [...argv.slice(0, 2), ...args.slice(1), "--help"];
}

/** Runs the CLI; errors from chainrule are printed as one clear line and exit with status 1 (2 for usage). */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  argv = expandHelpCommand(program, argv);
  // Subcommands do not inherit exitOverride once created; without it a usage error exits the process.
  const overrideExit = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(overrideExit);
  };
  overrideExit(program);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed help, the version or the usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CommandExit) {
      if (error.message !== "") process.stderr.write(`chainrule: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ChainruleError) {
      process.stderr.write(`chainrule: ${error.message}\n`);
      return 1;
    }
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") {
      process.stderr.write(`chainrule: ${(error as Error).message}\n`);
      return 1;
    }
    if (code !== null) {
      // Any other I/O error (a full disk, a read-only file system, …): one line, not a stack.
      const path = (error as NodeJS.ErrnoException).path;
      process.stderr.write(`chainrule: ${describeErrno(error)}${path ? ` (${path})` : ""}\n`);
      return 1;
    }
    throw error;
  }
}
