/**
 * The playground's entry: three tabs (backprop step by step, derivation by hand, the window classifier), the
 * view kept in the URL, and one place where anything unexpected is shown in the page instead of the console.
 */
import "./style.css";
import { h, messageOf, replace } from "./dom.js";
import { Store, TABS, readState, type TabName } from "./state.js";
import { backpropPanel } from "./backprop/panel.js";
import { initWasm } from "./lib.js";

const store = new Store(readState(location.hash));
const main = document.getElementById("panel")!;
const banner = document.getElementById("global-error")!;
const tabButtons = new Map<TabName, HTMLButtonElement>();
for (const button of document.querySelectorAll<HTMLButtonElement>("[role=tab]")) {
  tabButtons.set(button.dataset.tab as TabName, button);
}

function showGlobalError(message: string): void {
  replace(
    banner,
    h("p", {}, `Something went wrong: ${message}`),
    h("button", { type: "button", onclick: () => (banner.hidden = true) }, "Dismiss"),
  );
  banner.hidden = false;
}

window.addEventListener("error", (event) => {
  event.preventDefault();
  showGlobalError(messageOf(event.error ?? event.message));
});
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  showGlobalError(messageOf(event.reason));
});

const panels = new Map<TabName, HTMLElement>();

async function createPanel(tab: TabName): Promise<HTMLElement> {
  switch (tab) {
    case "backprop":
      return backpropPanel(store);
    case "byhand":
      return (await import("./byhand/panel.js")).byHandPanel(store);
    case "ner":
      return (await import("./ner/panel.js")).nerPanel(store);
  }
}

let selecting = 0;

async function select(tab: TabName, focus = false): Promise<void> {
  const token = ++selecting;
  store.update({ tab });
  for (const [name, button] of tabButtons) {
    const selected = name === tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    if (selected && focus) button.focus();
  }
  for (const [name, panel] of panels) panel.hidden = name !== tab;
  if (panels.has(tab)) return;
  const holder = h("section", {
    id: `panel-${tab}`,
    role: "tabpanel",
    "aria-labelledby": `tab-${tab}`,
    tabindex: "-1",
  });
  panels.set(tab, holder);
  main.appendChild(holder);
  replace(holder, h("p", { class: "loading" }, "Loading…"));
  try {
    const content = await createPanel(tab);
    replace(holder, content);
  } catch (error) {
    panels.delete(tab);
    replace(
      holder,
      h("p", { class: "error", role: "alert" }, `This tab could not be loaded: ${messageOf(error)}`),
    );
  }
  if (token === selecting) holder.hidden = false;
}

for (const [name, button] of tabButtons) {
  button.addEventListener("click", () => void select(name));
  button.addEventListener("keydown", (event) => {
    const index = TABS.indexOf(name);
    let next: number | null = null;
    if (event.key === "ArrowRight") next = (index + 1) % TABS.length;
    else if (event.key === "ArrowLeft") next = (index + TABS.length - 1) % TABS.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = TABS.length - 1;
    if (next !== null) {
      event.preventDefault();
      void select(TABS[next]!, true);
    }
  });
}

void select(store.state.tab);

// A link or an edited address: switch tabs in place; other changes (an expression, values) rebuild the page.
window.addEventListener("hashchange", () => {
  const next = readState(location.hash);
  const { tab, ...rest } = next;
  const { tab: _current, ...now } = store.state;
  if (JSON.stringify(rest) !== JSON.stringify(now)) location.reload();
  else if (tab !== store.state.tab) void select(tab);
});

// The WebAssembly kernels compile after first paint; until then (or if this browser cannot) the JavaScript
// kernels compute the same numbers.
void initWasm().catch(() => undefined);
