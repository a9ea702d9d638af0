/**
 * `chainrule ner tag`: tags English text with a trained model.
 */
import type { Command } from "commander";
import type { TagScheme } from "../../../ner/tags.js";
import { formatTaggedConll, formatTaggedText } from "./format.js";
import { choiceOption, loadTagger, write } from "./shared.js";

interface TagCommandOptions {
  model: string;
  format?: string;
  scheme?: string;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function tagCommand(texts: string[], o: TagCommandOptions): Promise<void> {
  const format = choiceOption(o.format ?? "text", "--format", ["text", "json", "conll"] as const)!;
  const scheme = choiceOption<TagScheme>(o.scheme ?? "IOB2", "--scheme", ["IOB2", "IOB1", "IOBES"])!;
  const tagger = await loadTagger(o.model);
  const text = texts.length > 0 ? texts.join(" ") : await readStdin();
  const tagged = tagger.tag(text, { scheme });
  if (format === "json") write(JSON.stringify(tagged, null, 2) + "\n");
  else if (format === "conll") write(formatTaggedConll(tagged));
  else write(formatTaggedText(tagged));
}

export function registerTag(ner: Command): void {
  ner
    .command("tag")
    .description("tag English text (arguments, or standard input) with a trained model")
    .argument("[text...]", "the text to tag (default: read standard input)")
    .requiredOption("--model <dir>", "model directory written by ner train")
    .option("--format <format>", "text, json or conll", "text")
    .option("--scheme <scheme>", "tag scheme of the output: IOB2, IOB1 or IOBES", "IOB2")
    .action((texts: string[], o: TagCommandOptions) => tagCommand(texts, o));
}
