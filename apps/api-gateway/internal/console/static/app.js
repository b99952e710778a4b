// The staff console: a client of the gateway's public REST API and nothing
// else. The access token lives in this module's memory only; the refresh
// token is an HttpOnly cookie the page cannot read (the gateway's browser
// session), renewed with the CSRF token from the pms_csrf cookie.
// Everything shown is set as text, never as markup.
//
// Money is safe to post: every form that creates something keeps one
// Idempotency-Key from its first submit until the API has given a final
// answer, and a form cannot be submitted again while its request is in
// flight, so a double-click or a retry after a lost answer posts once.

import { formatMinor, toMinor, label, formatDate, formatTime } from "./format.js";
import { billingViews } from "./billing.js";
import { adminViews } from "./admin.js";

const session = { token: null, claims: null, timer: null, flash: null };
const main = document.getElementById("main");
const can = {
  write: () => ["admin", "clinician"].includes(session.claims?.role),
  admin: () => session.claims?.role === "admin",
  // Billing (docs/billing.md, "Roles"): everyone finds accounts and posts
  // charges; billing staff and admins do the rest.
  bill: () => ["admin", "billing"].includes(session.claims?.role),
};

// ---- DOM ----------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (v === true) n.setAttribute(k, "");
    else n.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : String(c));
  }
  return n;
}

// show replaces the page's content, with the confirmation of the last
// action (flash) first, and moves focus to the page's heading so that a
// screen reader announces the new page.
function show(...nodes) {
  const flash = session.flash && el("div", { class: "banner info", role: "status", id: "flash" }, session.flash);
  session.flash = null;
  main.replaceChildren(...[flash, ...nodes].filter(Boolean));
  const h = main.querySelector("h2");
  if (h && !main.contains(document.activeElement)) {
    h.tabIndex = -1;
    h.focus({ preventScroll: true });
  }
}

// card is a page section with a heading.
function card(title, ...children) {
  return el("section", { class: "card" }, el("h2", {}, title), ...children);
}

// field is a toolbar's labelled control (its label above it), with
// whatever follows it (an error line).
function field(text, input, ...after) {
  return el("div", { class: "field" }, el("label", { for: input.id }, text), input, ...after);
}

function banner(text, kind = "error") {
  return el("div", { class: `banner ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// tableOf is a table whose rows stack as cards on a narrow screen, each
// cell labelled with its column (data-label, which the style sheet shows);
// a table still wider than its card scrolls inside it (the region can be
// focused, so a keyboard can scroll it too).
function tableOf(id, headers, rows, caption) {
  for (const row of rows) [...row.children].forEach((td, i) => { if (headers[i]) td.dataset.label = headers[i]; });
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption }, el("table", { id },
    caption && el("caption", { class: "visually-hidden" }, caption),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, rows)));
}

function problemText(res) {
  const p = res.body || {};
  return p.detail || p.title || `The request failed (${res.status}).`;
}

// busy runs fn with button disabled and labelled as working, once at a
// time: a second click while fn runs does nothing.
async function busy(button, working, fn) {
  if (button.disabled) return undefined;
  const idle = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = working;
  try {
    return await fn();
  } finally {
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = idle;
    }
  }
}

// ---- API ----------------------------------------------------------------

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)pms_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function claimsOf(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part));
}

function begin(s) {
  session.token = s.accessToken;
  session.claims = claimsOf(s.accessToken);
  clearTimeout(session.timer);
  // Renew a minute before the access token expires.
  session.timer = setTimeout(renew, Math.max(10, s.expiresIn - 60) * 1000);
}

function end() {
  clearTimeout(session.timer);
  session.token = null;
  session.claims = null;
}

async function call(method, path, body, headers = {}) {
  const h = { ...headers };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  } catch (e) {
    return { status: 0, headers: new Headers(), body: { detail: "The gateway cannot be reached. Check the connection and try again." } };
  }
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json().catch(() => null) : null;
  return { status: resp.status, headers: resp.headers, body: data };
}

// api calls the API with the access token; on 401 it renews the session
// once and retries, and without a session it shows the login.
async function api(method, path, body, headers) {
  let res = await call(method, path, body, headers);
  if (res.status === 401 && (await renew())) res = await call(method, path, body, headers);
  if (res.status === 401) {
    end();
    route();
  }
  return res;
}

async function renew() {
  const res = await call("POST", "/auth/refresh", undefined, { "X-PMS-Session": "cookie", "X-CSRF-Token": csrfToken() });
  if (res.status !== 200) return false;
  begin(res.body);
  return true;
}

// nextCursor is the cursor of a page's next link, or "".
function nextCursor(body) {
  return body?.next ? new URL(body.next, location.origin).searchParams.get("cursor") || "" : "";
}

// ---- Forms --------------------------------------------------------------

// fieldForm is a form of fields ({name, label, type, required, options,
// digits, signed, hint}). Submitting it sends the fields' values to
// onSubmit(body, key), where key is the form's Idempotency-Key: the same
// for every submit until an answer says the request was refused (a 4xx),
// so a retry after a lost answer or a timeout replays instead of posting
// again. The API's answer, when onSubmit returns it, puts each field error
// beside its field and moves focus to the first; a field of type "money"
// is sent as <name>Minor, an integer of minor units.
function fieldForm(id, prefix, fields, values, submitLabel, onSubmit, opts = {}) {
  const inputs = {};
  const errors = {};
  const children = [];
  for (const f of fields) {
    const fid = `${prefix}-${f.name}`;
    const described = `err-${fid}${f.hint ? ` hint-${fid}` : ""}`;
    const common = { id: fid, name: f.name, required: f.required, "aria-required": f.required ? "true" : undefined, "aria-describedby": described };
    const input = f.type === "select"
      ? el("select", common, f.options.map((o) => el("option", { value: o, selected: (values[f.name] ?? "") === o }, o ? label(o) : "—")))
      : el("input", { ...common, type: f.type === "money" ? "text" : f.type, inputmode: f.type === "money" ? "decimal" : f.type === "number" ? "numeric" : undefined,
        value: values[f.name] ?? "", autocomplete: f.autocomplete || "off" });
    inputs[f.name] = input;
    errors[f.name] = el("span", { class: "field-error", id: `err-${fid}` });
    children.push(el("label", { for: fid }, f.label, f.required && el("span", { class: "req", "aria-hidden": "true" }, " *")),
      el("div", {}, input, f.hint && el("span", { class: "hint", id: `hint-${fid}` }, f.hint), errors[f.name]));
  }
  const top = el("div");
  const clear = () => {
    for (const name in errors) {
      errors[name].textContent = "";
      inputs[name].classList.remove("invalid");
      inputs[name].removeAttribute("aria-invalid");
    }
    top.replaceChildren();
  };
  const place = (field, message) => {
    const name = field.endsWith("Minor") && errors[field.slice(0, -5)] ? field.slice(0, -5) : field;
    if (!errors[name]) return false;
    errors[name].textContent = message;
    inputs[name].classList.add("invalid");
    inputs[name].setAttribute("aria-invalid", "true");
    return true;
  };
  const focusFirstError = () => {
    const first = fields.map((f) => inputs[f.name]).find((i) => i.getAttribute("aria-invalid") === "true");
    (first || top.querySelector("[role=alert]"))?.focus();
  };
  const submit = el("button", { type: "submit" }, submitLabel);
  // novalidate: the form checks what it can and the API the rest, and each
  // says what is wrong beside the field.
  const form = el("form", { class: "grid", id, novalidate: true },
    el("p", { class: "hint form-note" }, "Fields marked * are required."), ...children,
    el("div", { class: "actions" }, submit, opts.cancel && el("button", { type: "button", class: "secondary", onclick: opts.cancel }, "Cancel")));
  let key = null;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, opts.working || "Saving…", async () => {
      clear();
      const body = {};
      let bad = false;
      for (const f of fields) {
        const raw = inputs[f.name].value;
        const v = f.type === "password" ? raw : raw.trim();
        if (v === "") {
          if (f.required) bad = place(f.name, `Enter ${f.label.toLowerCase()}.`) || true;
          continue;
        }
        if (f.type === "money") {
          const minor = toMinor(v, f.digits);
          if (minor === null) bad = place(f.name, `Enter an amount like ${formatMinor(1234, f.digits)}, with at most ${f.digits} decimal${f.digits === 1 ? "" : "s"}.`) || true;
          else if (f.signed ? minor === 0 : minor <= 0) bad = place(f.name, `Enter an amount ${f.signed ? "other than" : "greater than"} ${formatMinor(0, f.digits)}.`) || true;
          else body[`${f.name}Minor`] = minor;
        } else if (f.type === "number") {
          if (!/^\d+$/.test(v) || Number(v) < 1) bad = place(f.name, "Enter a whole number of 1 or more.") || true;
          else body[f.name] = Number(v);
        } else body[f.name] = v;
      }
      if (bad) return focusFirstError();
      key ??= crypto.randomUUID();
      const res = await onSubmit(body, key);
      if (!res) {
        key = null;
        return undefined;
      }
      // A 4xx is a final refusal: nothing was created, so the next submit
      // (with corrected fields) is a new request. Anything else (no answer,
      // 5xx) may have been done: the retry keeps the key and replays.
      if (res.status >= 400 && res.status < 500) key = null;
      const unplaced = (res.body?.errors || []).filter((f) => !place(f.field, f.message)).map((f) => `${f.field}: ${f.message}`);
      if (!res.body?.errors?.length || unplaced.length) top.replaceChildren(banner([problemText(res), ...unplaced].join(" ")));
      return focusFirstError();
    });
  });
  return el("div", {}, top, form);
}

// revealed is a button that opens a form in place, moving focus into it,
// and closes it again (Cancel or after success).
function revealed(buttonId, buttonLabel, title, makeForm) {
  const holder = el("div", { hidden: true });
  const open = el("button", { type: "button", class: "secondary", id: buttonId, "aria-expanded": "false" }, buttonLabel);
  const close = () => {
    holder.hidden = true;
    holder.replaceChildren();
    open.setAttribute("aria-expanded", "false");
    open.focus();
  };
  open.addEventListener("click", () => {
    if (!holder.hidden) return close();
    holder.replaceChildren(el("section", { class: "card inset" }, el("h3", {}, title), makeForm(close)));
    holder.hidden = false;
    open.setAttribute("aria-expanded", "true");
    holder.querySelector("input, select")?.focus();
  });
  return { button: open, panel: holder };
}

// ---- Views: login and patients ----------------------------------------

function loginView(message) {
  const error = el("div");
  const submit = el("button", { type: "submit" }, "Log in");
  const form = el("form", { class: "grid", id: "login-form" },
    el("label", { for: "email" }, "Email"), el("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true }),
    el("label", { for: "password" }, "Password"), el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    el("div", { class: "actions" }, submit));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, "Logging in…", async () => {
      const res = await call("POST", "/auth/login", { email: form.email.value, password: form.password.value }, { "X-PMS-Session": "cookie" });
      if (res.status !== 200) {
        error.replaceChildren(banner(res.status === 401 ? "Wrong email or password." : problemText(res)));
        return;
      }
      begin(res.body);
      if (location.hash === "#/patients") route();
      else location.hash = "#/patients";
    });
  });
  show(card("Log in", message && banner(message, "info"), error, form));
  form.email.focus();
}

async function patientsView(params) {
  const q = params.get("q") || "";
  const dob = params.get("dob") || "";
  const cursor = params.get("cursor") || "";
  const query = new URLSearchParams({ limit: "20" });
  if (q) query.set("q", q);
  if (dob) query.set("birthDate", dob);
  if (cursor) query.set("cursor", cursor);
  const search = el("input", { id: "search-q", type: "search", name: "q", value: q, placeholder: "Surname, name, email or MRN" });
  const born = el("input", { id: "search-dob", type: "date", name: "dob", value: dob });
  const toolbar = el("form", { class: "toolbar search", id: "search-form", role: "search" },
    field("Name, email or MRN", search), field("Date of birth", born),
    el("button", { type: "submit" }, "Search"),
    can.write() && el("a", { class: "button secondary", href: "#/patients/new" }, "Register patient"));
  const hashOf = (c) => `#/patients?${new URLSearchParams({ ...(q && { q }), ...(dob && { dob }), ...(c && { cursor: c }) })}`;
  toolbar.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (search.value.trim()) p.set("q", search.value.trim());
    if (born.value) p.set("dob", born.value);
    location.hash = `#/patients?${p}`;
  });
  const res = await api("GET", `/patients?${query}`);
  if (res.status !== 200) return show(card("Patients", toolbar, banner(problemText(res))));
  const rows = res.body.items.map((p) => el("tr", {},
    el("td", {}, el("a", { href: `#/patients/${p.id}` }, p.name)), el("td", {}, p.mrn), el("td", {}, formatDate(p.dateOfBirth)),
    el("td", { class: "wrap" }, p.email)));
  const next = nextCursor(res.body);
  return show(card("Patients", toolbar,
    rows.length ? tableOf("patients", ["Name", "MRN", "Date of birth", "Email"], rows, "Patients")
      : el("p", { class: "muted" }, q || dob ? "No patient matches." : "No patients yet."),
    el("div", { class: "toolbar" }, cursor && el("a", { class: "button secondary", href: hashOf("") }, "First page"),
      next && el("a", { class: "button secondary", href: hashOf(next) }, "Next page"))));
}

const genders = ["", "female", "male", "other", "unknown"];

function patientForm(id, values, submitLabel, onSubmit, cancel) {
  return fieldForm(id, "f", [
    { name: "name", label: "Name", type: "text", required: true, autocomplete: "name" },
    { name: "email", label: "Email", type: "email", required: true, autocomplete: "email" },
    { name: "dateOfBirth", label: "Date of birth", type: "date", required: true },
    { name: "address", label: "Address", type: "text", required: true, autocomplete: "street-address" },
    { name: "phone", label: "Phone", type: "tel", autocomplete: "tel" },
    { name: "gender", label: "Gender", type: "select", options: genders },
  ], values, submitLabel, onSubmit, { cancel });
}

function newPatientView() {
  show(card("Register a patient",
    patientForm("patient-form", {}, "Register", async (body, key) => {
      const res = await api("POST", "/patients", body, { "Idempotency-Key": key });
      if (res.status === 201) {
        session.flash = res.headers.get("Idempotent-Replayed") === "true" ? `${res.body.name} was already registered.` : `${res.body.name} is registered.`;
        location.hash = `#/patients/${res.body.id}`;
        return null;
      }
      return res;
    }, () => history.back())));
  main.querySelector("input")?.focus();
}

function denied(what) {
  return show(card("Not available", banner(`${what} is not part of your role. Ask an administrator if you need it.`, "info"),
    el("p", {}, el("a", { href: "#/patients" }, "Back to the patients"))));
}

async function patientView(id) {
  const res = await api("GET", `/patients/${id}`);
  if (res.status !== 200) return show(card("Patient", banner(res.status === 404 || res.status === 410 ? "This patient's record does not exist or was deleted." : problemText(res))));
  const p = res.body;
  const etag = res.headers.get("ETag");
  const rows = [["MRN", p.mrn], ["Email", p.email], ["Date of birth", formatDate(p.dateOfBirth)], ["Address", p.address], ["Phone", p.phone],
    ["Gender", p.gender && label(p.gender)], ["Registered", formatDate(p.registeredDate)],
    ["Billing account", p.billingAccountId ? el("a", { href: `#/billing/${p.billingAccountId}`, id: "billing-account" }, "Open the account") : "not opened yet"],
    ["Version", p.version]];
  const status = el("div");
  const del = can.admin() ? el("button", { type: "button", class: "danger", id: "delete" }, "Delete") : null;
  del?.addEventListener("click", () => busy(del, "Deleting…", async () => {
    if (!confirm(`Delete ${p.name}'s record?`)) return;
    const r = await api("DELETE", `/patients/${id}`, undefined, { "If-Match": etag });
    if (r.status === 204) {
      session.flash = `${p.name}'s record is deleted.`;
      location.hash = "#/patients";
    } else status.replaceChildren(banner(r.status === 412 ? "This record was changed by someone else — reload before deleting." : problemText(r)));
  }));
  show(el("section", { class: "card" }, el("h2", { id: "patient-name" }, p.name), status,
    el("dl", { class: "record" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")])),
    el("div", { class: "toolbar" },
      can.write() && el("a", { class: "button", href: `#/patients/${id}/edit`, id: "edit" }, "Edit"),
      can.admin() && el("a", { class: "button secondary", href: `#/patients/${id}/audit`, id: "audit" }, "Audit trail"), del)));
}

async function editPatientView(id) {
  const res = await api("GET", `/patients/${id}`);
  if (res.status !== 200) return show(card("Edit patient", banner(problemText(res))));
  const etag = res.headers.get("ETag");
  const p = res.body;
  show(card(`Edit ${p.name}`,
    patientForm("patient-form", p, "Save", async (body) => {
      // PUT replaces every field; keep the ones the form does not show.
      const full = { ...body, registeredDate: p.registeredDate, mrn: p.mrn };
      const put = await api("PUT", `/patients/${id}`, full, { "If-Match": etag });
      if (put.status === 200) {
        session.flash = "Saved.";
        location.hash = `#/patients/${id}`;
        return null;
      }
      if (put.status === 412) {
        main.prepend(el("div", { class: "banner error", role: "alert", id: "conflict" }, "This record was changed by someone else — ",
          el("a", { href: `#/patients/${id}/edit`, onclick: (e) => { e.preventDefault(); editPatientView(id); } }, "reload"), " to see the current version."));
        return null;
      }
      return put;
    }, () => { location.hash = `#/patients/${id}`; })));
  main.querySelector("input")?.focus();
}

// userEmails maps user ids to emails, for admins (null for others or when
// the list cannot be read: ids are shown then).
async function userEmails() {
  if (!can.admin()) return null;
  const r = await api("GET", "/auth/users");
  return r.status === 200 ? new Map(r.body.items.map((u) => [u.id, u.email])) : null;
}

// auditActions are the actions the audit trail can be filtered by.
const auditActions = ["create", "create.replay", "create.match", "read", "read.version", "history", "search", "update",
  "patch", "delete", "audit.read", "import"];

// auditView shows one page of a patient's audit trail, newest first, as
// patient-service pages it. The hash keeps the filter, the page's cursor and
// the cursors of the pages before it ("back", "-" for the first), so "Newer
// entries" goes back without the API paging backwards.
async function auditView(id, params) {
  const action = params.get("action") || "";
  const cursor = params.get("cursor") || "";
  const back = (params.get("back") || "").split(",").filter(Boolean);
  const query = new URLSearchParams({ limit: "20", ...(action && { action }), ...(cursor && { cursor }) });
  const [res, emails, who] = await Promise.all([api("GET", `/patients/${id}/audit?${query}`), userEmails(), api("GET", `/patients/${id}`)]);
  if (res.status !== 200) return show(card("Audit trail", banner(problemText(res))));
  const hashOf = (a, c, b) => `#/patients/${id}/audit?${new URLSearchParams({ ...(a && { action: a }), ...(c && { cursor: c }), ...(b.length && { back: b.join(",") }) })}`;
  const filter = el("select", { id: "audit-action", onchange: (e) => { location.hash = hashOf(e.target.value, "", []); } },
    ["", ...auditActions].map((k) => el("option", { value: k, selected: k === action }, k ? label(k) : "Every action")));
  const rows = res.body.items.map((a) => el("tr", {},
    el("td", {}, formatTime(a.at)), el("td", {}, label(a.action)),
    el("td", { class: "wrap" }, emails?.get(a.userId) || a.userId), el("td", {}, label(a.role)), el("td", {}, label(a.outcome)),
    el("td", { class: "wrap" }, a.detail || "")));
  const next = res.body.next && new URL(res.body.next, location.origin).searchParams.get("cursor");
  const previous = back[back.length - 1];
  show(card(`Audit trail${who.status === 200 ? ` of ${who.body.name}` : ""}`,
    el("p", {}, el("a", { href: `#/patients/${id}` }, "Back to the record")),
    el("div", { class: "toolbar" }, el("label", { for: "audit-action" }, "Action"), filter,
      el("span", { class: "muted", id: "audit-page" }, `Page ${back.length + 1}, newest first`)),
    rows.length ? tableOf("audit-trail", ["When", "Action", "User", "Role", "Outcome", "Detail"], rows, "Audit trail")
      : el("p", { class: "muted" }, "No entries."),
    el("div", { class: "toolbar" },
      previous && el("a", { class: "button secondary", href: hashOf(action, previous === "-" ? "" : previous, back.slice(0, -1)) }, "Newer entries"),
      next && el("a", { class: "button secondary", href: hashOf(action, next, [...back, cursor || "-"]), id: "audit-next" }, "Older entries"))));
}

async function usersView() {
  const res = await api("GET", "/auth/users");
  if (res.status !== 200) return show(card("Users", banner(problemText(res))));
  const status = el("div", { id: "users-status" });
  const roles = ["admin", "clinician", "billing"];
  const rows = res.body.items.map((u) => {
    const role = el("select", { "aria-label": `Role of ${u.email}` }, roles.map((r) => el("option", { value: r, selected: r === u.role }, label(r))));
    const disabled = el("input", { type: "checkbox", checked: u.disabled, "aria-label": `${u.email} disabled` });
    const save = async (change, what) => {
      role.disabled = disabled.disabled = true;
      const r = await api("PATCH", `/auth/users/${u.id}`, change);
      role.disabled = disabled.disabled = false;
      status.replaceChildren(r.status === 200 ? banner(`Saved: ${u.email} ${what}.`, "info") : banner(problemText(r)));
    };
    role.addEventListener("change", () => save({ role: role.value }, `is now ${label(role.value).toLowerCase()}`));
    disabled.addEventListener("change", () => save({ disabled: disabled.checked }, disabled.checked ? "is disabled" : "is enabled"));
    return el("tr", {}, el("td", { class: "wrap" }, u.email), el("td", {}, role), el("td", {}, disabled));
  });
  const create = fieldForm("user-form", "u", [
    { name: "email", label: "Email", type: "email", required: true },
    { name: "password", label: "Password", type: "password", required: true, hint: "At least 12 characters.", autocomplete: "new-password" },
    { name: "role", label: "Role", type: "select", options: roles, required: true },
  ], { role: "clinician" }, "Create user", async (body) => {
    const r = await api("POST", "/auth/users", body);
    if (r.status === 201) {
      session.flash = `${body.email} can now log in as ${label(body.role).toLowerCase()}.`;
      usersView();
      return null;
    }
    return r;
  }, { working: "Creating…" });
  show(card("Users", status, tableOf("users", ["Email", "Role", "Disabled"], rows, "Users")),
    el("section", { class: "card" }, el("h2", {}, "New user"), create));
}

const ctx = { el, show, card, field, banner, tableOf, problemText, busy, api, can, session, nextCursor, fieldForm, revealed, userEmails };
const billing = billingViews(ctx);
const admin = adminViews(ctx);

// ---- Routing ------------------------------------------------------------

function navigation(active) {
  const nav = document.getElementById("nav");
  nav.hidden = !session.token;
  document.getElementById("menu").hidden = !session.token;
  for (const a of nav.querySelectorAll("a")) {
    a.hidden = (a.dataset.role === "admin" && !can.admin()) || (a.dataset.role === "billing" && !can.bill());
    a.classList.toggle("active", a.dataset.nav === active);
    if (a.dataset.nav === active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.getElementById("who").textContent = session.claims ? `${session.claims.email || session.claims.sub} (${label(session.claims.role)})` : "";
}

async function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  if (!session.token) {
    navigation(null);
    return loginView();
  }
  navigation(parts[0] || "patients");
  const params = new URLSearchParams(query);
  const [section, id, sub] = parts;
  switch (section) {
    case "users": return can.admin() ? usersView() : denied("Managing users");
    case "analytics": return can.admin() ? admin.analyticsView() : denied("Analytics");
    case "dead-letters": return can.admin() ? admin.deadLettersView(params) : denied("Dead letters");
    case "billing":
      if (id && sub === "statement") return can.bill() ? billing.statementView(id, params) : denied("Statements");
      if (id) return billing.accountView(id, params);
      return can.bill() ? billing.accountsView(params) : denied("The billing list");
    case "patients":
      if (id === "new") return can.write() ? newPatientView() : denied("Registering patients");
      if (id && sub === "edit") return can.write() ? editPatientView(id) : denied("Editing records");
      if (id && sub === "audit") return can.admin() ? auditView(id, params) : denied("The audit trail");
      if (id) return patientView(id);
      return patientsView(params);
    default:
      return patientsView(params);
  }
}

const logout = document.getElementById("logout");
logout.addEventListener("click", () => busy(logout, "Logging out…", async () => {
  const res = await call("DELETE", "/auth/refresh", undefined, { "X-PMS-Session": "cookie", "X-CSRF-Token": csrfToken() });
  if (res.status !== 204 && res.status !== 401) {
    // The session could not be ended: stay, and let the user try again.
    main.prepend(banner(`Logging out failed: ${problemText(res)} Try again.`));
    return;
  }
  end();
  location.hash = "";
  navigation(null);
  loginView("You are logged out.");
}));
document.getElementById("menu").addEventListener("click", (e) => {
  const open = e.currentTarget.getAttribute("aria-expanded") !== "true";
  e.currentTarget.setAttribute("aria-expanded", String(open));
  document.getElementById("nav").classList.toggle("open", open);
});
window.addEventListener("hashchange", () => {
  document.getElementById("nav").classList.remove("open");
  document.getElementById("menu").setAttribute("aria-expanded", "false");
  route();
});

// A reload keeps the session through the refresh cookie, if there is one.
(async () => {
  if (csrfToken()) await renew();
  route();
})();
