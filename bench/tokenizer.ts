/**
 * Tokenizer throughput on big inputs (`node --import tsx bench/tokenizer.ts [--megabytes N]`): seconds to
 * tokenize (and split into sentences) N MB (default 10) of several kinds of text, among them the ones that used
 * to take quadratic time (long runs of e-mail characters). Figures only: nothing is asserted. Doubling N should
 * roughly double every figure.
 */
import { tokenize, tokenizeSentences } from "../src/ner/tokenizer.js";
import { printTable } from "./util.js";

const at = process.argv.indexOf("--megabytes");
const megabytes = at >= 0 ? Number(process.argv[at + 1]) : 10;
const size = Math.round(megabytes * 1_000_000);
const fill = (piece: string): string => piece.repeat(Math.ceil(size / piece.length)).slice(0, size);

const inputs: [string, string][] = [
  ["English prose", fill("Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989. ")],
  ["x+x+… then a dash", fill("x+") + " \u2014"],
  ["a.b.c… @ ccc… (no domain)", `${fill("a.b").slice(0, size / 2)}@${fill("c").slice(0, size / 2)}`],
  ["short addresses", fill("a@b.co ")],
  ["initials", fill("J. ")],
  ["non-ASCII words", fill("\u00c9mile \u2014 Zola \u00ab \u00e0 \u00bb \u65e5\u672c\u8a9e \ud83d\ude00 ")],
];

const rows: (string | number)[][] = [];
for (const [name, text] of inputs) {
  let start = performance.now();
  const tokens = tokenize(text).length;
  const tokenizeSeconds = (performance.now() - start) / 1000;
  start = performance.now();
  const sentences = tokenizeSentences(text).length;
  const sentenceSeconds = (performance.now() - start) / 1000;
  rows.push([name, tokens, tokenizeSeconds.toFixed(2), sentences, sentenceSeconds.toFixed(2)]);
}
printTable(
  `Tokenizing ${megabytes} MB of each text`,
  ["text", "tokens", "tokenize (s)", "sentences", "tokenizeSentences (s)"],
  rows,
);
