/**
 * The shipped data the NER tab trains on, as paths relative to the page. They are not copied into the build:
 * `chainrule playground` and the development server answer `data/…` from the package's data/ directory, and a
 * standalone build (`npm run build:web:static`) copies these files (with their licences) into web/dist/data.
 */
export const SHIPPED_DATA = {
  train: "data/wikigold/train.conll",
  dev: "data/wikigold/dev.conll",
  glove: "data/glove/glove-wikigold-100d.safetensors",
} as const;

/** The licence and attribution files that travel with the data in a standalone build. */
export const SHIPPED_DATA_NOTICES = [
  "data/wikigold/LICENSE",
  "data/wikigold/README.md",
  "data/glove/LICENSE",
  "data/glove/README.md",
] as const;
