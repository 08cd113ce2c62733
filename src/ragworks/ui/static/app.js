// The dashboard's router: views are chosen by the URL fragment (#/jobs?status=dead, #/jobs/<id>, ...)
// and the visible one refreshes itself every few seconds.
import { h, onUnauthorized, session, Unauthorized } from "./core.js";
import { overview } from "./overview.js";
import { jobDetail, jobs } from "./jobs.js";
import { collectionDetail, collections, upload } from "./collections.js";
import { search } from "./search.js";

const REFRESH_MS = 3000;
const VIEWS = [
  [/^overview$/, "overview", () => overview],
  [/^jobs$/, "jobs", () => jobs],
  [/^jobs\/(.+)$/, "jobs", (m) => (view, params) => jobDetail(view, decodeURIComponent(m[1]), params)],
  [/^collections$/, "collections", () => collections],
  [/^collections\/(.+)$/, "collections",
    (m) => (view, params) => collectionDetail(view, decodeURIComponent(m[1]), params)],
  [/^upload$/, "upload", () => upload],
  [/^search$/, "search", () => search],
];

let current = { refresh: null, generation: 0 };

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "") || "overview";
  const [path, queryText = ""] = raw.split("?");
  return { path, params: Object.fromEntries(new URLSearchParams(queryText)) };
}

async function route() {
  const { path, params } = parseHash();
  const view = document.getElementById("view");
  const generation = ++current.generation;
  current.refresh = null;
  view.replaceChildren();
  for (const [pattern, nav, make] of VIEWS) {
    const match = path.match(pattern);
    if (!match) continue;
    for (const link of document.querySelectorAll("header nav a")) {
      link.classList.toggle("active", link.dataset.view === nav);
    }
    try {
      const refresh = await make(match)(view, params);
      if (generation === current.generation) current.refresh = refresh || null;
    } catch (err) {
      if (!(err instanceof Unauthorized)) view.append(h("div", { class: "panel error" }, err.message));
    }
    return;
  }
  view.append(h("div", { class: "panel" }, "No such page. ", h("a", { href: "#/overview" }, "Overview")));
}

async function tick() {
  const live = document.getElementById("live");
  const refresh = current.refresh;
  if (refresh && !document.hidden && !tick.busy) {
    tick.busy = true;
    try {
      await refresh();
      live.classList.remove("stale");
      live.textContent = `live · ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      live.classList.add("stale");
      live.textContent = `offline: ${err.message}`;
    } finally {
      tick.busy = false;
    }
  }
  setTimeout(tick, REFRESH_MS);
}

// With auth on, the first call without a (valid) key lands here: ask for one, then show the view again.
function signIn(refused) {
  current.refresh = null;
  current.generation++;  // a view still loading must not draw over the form
  const sent = session.key();
  session.signOut();
  showSignOut();
  const view = document.getElementById("view");
  const existing = document.getElementById("sign-in");
  const reason = sent ? `${refused.code}: ${refused.message}` : "";
  if (existing) {
    if (reason) existing.querySelector(".error").textContent = reason;
    return;
  }
  const form = h("form", { class: "panel sign-in", id: "sign-in", "data-test": "sign-in" },
    h("h1", {}, "Sign in"),
    h("p", {}, "This server needs an API key. An admin key shows everything; ",
      h("code", {}, "ragworks keys create --admin --name me"), " makes one."),
    h("input", { type: "password", name: "key", placeholder: "rw_…", autocomplete: "off", required: true,
      "aria-label": "API key", "data-test": "api-key" }),
    h("button", { type: "submit", class: "primary", "data-test": "sign-in-submit" }, "Sign in"),
    h("p", { class: "error", "data-test": "sign-in-error" }, reason),
    h("p", { class: "muted" }, "The key is kept in this tab only, until you sign out or close it."));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    session.signIn(form.elements.key.value.trim());
    showSignOut();
    route();
  });
  view.replaceChildren(form);
  form.elements.key.focus();
}

function showSignOut() {
  document.getElementById("sign-out").hidden = !session.key();
}

document.getElementById("sign-out").addEventListener("click", (event) => {
  event.preventDefault();
  session.signOut();
  showSignOut();
  route();
});

onUnauthorized(signIn);
showSignOut();
window.addEventListener("hashchange", route);
route();
setTimeout(tick, REFRESH_MS);
