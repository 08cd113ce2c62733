// Overview: job totals, the last hour's throughput and depth, live workers and what each runs.
import { act, ago, api, badge, duration, h, number, table } from "./core.js";
import { throughputChart } from "./chart.js";

const STATUSES = ["queued", "running", "failed", "dead", "succeeded", "cancelled"];

export async function overview(view) {
  view.append(h("h1", {}, "Overview"));
  const body = h("div", { "data-test": "overview" });
  view.append(body);
  const refresh = async () => {
    const [stats, live] = await Promise.all([api("/v1/admin/overview"), api("/v1/admin/workers")]);
    body.replaceChildren(cards(stats), h("div", { class: "row" }, chartPanel(stats), workersPanel(live)),
      countsPanel(stats, refresh));
  };
  await refresh();
  return refresh;
}

function card(label, value, tone = "", test = "") {
  return h("div", { class: `card ${tone}`, "data-test": test || null },
    h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

function cards(stats) {
  const t = stats.totals;
  return h("div", { class: "cards" },
    card("Queue depth", number(stats.depth), "", "depth"),
    card("Running", number(t.running), ""),
    card("Waiting for retry", number(t.failed), t.failed ? "warn" : ""),
    card("Dead", h("a", { href: "#/jobs?status=dead" }, number(t.dead)), t.dead ? "bad" : "", "dead"),
    card("Succeeded", number(t.succeeded), "ok"),
    card("Oldest waiting", duration(stats.oldest_waiting_age_s)),
    card("Finished / min (1 h)", stats.throughput_per_minute.toFixed(1)));
}

function chartPanel(stats) {
  const last = stats.series[stats.series.length - 1] || { succeeded: 0, dead: 0, created: 0 };
  return h("div", { class: "panel chart" },
    h("h2", {}, "Last hour"),
    throughputChart(stats.series),
    h("div", { class: "legend" },
      h("span", {}, h("i", { style: "background:#86efac" }), "succeeded / min"),
      h("span", {}, h("i", { style: "background:#fca5a5" }), "dead / min"),
      h("span", {}, h("i", { style: "background:#2563eb" }), "queue depth"),
      h("span", {}, `this minute: ${last.created} created, ${last.succeeded + last.dead} finished`)));
}

function workersPanel(live) {
  const rows = live.workers.map((w) => h("tr", { "data-test": "worker" },
    h("td", {}, h("div", { class: "mono" }, w.owner), h("div", { class: "sub" }, `${w.host} · pid ${w.pid} · ${w.role}`)),
    h("td", {}, w.running.length
      ? w.running.map((j) => h("div", {},
        h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(j.job_id)}` }, j.job_id.slice(0, 12)),
        h("span", { class: "sub" }, ` ${j.kind} · ${j.lane} · ${duration(live.now - j.since)}`)))
      : h("span", { class: "muted" }, `idle · ${w.lanes.length} lanes`)),
    h("td", { class: "num" }, ago(w.last_seen, live.now))));
  return h("div", { class: "panel" },
    h("h2", {}, `Live workers (${live.workers.length})`),
    table(["Worker", "Running", "Last heartbeat#"], rows, "No worker has sent a heartbeat recently."));
}

function countsPanel(stats, refresh) {
  const kinds = [...new Set(stats.counts.map((c) => c.kind))].sort();
  const count = (kind, status) => stats.counts.find((c) => c.kind === kind && c.status === status)?.count || 0;
  const rows = kinds.map((kind) => h("tr", {},
    h("td", {}, h("a", { href: `#/jobs?kind=${encodeURIComponent(kind)}` }, kind)),
    STATUSES.map((status) => {
      const n = count(kind, status);
      return h("td", { class: "num" }, n
        ? h("a", { href: `#/jobs?kind=${encodeURIComponent(kind)}&status=${status}` }, number(n)) : "·");
    })));
  const retryAll = h("button", { class: "danger", "data-test": "retry-all-dead", disabled: !stats.totals.dead,
    onclick: () => retryEveryDead(retryAll, {}, refresh) }, "Retry every dead job");
  return h("div", { class: "panel" },
    h("div", { class: "row", style: "justify-content:space-between;align-items:center" },
      h("h2", {}, "Jobs by kind and status"), retryAll),
    table(["Kind", ...STATUSES.map((s) => `${s}#`)], rows, "No jobs yet."),
    h("div", { class: "sub muted", style: "margin-top:8px" }, "Statuses: ",
      STATUSES.map((s) => [badge(s), " "])));
}

export function retryEveryDead(button, filters, done) {
  const scope = [filters.kind, filters.collection].filter(Boolean).join(", ");
  if (!confirm(`Retry every dead job${scope ? ` (${scope})` : ""}?`)) return;
  act(button, async () => {
    const out = await api("/v1/admin/jobs/retry-dead", { method: "POST", json: filters });
    return `${number(out.retried)} dead jobs queued again`;
  }, done);
}
