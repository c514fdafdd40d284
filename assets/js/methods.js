// The detail panel's tabs: "How it is computed" (the detail view, detail.js), "What it
// responds to" (attribution, views/attribution.js) and "What excites it most"
// (maximisation). Each method registers its tab with an object that asks the worker for the
// selected neuron or class and draws into its own panel; this module only switches between
// them. The tab bar follows the WAI-ARIA tabs pattern: one tab in the Tab order, arrow keys,
// Home and End move between tabs, and a tab shows its panel as soon as it is chosen.
//
// A method object: {
//   views: the names it answers in links (`view=<name>` in the address and in embed.html),
//   show(layer, channel, link): asks and draws for this target; `link` is null, or the
//     URLSearchParams of a link being restored (its `view` is one of `views`),
//   link(): what a link should carry to show the same again, e.g. {view: "gradcam", cam: …},
//   stop(): optional, called when another tab replaces it or the panel closes,
// }

const DETAIL = "detail";

export class MethodTabs {
  // panel: the <aside id="detail">; onChange(): the shown tab or view changed (the address).
  constructor(panel, { onChange = () => {} } = {}) {
    this.panel = panel;
    this.onChange = onChange;
    this.bar = panel.querySelector("[role=tablist]");
    this.methods = new Map();
    this.current = DETAIL;
    this.target = null;
    this.pending = null;  // a link's URLSearchParams for the next show
    this.bar.addEventListener("click", (event) => {
      const tab = event.target.closest("[role=tab]");
      if (tab) this.select(tab.dataset.methodTab);
    });
    this.bar.addEventListener("keydown", (event) => this.#key(event));
  }

  // Adds a method's tab (its button carries data-method-tab=`name`; hidden until now).
  register(name, method) {
    this.methods.set(name, method);
    this.#tab(name).hidden = false;
  }

  #tab(name) {
    return this.bar.querySelector(`[data-method-tab="${CSS.escape(name)}"]`);
  }

  #tabs() {
    return [...this.bar.querySelectorAll("[role=tab]")].filter((tab) => !tab.hidden);
  }

  #key(event) {
    const tabs = this.#tabs();
    const at = tabs.indexOf(event.target.closest("[role=tab]"));
    if (at < 0) return;
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    this.select(next.dataset.methodTab, { focus: true });
  }

  // The tab that owns a link's `view=` name (a method's own name or one of its views).
  owner(view) {
    if (!view) return null;
    for (const [name, method] of this.methods) {
      if (name === view || method.views.includes(view)) return name;
    }
    return null;
  }

  // What a link should carry for the shown tab ({} for the detail view).
  link() {
    if (this.current === DETAIL) return {};
    return this.methods.get(this.current).link();
  }

  // Shows tab `name` for the current target. `link` (URLSearchParams) is a link being
  // restored, handed to the method's next show; `show: false` waits for setTarget to draw.
  select(name, { focus = false, link = null, show = true } = {}) {
    if (name !== DETAIL && !this.methods.has(name)) return Promise.resolve();
    const previous = this.current;
    if (previous !== name) this.methods.get(previous)?.stop?.();
    this.current = name;
    for (const tab of this.bar.querySelectorAll("[role=tab]")) {
      const chosen = tab.dataset.methodTab === name;
      tab.setAttribute("aria-selected", String(chosen));
      tab.tabIndex = chosen ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !chosen;
    }
    if (focus) this.#tab(name).focus();
    this.panel.dataset.method = name;
    this.pending = link;
    this.onChange();
    return show ? this.#show() : Promise.resolve();
  }

  // A new neuron or class is selected: the chosen tab shows it (the detail view is drawn
  // by the caller). Resolves once the tab has drawn.
  setTarget(layer, channel) {
    this.target = { layer, channel };
    return this.#show();
  }

  async #show() {
    const link = this.pending;
    this.pending = null;
    if (this.current === DETAIL || !this.target) return;
    await this.methods.get(this.current).show(this.target.layer, this.target.channel, link);
    this.onChange();
  }

  // The panel closes: the method stops; the same tab opens with the next target.
  close() {
    this.methods.get(this.current)?.stop?.();
    this.target = null;
  }
}
