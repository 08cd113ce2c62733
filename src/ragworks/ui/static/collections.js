// Collections and their documents with status, and the upload form (with its jobs watched live).
import { act, api, badge, h, number, progress, query, table, toast, when } from "./core.js";

export async function collections(view) {
  const list = h("div", { "data-test": "collection-list" });
  const form = h("form", { class: "filters" },
    h("label", {}, "New collection", h("input", { name: "name", required: true, pattern: "[a-z0-9_-]{1,64}",
      placeholder: "lowercase name" })),
    h("label", {}, "Language", h("select", { name: "language" },
      ["auto", "en", "ko"].map((l) => h("option", { value: l }, l)))),
    h("button", { class: "primary", type: "submit" }, "Create"));
  const refresh = async () => {
    const found = await api("/v1/collections");
    list.replaceChildren(table(["Name", "Language", "Documents#", "Chunks#", "Created"],
      found.collections.map((c) => h("tr", {},
        h("td", {}, h("a", { href: `#/collections/${encodeURIComponent(c.name)}` }, c.name),
          c.description ? h("div", { class: "sub" }, c.description) : null),
        h("td", {}, c.language), h("td", { class: "num" }, number(c.document_count)),
        h("td", { class: "num" }, number(c.chunk_count)), h("td", {}, when(c.created_at)))),
      "No collection yet: create one here or upload a file."));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(form.querySelector("button"), async () => {
      await api("/v1/collections", { method: "POST", json: Object.fromEntries(new FormData(form)) });
      form.reset();
      return "Collection created";
    }, refresh);
  });
  view.append(h("h1", {}, "Collections"), h("div", { class: "panel" }, form, list));
  await refresh();
  return refresh;
}

export async function collectionDetail(view, name, params) {
  const status = params.status || "";
  const filter = h("select", { "data-test": "document-status",
    onchange: (e) => { location.hash = `#/collections/${encodeURIComponent(name)}${query({ status: e.target.value })}`; } },
  ["", "queued", "processing", "ready", "failed", "deleted"].map((s) =>
    h("option", { value: s, selected: s === status }, s || "any status")));
  const list = h("div", { "data-test": "document-list" });
  const pager = h("div", { class: "pager" });
  view.append(h("h1", {}, h("a", { href: "#/collections" }, "Collections"), " / ", name),
    h("div", { class: "panel" }, h("div", { class: "filters" }, h("label", {}, "Status", filter),
      h("a", { class: "button", href: `#/jobs${query({ collection: name })}` }, "Jobs of this collection")),
    list, pager));
  const cursors = [null];
  const refresh = async () => {
    const page = await api(`/v1/collections/${encodeURIComponent(name)}/documents${query({ status, limit: 50,
      cursor: cursors[cursors.length - 1] })}`);
    list.replaceChildren(table(["Document", "Status", "Version#", "Chunks#", "Size#", "Updated", "Job", "Error"],
      page.documents.map((d) => h("tr", { "data-test": "document-row" },
        h("td", {}, h("div", {}, d.title || d.id), h("div", { class: "sub mono" }, d.id)),
        h("td", {}, badge(d.status)),
        h("td", { class: "num" }, `${d.version}`, h("div", { class: "sub" }, `active ${d.active_version ?? "—"}`)),
        h("td", { class: "num" }, number(d.chunk_count)),
        h("td", { class: "num" }, `${number(Math.ceil(d.size_bytes / 1024))} KiB`),
        h("td", {}, when(d.updated_at)),
        h("td", {}, d.job_id ? h("a", { class: "mono", href: `#/jobs/${d.job_id}` }, d.job_id.slice(0, 12)) : "—"),
        h("td", { class: "error" }, d.error ? `${d.error.code}: ${d.error.message}` : ""))),
      "No documents."));
    pager.replaceChildren(
      h("button", { disabled: cursors.length === 1, onclick: () => { cursors.pop(); refresh(); } }, "← Newer"),
      h("button", { disabled: !page.next_cursor, onclick: () => { cursors.push(page.next_cursor); refresh(); } },
        "Older →"));
  };
  await refresh();
  return refresh;
}

export async function upload(view) {
  const names = (await api("/v1/collections")).collections.map((c) => c.name);
  const form = h("form", { class: "filters", "data-test": "upload-form" },
    h("label", {}, "Collection", h("input", { name: "collection", list: "collection-names", required: true,
      value: names[0] || "", placeholder: "existing or new", "data-test": "upload-collection" })),
    h("datalist", { id: "collection-names" }, names.map((n) => h("option", { value: n }))),
    h("label", {}, "Files", h("input", { type: "file", name: "files", multiple: true, required: true,
      "data-test": "upload-files" })),
    h("button", { class: "primary", type: "submit", "data-test": "upload-submit" }, "Upload"));
  const results = h("div", { "data-test": "upload-results" });
  const accepted = [];
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(form.querySelector("button"), async () => {
      const collection = form.collection.value.trim();
      if (!names.includes(collection)) {
        await api("/v1/collections", { method: "POST", json: { name: collection } });
        names.push(collection);
      }
      const data = new FormData();
      for (const file of form.files.files) data.append("files", file);
      const out = await api(`/v1/collections/${encodeURIComponent(collection)}/documents`,
        { method: "POST", body: data });
      for (const doc of out.documents) accepted.push({ ...doc, collection });
      form.files.value = "";
      return `${out.documents.length} file(s) accepted`;
    }, refresh);
  });
  const refresh = async () => {
    const jobs = await Promise.all(accepted.map((d) => d.job_id
      ? api(`/v1/jobs/${d.job_id}`).catch(() => null) : Promise.resolve(null)));
    results.replaceChildren(table(["File", "Collection", "Accepted", "Job", "Job status", "Progress", "Error"],
      accepted.map((d, i) => {
        const job = jobs[i];
        const error = job?.error || d.error;
        return h("tr", { "data-test": "upload-row" },
          h("td", {}, d.filename || d.id), h("td", {}, d.collection), h("td", {}, d.status),
          h("td", {}, d.job_id ? h("a", { class: "mono", href: `#/jobs/${d.job_id}` }, d.job_id.slice(0, 12)) : "—"),
          h("td", {}, job ? badge(job.status) : "—"),
          h("td", {}, job ? progress(job.progress) : ""),
          h("td", { class: "error" }, error ? `${error.code}: ${error.message}` : ""));
      }), "Uploaded files and their jobs show here."));
  };
  view.append(h("h1", {}, "Upload"), h("div", { class: "panel" }, form,
    h("p", { class: "muted" }, "PDF, DOCX, HWP/HWPX, HTML, Markdown, text or JSON. Each file becomes a ",
      "document and an ingest job; its status updates here as it runs.")),
  h("div", { class: "panel" }, h("h2", {}, "This session's uploads"), results));
  await refresh();
  if (!names.length) toast("No collection yet: the name you type is created on upload");
  return refresh;
}
