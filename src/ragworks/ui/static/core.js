// Shared pieces of the dashboard: API calls, element building, formatting, notices.

// The API key the dashboard signs in with (servers with auth on), kept for this browser tab only.
const KEY_STORAGE = "ragworks.apiKey";
export const session = {
  key: () => sessionStorage.getItem(KEY_STORAGE),
  signIn: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  signOut: () => sessionStorage.removeItem(KEY_STORAGE),
};

// A 401: the server wants a key (code missing_api_key) or refused the one sent (invalid_api_key).
export class Unauthorized extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

let unauthorizedHandler = null;
// app.js shows the sign-in form through this when any call answers 401.
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

// Every request goes through here: it sends the session's key, if any, as a bearer token.
export async function api(path, options = {}) {
  const init = { ...options, headers: { Accept: "application/json", ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const key = session.key();
  if (key) init.headers.Authorization = `Bearer ${key}`;
  const response = await fetch(path, init);
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `${response.status} ${response.statusText}`;
    if (response.status === 401) {
      const refused = new Unauthorized(message, body && body.error ? body.error.code : "unauthorized");
      if (unauthorizedHandler) unauthorizedHandler(refused);
      throw refused;
    }
    throw new Error(message);
  }
  return body;
}

// h("td", {class: "num"}, "12") builds an element; children are nodes, strings or arrays of them.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function badge(status) {
  return h("span", { class: `badge ${status}`, "data-test": "status" }, status);
}

export function progress(value) {
  return h("div", { class: "progress", title: `${Math.round(value * 100)} %` },
    h("span", { style: `width:${Math.round(value * 100)}%` }));
}

export function ago(unix, now = Date.now() / 1000) {
  if (unix === null || unix === undefined) return "—";
  return duration(Math.max(0, now - unix)) + " ago";
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function when(unix) {
  if (!unix) return "—";
  const d = new Date(unix * 1000);
  return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit",
    minute: "2-digit", second: "2-digit" });
}

export const number = (n) => (n ?? 0).toLocaleString();

export function toast(message, isError = false) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = isError ? "show error" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = ""; }, 4000);
}

// Runs an action from a button: disables it meanwhile, reports the outcome, then refreshes the view.
export async function act(button, action, done) {
  button.disabled = true;
  try {
    const message = await action();
    if (message) toast(message);
    if (done) await done();
  } catch (err) {
    toast(err.message, true);
  } finally {
    button.disabled = false;
  }
}

// Snippets mark matched terms with <em>…</em>: keep those, render everything else as text.
export function highlighted(snippet) {
  const parts = snippet.split(/(<em>|<\/em>)/);
  const out = [];
  let inside = false;
  for (const part of parts) {
    if (part === "<em>") inside = true;
    else if (part === "</em>") inside = false;
    else if (part) out.push(inside ? h("em", {}, part) : part);
  }
  return out;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function table(headers, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { class: x.endsWith("#") ? "num" : "" },
      x.replace(/#$/, ""))))),
    h("tbody", {}, rows));
}
