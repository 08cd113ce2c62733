// Jobs: the filtered list with keyset pages, and one job's attempts, error, progress and payload.
import { act, ago, api, badge, h, progress, query, table, when } from "./core.js";
import { retryEveryDead } from "./overview.js";

const STATUSES = ["", "queued", "running", "failed", "dead", "succeeded", "cancelled"];
const KINDS = ["", "document.ingest", "document.delete", "collection.drop", "service.run",
  "callback.deliver", "stream.publish"];
const PERIODS = [["", "any time"], ["900", "last 15 min"], ["3600", "last hour"], ["86400", "last 24 h"],
  ["604800", "last 7 days"]];

function select(name, options, value) {
  return h("select", { name, "data-test": `filter-${name}` }, options.map((o) => {
    const [val, text] = Array.isArray(o) ? o : [o, o || `any ${name}`];
    return h("option", { value: val, selected: val === (value || "") }, text);
  }));
}

export async function jobs(view, params) {
  const filters = { status: params.status || "", kind: params.kind || "", collection: params.collection || "",
    period: params.period || "" };
  const form = h("form", { class: "filters", "data-test": "job-filters" },
    h("label", {}, "Status", select("status", STATUSES, filters.status)),
    h("label", {}, "Kind", select("kind", KINDS, filters.kind)),
    h("label", {}, "Collection", h("input", { name: "collection", value: filters.collection,
      placeholder: "any collection", "data-test": "filter-collection" })),
    h("label", {}, "Created", select("period", PERIODS, filters.period)),
    h("button", { class: "primary", type: "submit" }, "Apply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    location.hash = `#/jobs${query(data)}`;
  });
  for (const el of form.querySelectorAll("select")) el.addEventListener("change", () => form.requestSubmit());
  const retryAll = h("button", { class: "danger", "data-test": "retry-all-dead",
    onclick: () => retryEveryDead(retryAll, { kind: filters.kind || null,
      collection: filters.collection || null }, () => refresh()) }, "Retry every dead job");
  const list = h("div", { "data-test": "job-list" });
  const pager = h("div", { class: "pager" });
  view.append(h("h1", {}, "Jobs"), h("div", { class: "panel" },
    h("div", { class: "row", style: "justify-content:space-between" }, form, retryAll), list, pager));

  const cursors = [null]; // the cursor of each page seen; the last one is shown
  const refresh = async () => {
    const since = filters.period ? Date.now() / 1000 - Number(filters.period) : null;
    const page = await api(`/v1/jobs${query({ status: filters.status, kind: filters.kind,
      collection: filters.collection, since, limit: 50, cursor: cursors[cursors.length - 1] })}`);
    list.replaceChildren(jobTable(page.jobs, refresh));
    const previous = h("button", { disabled: cursors.length === 1, onclick: () => { cursors.pop(); refresh(); } },
      "← Newer");
    const next = h("button", { "data-test": "next-page", disabled: !page.next_cursor,
      onclick: () => { cursors.push(page.next_cursor); refresh(); } }, "Older →");
    pager.replaceChildren(h("span", { class: "muted", style: "margin-right:auto" }, `page ${cursors.length}`),
      previous, next);
  };
  await refresh();
  return refresh;
}

function actions(job, done) {
  const out = [];
  if (["dead", "failed", "cancelled"].includes(job.status)) {
    const retry = h("button", { class: "small", "data-test": "retry",
      onclick: () => act(retry, async () => { await api(`/v1/jobs/${job.id}/retry`, { method: "POST" });
        return "Job queued again"; }, done) }, "Retry");
    out.push(retry);
  }
  if (["queued", "running", "failed"].includes(job.status)) {
    const cancel = h("button", { class: "small danger", "data-test": "cancel",
      onclick: () => act(cancel, async () => { await api(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
        return "Job cancelled"; }, done) }, "Cancel");
    out.push(cancel);
  }
  return out;
}

function jobTable(found, done) {
  const rows = found.map((j) => h("tr", { "data-test": "job-row", "data-job": j.id },
    h("td", {}, when(j.created_at)),
    h("td", {}, h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(j.id)}` }, j.id.slice(0, 12))),
    h("td", {}, j.kind),
    h("td", {}, j.collection || "—", j.document_id ? h("div", { class: "sub" }, j.document_id) : null),
    h("td", {}, badge(j.status)),
    h("td", { class: "num" }, `${j.attempts}/${j.max_attempts}`),
    h("td", {}, progress(j.progress), h("div", { class: "sub" }, j.stage || "")),
    h("td", { class: "error" }, j.error ? `${j.error.code}: ${j.error.message}` : ""),
    h("td", {}, actions(j, done))));
  return table(["Created", "Job", "Kind", "Collection / document", "Status", "Attempts#", "Progress",
    "Error", ""], rows, "No jobs match these filters.");
}

export async function jobDetail(view, id) {
  const body = h("div", { "data-test": "job-detail" });
  view.append(h("h1", {}, "Job ", h("span", { class: "mono" }, id)), body);
  const refresh = async () => {
    const job = await api(`/v1/admin/jobs/${encodeURIComponent(id)}`);
    body.replaceChildren(summary(job, refresh), history(job),
      h("div", { class: "row" },
        h("div", { class: "panel" }, h("h2", {}, "Payload"), h("pre", { "data-test": "payload" },
          JSON.stringify(job.payload ?? {}, null, 2))),
        h("div", { class: "panel" }, h("h2", {}, "Result"), h("pre", {}, JSON.stringify(job.result, null, 2)))));
  };
  await refresh();
  return refresh;
}

function summary(job, done) {
  const doc = job.collection && job.document_id
    ? h("a", { href: `#/collections/${encodeURIComponent(job.collection)}` },
      `${job.collection} / ${job.document_id}`) : job.collection || "—";
  return h("div", { class: "panel" },
    h("div", { class: "row", style: "justify-content:space-between" }, h("h2", {}, job.kind),
      h("div", {}, actions(job, done))),
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, badge(job.status)),
      h("dt", {}, "Attempts"), h("dd", { "data-test": "attempts" }, `${job.attempts} of ${job.max_attempts}`),
      h("dt", {}, "Progress"), h("dd", {}, progress(job.progress), ` ${Math.round(job.progress * 100)} %`,
        job.stage ? ` · stage ${job.stage}` : ""),
      h("dt", {}, "Document"), h("dd", {}, doc),
      h("dt", {}, "Error"), h("dd", { class: "error", "data-test": "error" },
        job.error ? `${job.error.code}: ${job.error.message}` : "—"),
      h("dt", {}, "Created"), h("dd", {}, `${when(job.created_at)} (${ago(job.created_at)})`),
      h("dt", {}, "Started"), h("dd", {}, when(job.started_at)),
      h("dt", {}, "Finished"), h("dd", {}, when(job.finished_at)),
      h("dt", {}, "Next attempt"), h("dd", {}, job.status === "failed" ? when(job.next_run_at) : "—")));
}

function history(job) {
  const rows = job.history.map((a, i) => h("tr", { "data-test": "attempt" },
    h("td", { class: "num" }, i + 1),
    h("td", {}, when(a.at)),
    h("td", {}, a.error_type || ""),
    h("td", { class: "num" }, a.status_code ?? ""),
    h("td", { class: "error" }, a.message || "")));
  return h("div", { class: "panel" }, h("h2", {}, `Failed attempts (${job.history.length})`),
    table(["#", "At", "Error", "Status#", "Message"], rows, "No failed attempt."));
}
