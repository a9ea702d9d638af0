/**
 * The third tab: the lecture's window classifier, trained in the browser on the shipped Wikigold data with the
 * shipped GloVe vectors (in a Web Worker), with a live loss and dev-F1 chart; then a sentence tagged, and for
 * any word its window, its hidden layer h = f(Wx + b) and its scores.
 */
import { SHIPPED_DATA } from "../shipped-data.js";
import { exampleButtons, field, h, messageOf, replace } from "../dom.js";
import { formatNumber } from "../format.js";
import { heatmap } from "../backprop/heatmap.js";
import { LECTURE_SENTENCE, type Store } from "../state.js";
import {
  CASING_CLASSES,
  DEMO_OPTIONS,
  MODEL_CONFIG_FILE,
  MODEL_WEIGHTS_FILE,
  NER_MODEL_FORMAT,
  NerTagger,
  buildFeatureWindows,
  buildWindows,
  noGrad,
  parseSafetensors as parse,
  serializeSafetensors as serialize,
  type EpochRecord,
  type TaggedText,
} from "../lib.js";
import type { StartMessage, WorkerMessage } from "./protocol.js";
import { TrainingChart } from "./chart.js";
import { trainingSettings } from "./settings.js";

const EXAMPLES = [
  { label: "Samuel Quinn … in Paris", text: LECTURE_SENTENCE },
  { label: "“Paris Hilton” (a person?)", text: "Last night, Paris Hilton wowed in a sequin gown." },
  { label: "“Paris” (a place)", text: "Paris is the capital of France." },
  { label: "Museums in Paris", text: "Tourists visited the Louvre museum in Paris and then flew to London." },
];

/** Epochs offered in the page (the demo's by default). */
const DEFAULT_EPOCHS = DEMO_OPTIONS.epochs ?? 8;
const MAX_EPOCHS = 50;

function download(name: string, bytes: Uint8Array | string, type: string): void {
  const blob = new Blob([bytes as BlobPart], { type });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One file: the weights with the model's config.json in the safetensors metadata. */
function modelFile(tagger: NerTagger): Uint8Array {
  const { config } = tagger.toBytes();
  return serialize(tagger.model.stateDict(), { format: NER_MODEL_FORMAT, config });
}

/** Reads a file written by {@link modelFile}, or the pair config.json + model.safetensors of a model directory. */
async function readModelFiles(files: readonly File[]): Promise<NerTagger> {
  const safetensors = files.find((f) => f.name.endsWith(".safetensors"));
  const json = files.find((f) => f.name.endsWith(".json"));
  if (!safetensors)
    throw new Error("choose a .safetensors file (and, for a model directory, its config.json)");
  const bytes = new Uint8Array(await safetensors.arrayBuffer());
  if (json) return NerTagger.fromBytes(await json.text(), bytes);
  const { tensors, metadata } = parse(bytes, { file: safetensors.name });
  if (metadata.config === undefined) {
    throw new Error(
      `${safetensors.name} has no model config in its metadata; choose its ${MODEL_CONFIG_FILE} too`,
    );
  }
  // The weights without the config, as the model directory's model.safetensors holds them (the checksum's bytes).
  return NerTagger.fromBytes(
    metadata.config,
    serialize(tensors, { format: metadata.format ?? NER_MODEL_FORMAT }),
  );
}

export function nerPanel(store: Store): HTMLElement {
  let worker: Worker | null = null;
  let tagger: NerTagger | null = null;
  let checkpoint: { bytes: Uint8Array; epoch: number } | null = null;
  let running = false;
  let tagged: TaggedText | null = null;
  let selected: number | null = null;
  let epochs = DEFAULT_EPOCHS;
  const settings = trainingSettings();

  const modelSelect = h(
    "select",
    { id: "ner-model" },
    h("option", { value: "softmax" }, "All types: softmax over the tags"),
    h("option", { value: "LOC" }, "LOC only: binary σ(uᵀh)"),
  );
  const epochsInput = h("input", {
    id: "ner-epochs",
    type: "number",
    min: "1",
    max: String(MAX_EPOCHS),
    value: String(DEFAULT_EPOCHS),
  });
  const trainButton = h(
    "button",
    { type: "button", class: "primary", onclick: () => startTraining(false) },
    "Train",
  );
  const stopButton = h("button", { type: "button", onclick: stop, disabled: true }, "Stop");
  const continueButton = h(
    "button",
    { type: "button", onclick: () => startTraining(true), disabled: true },
    "Continue",
  );
  const status = h(
    "p",
    { class: "status-line", "aria-live": "polite" },
    "Not trained yet. Training runs in the background; the page stays usable.",
  );
  const progress = h("progress", {
    class: "progress",
    max: "1",
    value: "0",
    "aria-label": "Training progress",
  });
  const progressText = h("p", { class: "progress-text" });
  const epochBody = h("tbody");
  const epochTable = h(
    "table",
    { class: "epoch-table", hidden: true },
    h("caption", { class: "hint" }, "dev scores per epoch (conlleval: entities; binary: per token)"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["epoch", "loss", "P", "R", "F1", "s"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    epochBody,
  );
  const chartBox = h("div", {
    class: "chart",
    role: "img",
    "aria-label": "Training loss and dev F1 by epoch",
  });
  const chart = new TrainingChart(chartBox);
  const modelInfo = h("p", { class: "hint", id: "ner-model-info", "aria-live": "polite" }, "No model yet.");
  const downloadButton = h(
    "button",
    {
      type: "button",
      disabled: true,
      onclick: () =>
        tagger && download("chainrule-ner.safetensors", modelFile(tagger), "application/octet-stream"),
    },
    "Download model (.safetensors)",
  );
  const downloadConfig = h(
    "button",
    { type: "button", disabled: true, onclick: () => tagger && downloadDirectoryFiles(tagger) },
    "Download model.safetensors + config.json",
  );
  const loadInput = h("input", {
    type: "file",
    id: "ner-load",
    accept: ".safetensors,.json",
    multiple: true,
  });
  const loadError = h("p", { class: "error", role: "alert" });
  loadInput.addEventListener("change", () => {
    const files = [...(loadInput.files ?? [])];
    if (files.length === 0) return;
    loadError.textContent = "";
    readModelFiles(files).then(
      (loaded) => {
        setTagger(loaded, `loaded from ${files.map((f) => f.name).join(" + ")}`);
        loadInput.value = "";
      },
      (error: unknown) => {
        loadError.textContent = `Could not load the model: ${messageOf(error)}`;
        loadInput.value = "";
      },
    );
  });

  function downloadDirectoryFiles(t: NerTagger): void {
    const { config, weights } = t.toBytes();
    download(MODEL_WEIGHTS_FILE, weights, "application/octet-stream");
    download(MODEL_CONFIG_FILE, config, "application/json");
  }

  const textInput = h("textarea", { id: "ner-text", rows: "2", spellcheck: "false" });
  textInput.value = store.state.text;
  const tagButton = h("button", { type: "submit", class: "primary" }, "Tag");
  const taggedBox = h(
    "div",
    { class: "tagged", "aria-live": "polite" },
    h("p", { class: "hint" }, "Train a model (or load one) to tag text."),
  );
  const inspectBox = h("div", { class: "inspect" });

  function setButtons(): void {
    trainButton.disabled = running;
    stopButton.disabled = !running;
    continueButton.disabled = running || checkpoint === null;
    modelSelect.disabled = running;
    epochsInput.disabled = running;
    settings.setDisabled(running);
    downloadButton.disabled = tagger === null;
    downloadConfig.disabled = tagger === null;
  }

  function setTagger(next: NerTagger, origin: string): void {
    tagger = next;
    const kind =
      next.binary !== null
        ? `binary ${next.binary} classifier, s = uᵀh`
        : `softmax over ${next.tagSet!.size} tags`;
    const config = next.model.config;
    const objective = config.objective === "sentence" ? ", a CRF over the sentence" : "";
    const features =
      config.features.length > 0 ? `, features ${config.features.map((f) => f.kind).join(" + ")}` : "";
    modelInfo.textContent = `Model: ${origin}; ${kind}${objective}, window ${2 * config.windowSize + 1}, hidden ${config.hiddenSize} ${config.activation}${features}, ${next.vocabulary.size.toLocaleString("en")} words.`;
    setButtons();
    tag();
  }

  function addEpochRow(record: EpochRecord): void {
    epochTable.hidden = false;
    const dev = record.dev;
    epochBody.appendChild(
      h(
        "tr",
        { "data-epoch": record.epoch, "data-rate": Math.round(record.examplesPerSecond) },
        h("td", {}, `${record.epoch}${record.best ? " *" : ""}`),
        h("td", {}, record.loss.toFixed(4)),
        h("td", {}, dev ? dev.precision.toFixed(2) : "—"),
        h("td", {}, dev ? dev.recall.toFixed(2) : "—"),
        h("td", {}, dev ? dev.f1.toFixed(2) : "—"),
        h("td", {}, record.seconds.toFixed(1)),
      ),
    );
  }

  function onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case "status":
        status.textContent = message.text;
        break;
      case "data":
        status.textContent = `Wikigold: ${message.train.sentences.toLocaleString("en")} training sentences (${message.train.tokens.toLocaleString("en")} tokens), ${message.dev.sentences.toLocaleString("en")} dev sentences; GloVe: ${message.vectors.toLocaleString("en")} vectors. Training on the ${message.backend === "wasm" ? "WebAssembly" : "JavaScript"} kernels…`;
        break;
      case "batch": {
        const p = message.progress;
        const done = (p.epoch - 1 + p.examples / p.totalExamples) / p.epochs;
        progress.value = done;
        progressText.textContent = `epoch ${p.epoch} of ${p.epochs}: ${p.examples.toLocaleString("en")} / ${p.totalExamples.toLocaleString("en")} windows, running loss ${p.loss.toFixed(4)}`;
        chart.addLoss(p.epoch - 1 + p.examples / p.totalExamples, p.loss);
        break;
      }
      case "epoch": {
        const r = message.record;
        addEpochRow(r);
        if (r.dev) chart.addF1(r.epoch, r.dev.f1);
        status.textContent = `Epoch ${r.epoch} done: loss ${r.loss.toFixed(4)}${r.dev ? `, dev F1 ${r.dev.f1.toFixed(2)}` : ""} (${Math.round(r.examplesPerSecond).toLocaleString("en")} windows/s).`;
        status.dataset.epochs = String(r.epoch);
        break;
      }
      case "model":
        try {
          setTagger(
            NerTagger.fromBytes(message.config, message.weights),
            `trained here, best epoch ${message.epoch}`,
          );
        } catch (error) {
          status.textContent = `The trained model could not be read: ${messageOf(error)}`;
        }
        break;
      case "checkpoint":
        checkpoint = { bytes: message.bytes, epoch: message.epoch };
        break;
      case "done":
        running = false;
        worker?.terminate();
        worker = null;
        progress.value = 1;
        status.textContent = `Training finished after ${message.epochs} epochs${message.stoppedEarly ? " (stopped early: the dev F1 stopped improving)" : ""}; the best epoch, ${message.bestEpoch}, is kept.`;
        checkpoint = null;
        setButtons();
        break;
      case "error":
        running = false;
        worker?.terminate();
        worker = null;
        status.textContent = `Training failed: ${message.message}`;
        status.classList.add("error");
        setButtons();
        break;
    }
  }

  function startTraining(resume: boolean): void {
    status.classList.remove("error");
    const wanted = Number(epochsInput.value);
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > MAX_EPOCHS) {
      status.textContent = `Epochs: a whole number from 1 to ${MAX_EPOCHS}.`;
      status.classList.add("error");
      epochsInput.focus();
      return;
    }
    const chosen = settings.read();
    if (chosen === null) {
      status.textContent = "A setting is not valid: see the message under it.";
      status.classList.add("error");
      return;
    }
    epochs = wanted;
    if (!resume) {
      checkpoint = null;
      replace(epochBody);
      epochTable.hidden = true;
      chart.clear();
      progress.value = 0;
    }
    void chart.init().catch((error: unknown) => {
      chartBox.textContent = `The chart could not be loaded: ${messageOf(error)}`;
    });
    worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    worker.addEventListener("message", (event: MessageEvent<WorkerMessage>) => onMessage(event.data));
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      onMessage({ type: "error", message: event.message || "the training worker stopped" });
    });
    const base = new URL(".", location.href);
    const message: StartMessage = {
      type: "start",
      urls: {
        train: new URL(SHIPPED_DATA.train, base).href,
        dev: new URL(SHIPPED_DATA.dev, base).href,
        glove: new URL(SHIPPED_DATA.glove, base).href,
      },
      options: { ...chosen, epochs, ...(modelSelect.value === "LOC" ? { binary: "LOC" } : {}) },
      resume: resume && checkpoint ? checkpoint.bytes.slice() : null,
    };
    worker.postMessage(message);
    running = true;
    setButtons();
  }

  function stop(): void {
    worker?.terminate();
    worker = null;
    running = false;
    status.textContent = checkpoint
      ? `Stopped. “Continue” resumes after epoch ${checkpoint.epoch} with the same result as an uninterrupted run.`
      : "Stopped before the first epoch ended; “Train” starts again.";
    setButtons();
  }

  function tag(): void {
    const text = textInput.value;
    store.update({ text });
    if (!tagger) return;
    try {
      tagged = tagger.tag(text);
      renderTagged();
      if (selected !== null && selected < tagged.tokens.length) inspect(selected);
      else
        replace(
          inspectBox,
          h("p", { class: "hint" }, "Click a word to see its window, its hidden layer and its scores."),
        );
    } catch (error) {
      replace(
        taggedBox,
        h("p", { class: "error", role: "alert" }, `Could not tag the text: ${messageOf(error)}`),
      );
    }
  }

  function typeOf(tag: string): string | null {
    if (tag === "O") return null;
    const hyphen = tag.indexOf("-");
    return hyphen >= 0 ? tag.slice(hyphen + 1) : tag;
  }

  function renderTagged(): void {
    if (!tagged) return;
    const text = tagged.text;
    const parts: (HTMLElement | string)[] = [];
    let at = 0;
    tagged.tokens.forEach((token, i) => {
      if (token.start > at) parts.push(text.slice(at, token.start));
      const type = typeOf(token.tag);
      parts.push(
        h(
          "button",
          {
            type: "button",
            class: `token${i === selected ? " selected" : ""}`,
            "data-type": type ?? undefined,
            "data-tag": token.tag,
            "aria-pressed": i === selected ? "true" : "false",
            title: `${token.tag} (p = ${token.score.toFixed(3)})`,
            onclick: () => inspect(i),
          },
          token.text,
          type ? h("span", { class: "tag" }, type) : null,
        ),
      );
      at = token.end;
    });
    if (at < text.length) parts.push(text.slice(at));
    const entities = tagged.entities.map((e) => h("li", {}, `${e.type}: ${e.text}`));
    replace(
      taggedBox,
      h("div", { class: "tagged-text", "data-testid": "tagged" }, parts),
      entities.length > 0
        ? h("ul", { class: "entities", "aria-label": "Entities found" }, entities)
        : h("p", { class: "hint" }, "No entities found."),
    );
  }

  function inspect(index: number): void {
    if (!tagger || !tagged) return;
    selected = index;
    renderTagged();
    const sentence = tagged.sentences.find((s) => index >= s.tokenStart && index < s.tokenEnd)!;
    const tokens = tagged.tokens.slice(sentence.tokenStart, sentence.tokenEnd).map((t) => t.text);
    const t = index - sentence.tokenStart;
    const model = tagger.model;
    const w = model.config.windowSize;
    const windows = buildWindows([{ tokens }], { vocabulary: tagger.vocabulary, windowSize: w });
    const width = windows.width;
    const words = windows.words.slice(t * width, (t + 1) * width);
    const casing = windows.casing.slice(t * width, (t + 1) * width);
    const features = buildFeatureWindows([tokens], model.config.features, w).map((ids) =>
      ids.slice(t * width, (t + 1) * width),
    );
    const { hidden, logits } = noGrad(() => {
      const wasTraining = model.training;
      model.train(false);
      try {
        const hiddenLayer = model.hiddenLayer(words, casing, features);
        return {
          hidden: Array.from(hiddenLayer.data),
          logits: Array.from(model.output.forward(hiddenLayer).data),
        };
      } finally {
        model.train(wasTraining);
      }
    });
    const windowWords = Array.from(words, (id, i) => {
      const position = t - w + i;
      const surface =
        position >= 0 && position < tokens.length
          ? tokens[position]!
          : id === tagger!.vocabulary.startId
            ? "⟨s⟩"
            : "⟨/s⟩";
      const entry = tagger!.vocabulary.wordOf(id);
      const offset = i - w;
      const sub = offset === 0 ? "t" : offset < 0 ? `t−${-offset}` : `t+${offset}`;
      return h(
        "div",
        { class: `word${offset === 0 ? " centre" : ""}` },
        h("small", {}, `x_${sub}`),
        surface,
        h("small", {}, `${entry === surface ? "" : entry + ", "}${CASING_CLASSES[casing[i]!] ?? ""}`),
      );
    });
    const columns = 25;
    const grid: number[][] = [];
    for (let r = 0; r * columns < hidden.length; r++) grid.push(hidden.slice(r * columns, (r + 1) * columns));
    while (grid.length > 1 && grid[grid.length - 1]!.length < columns) grid[grid.length - 1]!.push(0);
    let scores: HTMLElement;
    if (tagger.binary !== null) {
      const s = logits[0]!;
      const p = 1 / (1 + Math.exp(-s));
      scores = h(
        "div",
        { "data-binary": tagger.binary },
        h("p", {}, `s = uᵀh = ${formatNumber(s)}`),
        h("p", {}, `σ(s) = ${p.toFixed(3)}: ${p > 0.5 ? `a ${tagger.binary}` : `not a ${tagger.binary}`}`),
      );
    } else {
      const max = Math.max(...logits);
      const exps = logits.map((v) => Math.exp(v - max));
      const total = exps.reduce((a, b) => a + b, 0);
      const rows = tagger
        .tagSet!.tags.map((tag, i) => ({ tag, p: exps[i]! / total, logit: logits[i]! }))
        .sort((a, b) => b.p - a.p);
      scores = h(
        "table",
        { class: "scores" },
        h(
          "caption",
          { class: "hint" },
          model.config.objective === "sentence"
            ? "softmax(Uh + b₂) of this window alone (the CRF tags the whole sentence, adding transition scores)"
            : "softmax(Uh + b₂): probability of each tag",
        ),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "tag"),
            h("th", { scope: "col" }, "p"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "bar")),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map((row) =>
            h(
              "tr",
              {},
              h("td", {}, row.tag),
              h("td", {}, row.p.toFixed(3)),
              h(
                "td",
                { style: "width: 140px" },
                h("div", { class: "bar", style: `width:${Math.max(1, row.p * 140)}px` }),
              ),
            ),
          ),
        ),
      );
    }
    const token = tagged.tokens[index]!;
    replace(
      inspectBox,
      h("h3", {}, `“${token.text}”: ${token.tag}`),
      h(
        "p",
        { class: "hint" },
        `The window x = [x_{t−${w}}; …; x_{t+${w}}]: each word's vector (its vocabulary entry) and casing class`,
      ),
      h("div", { class: "window" }, windowWords),
      h(
        "p",
        { class: "hint" },
        `The hidden layer h = ${model.config.activation}(Wx + b): ${hidden.length} units`,
      ),
      heatmap(grid, "h", { maxWidth: 300, maxHeight: 160 }),
      scores,
    );
  }

  const tagForm = h(
    "form",
    {
      onsubmit: (event: Event) => {
        event.preventDefault();
        tag();
      },
    },
    field("Sentence", textInput),
    exampleButtons("The lecture's examples", EXAMPLES, (example) => {
      textInput.value = example.text;
      tag();
    }),
    h("div", { class: "buttons" }, tagButton),
  );

  setButtons();
  return h(
    "div",
    { class: "ner" },
    h("h2", {}, "The window classifier"),
    h(
      "p",
      { class: "intro" },
      "The lecture's named-entity classifier: for each word, the vectors of the five words around it, x = [x_{t−2}; …; x_{t+2}], go through h = tanh(Wx + b) and a softmax over the tags (or s = uᵀh and J = σ(s) for “is it a location?”). It trains here, on the Wikigold data and GloVe vectors shipped with chainrule.",
    ),
    h(
      "div",
      { class: "ner-grid" },
      h(
        "section",
        { class: "card", "aria-label": "Training" },
        h("h3", {}, "Train"),
        h("div", { class: "row" }, field("Model", modelSelect), field("Epochs", epochsInput)),
        settings.element,
        h("div", { class: "buttons" }, trainButton, stopButton, continueButton),
        status,
        progress,
        progressText,
        chartBox,
        epochTable,
        h("h3", {}, "The model"),
        modelInfo,
        h("div", { class: "buttons" }, downloadButton, downloadConfig),
        field("Load a model (.safetensors, or config.json + model.safetensors)", loadInput),
        loadError,
      ),
      h(
        "section",
        { class: "card", "aria-label": "Tagging" },
        h("h3", {}, "Tag a sentence"),
        tagForm,
        taggedBox,
        inspectBox,
      ),
    ),
  );
}
