/**
 * A command that ends with a given exit status and message (e.g. 130 after Ctrl-C): `main` prints the
 * message as one line and returns the status.
 */
import { ChainruleError } from "../errors.js";

export class CommandExit extends ChainruleError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

/** What an errno code means, in words. */
const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EIO: "input/output error",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOENT: "no such file or directory",
  EEXIST: "already exists",
  EBUSY: "resource busy",
  EFBIG: "file too large",
  ENAMETOOLONG: "file name too long",
};

/** The errno code of a Node I/O error, or null. */
export function errnoCode(error: unknown): string | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) ? code : null;
}

/** An I/O error in words: "no space left on device" (or Node's own message for a code not listed). */
export function describeErrno(error: unknown): string {
  const code = errnoCode(error);
  if (code !== null && ERRNO_TEXT[code] !== undefined) return ERRNO_TEXT[code];
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!.slice(0, 200);
}
