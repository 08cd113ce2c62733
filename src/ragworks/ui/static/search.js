// Search playground: one query through the keyword leg, the vector leg and the hybrid fusion, side by side.
import { api, h, highlighted, query } from "./core.js";

const LEGS = [["keyword", "Keyword (BM25)"], ["vector", "Vector (embeddings)"], ["hybrid", "Hybrid (fused)"]];

export async function search(view, params) {
  const names = (await api("/v1/collections")).collections.map((c) => c.name);
  const chosen = params.collections ? params.collections.split(",") : names.slice(0, 1);
  const form = h("form", { class: "filters", "data-test": "search-form" },
    h("label", {}, "Query", h("input", { type: "search", name: "q", value: params.q || "", required: true,
      placeholder: "what to search for", "data-test": "search-query" })),
    h("label", {}, "Collections", h("select", { name: "collections", multiple: true, size: Math.min(4, Math.max(names.length, 1)),
      "data-test": "search-collections" }, names.map((n) => h("option", { value: n, selected: chosen.includes(n) }, n)))),
    h("label", {}, "Top k", h("input", { type: "number", name: "k", min: 1, max: 50, value: params.k || 5,
      style: "min-width:70px;width:70px" })),
    h("button", { class: "primary", type: "submit", "data-test": "search-submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const selected = [...form.collections.selectedOptions].map((o) => o.value).join(",");
    const target = `#/search${query({ q: form.q.value, collections: selected, k: form.k.value })}`;
    if (location.hash === target) run(); else location.hash = target;
  });
  const legs = h("div", { class: "legs", "data-test": "search-legs" });
  view.append(h("h1", {}, "Search playground"), h("div", { class: "panel" }, form), legs);
  const run = async () => {
    const text = form.q.value.trim();
    const collections = [...form.collections.selectedOptions].map((o) => o.value);
    if (!text || !collections.length) return;
    legs.replaceChildren(...LEGS.map(([, title]) => h("div", { class: "panel" }, h("h2", {}, title), "searching…")));
    const outs = await Promise.all(LEGS.map(([mode]) => api("/v1/retrieve", { method: "POST",
      json: { query: text, collections, top_k: Number(form.k.value) || 5, mode } })
      .catch((err) => ({ error: err.message }))));
    legs.replaceChildren(...LEGS.map(([mode, title], i) => leg(mode, title, outs[i])));
  };
  if (!names.length) legs.append(h("div", { class: "panel empty" }, "No collection to search yet."));
  await run();
  return null; // a search runs when asked, not on every refresh
}

function leg(mode, title, out) {
  if (out.error) return h("div", { class: "panel", "data-test": `leg-${mode}` }, h("h2", {}, title),
    h("div", { class: "error" }, out.error));
  const meta = `${out.results.length} results · ${out.took_ms.toFixed(1)} ms · query language ${out.query_language}` +
    (mode === "hybrid" ? ` · vector weight ${out.vector_weight.toFixed(2)}` : "");
  return h("div", { class: "panel", "data-test": `leg-${mode}` }, h("h2", {}, title), h("div", { class: "sub muted" }, meta),
    out.results.length ? out.results.map((hit, rank) => h("div", { class: "hit", "data-test": "hit" },
      h("div", { class: "head" }, h("span", {}, `#${rank + 1} · ${hit.collection} / ${hit.title || hit.document_id}`,
        hit.page ? ` · p. ${hit.page}` : ""), h("span", { class: "mono" }, hit.score.toFixed(4))),
      h("div", { class: "text" }, hit.highlights && hit.highlights.length
        ? highlighted(hit.highlights[0]) : hit.text.slice(0, 300))))
      : h("div", { class: "empty" }, "No results."));
}
