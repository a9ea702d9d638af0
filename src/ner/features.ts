/**
 * Casing features, after Collobert et al. (2011) and CS224n's window model: lower-casing the words loses the
 * hint that `Paris` is a name, so each word also gets a casing class, fed to the network as a small learned
 * embedding next to the word vector.
 */
import { ValueError, quoteInput } from "../errors.js";

/**
 * The casing classes, in id order. `padding` is the class of the `<s>` / `</s>` positions beyond a sentence's
 * edges.
 */
export const CASING_CLASSES = [
  "padding",
  "lower",
  "allCaps",
  "initialCapital",
  "hasCapital",
  "numeric",
  "other",
] as const;

/** The casing class of a word (`lower`, `allCaps`, `initialCapital`, …; see {@link casingOf}). */
export type CasingClass = (typeof CASING_CLASSES)[number];

/** The id of the padding class. */
export const CASING_PADDING_ID = 0;

const CASING_IDS: ReadonlyMap<string, number> = new Map(CASING_CLASSES.map((name, i) => [name, i]));

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;

function isUpper(character: string): boolean {
  return character !== character.toLowerCase() && character === character.toUpperCase();
}

function isLower(character: string): boolean {
  return character !== character.toUpperCase() && character === character.toLowerCase();
}

/**
 * The casing class of a word:
 * - `numeric`: no letters and at least one digit (`1989`, `1,000.50`, `1996-08-22`);
 * - `lower`: has lower-case letters and no capitals (`night`, `3rd`);
 * - `allCaps`: has capitals and no lower-case letters (`EU`, `U.S.`, `I`);
 * - `initialCapital`: capitals and lower-case letters, the first character a capital (`Paris`, `McDonald`);
 * - `hasCapital`: capitals and lower-case letters, the first character not a capital (`iPhone`, `eBay`);
 * - `other`: everything else (punctuation, symbols, letters without case such as Chinese).
 */
export function casingOf(word: string): CasingClass {
  let upper = 0;
  let lower = 0;
  let letters = 0;
  let digits = 0;
  let firstUpper = false;
  let index = 0;
  for (const character of word) {
    if (LETTER.test(character)) {
      letters++;
      if (isUpper(character)) {
        upper++;
        if (index === 0) firstUpper = true;
      } else if (isLower(character)) lower++;
    } else if (DIGIT.test(character)) digits++;
    index++;
  }
  if (letters === 0) return digits > 0 ? "numeric" : "other";
  if (upper === 0) return lower > 0 ? "lower" : "other";
  if (lower === 0) return "allCaps";
  return firstUpper ? "initialCapital" : "hasCapital";
}

/** The id of a word's casing class (1–6; 0 is padding). */
export function casingId(word: string): number {
  return CASING_IDS.get(casingOf(word))!;
}

/** The JSON form of the casing features, stored in a model's config so a loader can check it. */
export interface CasingJSON {
  /** The class names in id order. */
  classes: string[];
}

/** The casing features' description for `config.json`. */
export function casingToJSON(): CasingJSON {
  return { classes: [...CASING_CLASSES] };
}

/**
 * Checks a stored casing description against this version's classes (a model trained with other classes
 * would read the wrong embedding rows) and returns the number of classes.
 */
export function casingFromJSON(json: unknown): number {
  const classes = (json as Partial<CasingJSON> | null)?.classes;
  if (
    !Array.isArray(classes) ||
    classes.length !== CASING_CLASSES.length ||
    classes.some((name, i) => name !== CASING_CLASSES[i])
  ) {
    throw new ValueError(
      `casingFromJSON: the stored casing classes ${quoteInput(classes)} differ from this version's ${JSON.stringify(CASING_CLASSES)}`,
    );
  }
  return CASING_CLASSES.length;
}
