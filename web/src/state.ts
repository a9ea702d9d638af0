/**
 * The view lives in the URL's fragment (`#tab=backprop&expr=…&at=…`), so that a link reproduces it. Only the
 * values that differ from the defaults are written.
 */
export type TabName = "backprop" | "byhand" | "ner";

export const TABS: readonly TabName[] = ["backprop", "byhand", "ner"];

export interface PlaygroundState {
  tab: TabName;
  /** The expression (shared by the first two tabs). */
  expr: string;
  /** Values for backprop: `x=1, y=2, z=0` or `W=[[1,2],[3,4]]`. */
  at: string;
  /** Shapes of the variables: `W: n×m, x: m` (symbolic for the derivation). */
  shapes: string;
  /** Sizes of the symbolic dimensions for random values and the check: `n=3, m=4`. */
  sizes: string;
  /** Variables to differentiate with respect to (empty: all). */
  wrt: string;
  /** Backward steps taken. */
  step: number;
  /** The sentence to tag. */
  text: string;
}

export const LECTURE_SENTENCE = "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.";

export const DEFAULTS: PlaygroundState = {
  tab: "backprop",
  expr: "(x + y) * max(y, z)",
  at: "x=1, y=2, z=0",
  shapes: "",
  sizes: "",
  wrt: "",
  step: 0,
  text: LECTURE_SENTENCE,
};

const KEYS = Object.keys(DEFAULTS) as (keyof PlaygroundState)[];

export function readState(hash: string): PlaygroundState {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const state: PlaygroundState = { ...DEFAULTS };
  for (const key of KEYS) {
    const value = params.get(key);
    if (value === null) continue;
    if (key === "tab")
      state.tab = (TABS as readonly string[]).includes(value) ? (value as TabName) : "backprop";
    else if (key === "step") state.step = Math.max(0, Number.parseInt(value, 10) || 0);
    else state[key] = value;
  }
  return state;
}

export function writeState(state: PlaygroundState): string {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    if (state[key] !== DEFAULTS[key] || key === "tab") params.set(key, String(state[key]));
  }
  return "#" + params.toString();
}

/** The shared, mutable state of the page, written to the URL whenever it changes. */
export class Store {
  state: PlaygroundState;
  constructor(initial: PlaygroundState) {
    this.state = initial;
  }
  update(patch: Partial<PlaygroundState>): void {
    this.state = { ...this.state, ...patch };
    const hash = writeState(this.state);
    if (hash !== location.hash) history.replaceState(null, "", hash);
  }
}
