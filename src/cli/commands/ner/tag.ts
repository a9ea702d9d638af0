/**
 * `chainrule ner tag`: tags English text with a trained model: the arguments, a file (`--input FILE`), or
 * standard input (no text, or `-`).
 */
import { readFile, stat } from "node:fs/promises";
import type { Command } from "commander";
import { ValueError } from "../../../errors.js";
import type { TagScheme } from "../../../ner/tags.js";
import { formatTaggedConll, formatTaggedText } from "./format.js";
import { choiceOption, loadTagger, requireFile, write } from "./shared.js";

interface TagCommandOptions {
  model: string;
  input?: string;
  format?: string;
  scheme?: string;
}

/** Reads standard input; on a terminal, says first that it is waiting and how to end the text. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY === true) {
    process.stderr.write(
      "chainrule: reading the text to tag from the terminal; end it with Ctrl-D (Ctrl-Z then Enter on Windows)\n",
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** True if `text` names an existing file (then tagging it as text is most likely a mistake). */
async function namesAFile(text: string): Promise<boolean> {
  if (text.length > 4096 || /\s/.test(text)) return false;
  try {
    return (await stat(text)).isFile();
  } catch {
    return false;
  }
}

/** The text to tag: from `--input`, standard input, or the arguments. */
async function textToTag(texts: string[], input: string | undefined): Promise<string> {
  if (input !== undefined) {
    if (input === "-") return readStdin();
    await requireFile(input, "--input");
    return new TextDecoder("utf-8").decode(await readFile(input));
  }
  if (texts.length === 0 || (texts.length === 1 && texts[0] === "-")) return readStdin();
  if (texts.length === 1 && (await namesAFile(texts[0]!))) {
    process.stderr.write(
      `chainrule: note: tagging the text "${texts[0]}" itself; to tag the file's contents, use --input ${texts[0]}\n`,
    );
  }
  return texts.join(" ");
}

async function tagCommand(texts: string[], o: TagCommandOptions): Promise<void> {
  const format = choiceOption(o.format ?? "text", "--format", ["text", "json", "conll"] as const)!;
  const scheme = choiceOption<TagScheme>(o.scheme ?? "IOB2", "--scheme", ["IOB2", "IOB1", "IOBES"])!;
  if (o.input !== undefined && texts.length > 0) {
    throw new ValueError("give the text as arguments or as --input FILE, not both");
  }
  const tagger = await loadTagger(o.model);
  const text = await textToTag(texts, o.input);
  const tagged = tagger.tag(text, { scheme });
  if (format === "json") write(JSON.stringify(tagged, null, 2) + "\n");
  else if (format === "conll") write(formatTaggedConll(tagged));
  else write(formatTaggedText(tagged));
}

export function registerTag(ner: Command): void {
  ner
    .command("tag")
    .description("tag English text (arguments, a file with --input, or standard input) with a trained model")
    .argument("[text...]", "the text to tag (none, or -: read standard input)")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .option("--input <file>", "tag the contents of this file (- for standard input)")
    .option("--format <format>", "text, json or conll", "text")
    .option("--scheme <scheme>", "tag scheme of the output: IOB2, IOB1 or IOBES", "IOB2")
    .action((texts: string[], o: TagCommandOptions) => tagCommand(texts, o));
}
