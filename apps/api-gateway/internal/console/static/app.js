// The staff console: a client of the gateway's public REST API and nothing
// else. The access token lives in this module's memory only; the refresh
// token is an HttpOnly cookie the page cannot read (the gateway's browser
// session), renewed with the CSRF token from the pms_csrf cookie.
// Everything shown is set as text, never as markup.

const session = { token: null, claims: null, timer: null };
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

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function banner(text, kind = "error") {
  return el("div", { class: `banner ${kind}`, role: "alert" }, text);
}

function problemText(res) {
  const p = res.body || {};
  return p.detail || p.title || `The request failed (${res.status}).`;
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
    return { status: 0, headers: new Headers(), body: { detail: "The gateway cannot be reached." } };
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

// ---- Views --------------------------------------------------------------

function loginView(message) {
  const error = el("div");
  const form = el("form", { class: "grid", id: "login-form" },
    el("label", { for: "email" }, "Email"), el("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true }),
    el("label", { for: "password" }, "Password"), el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Log in")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await call("POST", "/auth/login", { email: form.email.value, password: form.password.value }, { "X-PMS-Session": "cookie" });
    if (res.status !== 200) {
      error.replaceChildren(banner(res.status === 401 ? "Wrong email or password." : problemText(res)));
      return;
    }
    begin(res.body);
    if (location.hash === "#/patients") route();
    else location.hash = "#/patients";
  });
  show(el("section", { class: "card" }, el("h2", {}, "Log in"), message && banner(message, "info"), error, form));
}

async function patientsView(params) {
  const q = params.get("q") || "";
  const cursor = params.get("cursor") || "";
  const query = new URLSearchParams({ limit: "20" });
  if (q) query.set("q", q);
  if (cursor) query.set("cursor", cursor);
  const search = el("input", { type: "search", name: "q", value: q, placeholder: "Name, email or MRN", "aria-label": "Search patients" });
  const toolbar = el("form", { class: "toolbar", id: "search-form" }, search, el("button", { type: "submit" }, "Search"),
    can.write() && el("a", { class: "button secondary", href: "#/patients/new" }, "Register patient"));
  toolbar.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#/patients?q=${encodeURIComponent(search.value.trim())}`;
  });
  const res = await api("GET", `/patients?${query}`);
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Patients"), toolbar, banner(problemText(res))));
  const rows = res.body.items.map((p) => el("tr", {},
    el("td", {}, el("a", { href: `#/patients/${p.id}` }, p.name)), el("td", {}, p.mrn), el("td", {}, p.dateOfBirth), el("td", {}, p.email)));
  let next = null;
  if (res.body.next) {
    const c = new URL(res.body.next, location.origin).searchParams.get("cursor");
    next = el("a", { class: "button secondary", href: `#/patients?q=${encodeURIComponent(q)}&cursor=${encodeURIComponent(c)}` }, "Next page");
  }
  show(el("section", { class: "card" }, el("h2", {}, "Patients"), toolbar,
    rows.length ? el("table", { id: "patients" }, el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "MRN"), el("th", {}, "Date of birth"), el("th", {}, "Email"))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, q ? "No patient matches." : "No patients yet."),
    el("div", { class: "toolbar" }, cursor && el("a", { class: "button secondary", href: `#/patients?q=${encodeURIComponent(q)}` }, "First page"), next)));
}

const patientFields = [
  ["name", "Name", "text", true],
  ["email", "Email", "email", true],
  ["dateOfBirth", "Date of birth", "date", true],
  ["address", "Address", "text", true],
  ["phone", "Phone", "tel", false],
  ["gender", "Gender", "select", false],
];

function patientForm(id, values, submitLabel, onSubmit) {
  const fields = patientFields.map(([name, label, type, required]) =>
    ({ name, label, type, required, options: type === "select" ? ["", "female", "male", "other", "unknown"] : undefined }));
  return fieldForm(id, "f", fields, values, submitLabel, onSubmit);
}

// fieldForm is a form of fields ({name, label, type, required, options,
// digits}) whose body goes to onSubmit; the API's answer, when onSubmit
// returns it, puts each field error beside its field (a field of type
// "money" is sent as <name>Minor, an integer of minor units).
function fieldForm(id, prefix, fields, values, submitLabel, onSubmit) {
  const inputs = {};
  const errors = {};
  const children = [];
  for (const f of fields) {
    const fid = `${prefix}-${f.name}`;
    const input = f.type === "select"
      ? el("select", { id: fid, name: f.name }, f.options.map((o) => el("option", { value: o, selected: values[f.name] === o }, o || "—")))
      : el("input", { id: fid, name: f.name, type: f.type === "money" ? "text" : f.type, inputmode: f.type === "money" ? "decimal" : undefined,
        value: values[f.name] ?? "", required: f.required });
    inputs[f.name] = input;
    errors[f.name] = el("span", { class: "field-error", id: `err-${fid}` });
    children.push(el("label", { for: fid }, f.label), el("div", {}, input, errors[f.name]));
  }
  const top = el("div");
  const place = (field, message) => {
    const name = field.endsWith("Minor") && errors[field.slice(0, -5)] ? field.slice(0, -5) : field;
    if (!errors[name]) return false;
    errors[name].textContent = message;
    inputs[name].classList.add("invalid");
    return true;
  };
  // novalidate: the API checks every field and says what is wrong with each.
  const form = el("form", { class: "grid", id, novalidate: true }, ...children,
    el("div", { class: "actions" }, el("button", { type: "submit" }, submitLabel)));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const name in errors) {
      errors[name].textContent = "";
      inputs[name].classList.remove("invalid");
    }
    top.replaceChildren();
    const body = {};
    let bad = false;
    for (const f of fields) {
      const v = inputs[f.name].value;
      if (v === "") continue;
      if (f.type === "money") {
        const minor = toMinor(v, f.digits);
        if (minor === null) bad = place(f.name, `must be an amount like ${formatMinor(1234, f.digits)}`) || true;
        else body[`${f.name}Minor`] = minor;
      } else if (f.type === "number") body[f.name] = /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      else body[f.name] = v;
    }
    if (bad) return;
    const res = await onSubmit(body);
    if (!res) return;
    // A 400 lists each bad field; show each message beside its field.
    const unplaced = (res.body?.errors || []).filter((f) => !place(f.field, f.message)).map((f) => `${f.field}: ${f.message}`);
    if (!res.body?.errors?.length || unplaced.length) top.replaceChildren(banner([problemText(res), ...unplaced].join(" ")));
  });
  return el("div", {}, top, form);
}

// ---- Money --------------------------------------------------------------
// Amounts are integers of minor units; they are turned into text and back
// with string operations only, never floating point.

function formatMinor(minor, digits = 2, currency = "") {
  const neg = minor < 0;
  let s = String(Math.abs(minor));
  if (digits > 0) {
    s = s.padStart(digits + 1, "0");
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  s = s.replace(/^(\d+)/, (d) => d.replace(/\B(?=(\d{3})+(?!\d))/g, ","));
  return `${neg ? "-" : ""}${s}${currency ? ` ${currency}` : ""}`;
}

// currencyDigits is the number of digits of a currency's minor unit, from
// the browser's ISO 4217 table (accounts carry it as minorUnitDigits).
function currencyDigits(code) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

// toMinor reads "1,234.5" as 123450 (two digits), or null when the text is
// not an amount with at most digits decimals.
function toMinor(text, digits = 2) {
  const t = text.trim().replace(/,/g, "");
  const m = t.match(digits > 0 ? new RegExp(`^(-?)(\\d+)(?:\\.(\\d{0,${digits}}))?$`) : /^(-?)(\d+)$/);
  if (!m) return null;
  const minor = Number(m[2] + (m[3] || "").padEnd(digits, "0"));
  if (!Number.isSafeInteger(minor)) return null;
  return m[1] ? -minor : minor;
}

function newPatientView() {
  show(el("section", { class: "card" }, el("h2", {}, "Register a patient"),
    patientForm("patient-form", {}, "Register", async (body) => {
      const res = await api("POST", "/patients", body, { "Idempotency-Key": crypto.randomUUID() });
      if (res.status === 201) {
        location.hash = `#/patients/${res.body.id}`;
        return null;
      }
      return res;
    })));
}

async function patientView(id) {
  const res = await api("GET", `/patients/${id}`);
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Patient"), banner(problemText(res))));
  const p = res.body;
  const etag = res.headers.get("ETag");
  const rows = [["MRN", p.mrn], ["Email", p.email], ["Date of birth", p.dateOfBirth], ["Address", p.address], ["Phone", p.phone],
    ["Gender", p.gender], ["Registered", p.registeredDate],
    ["Billing account", p.billingAccountId ? el("a", { href: `#/billing/${p.billingAccountId}`, id: "billing-account" }, "Open the account") : "not opened yet"],
    ["Version", p.version]];
  const status = el("div");
  const actions = el("div", { class: "toolbar" },
    can.write() && el("a", { class: "button", href: `#/patients/${id}/edit`, id: "edit" }, "Edit"),
    can.admin() && el("a", { class: "button secondary", href: `#/patients/${id}/audit`, id: "audit" }, "Audit trail"),
    can.admin() && el("button", { type: "button", class: "danger", id: "delete", onclick: async () => {
      if (!confirm(`Delete ${p.name}'s record?`)) return;
      const del = await api("DELETE", `/patients/${id}`, undefined, { "If-Match": etag });
      if (del.status === 204) location.hash = "#/patients";
      else status.replaceChildren(banner(del.status === 412 ? "This record was changed by someone else — reload before deleting." : problemText(del)));
    } }, "Delete"));
  show(el("section", { class: "card" }, el("h2", { id: "patient-name" }, p.name), status,
    el("dl", { class: "record" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")])), actions));
}

async function editPatientView(id) {
  const res = await api("GET", `/patients/${id}`);
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Edit patient"), banner(problemText(res))));
  const etag = res.headers.get("ETag");
  const p = res.body;
  show(el("section", { class: "card" }, el("h2", {}, `Edit ${p.name}`),
    patientForm("patient-form", p, "Save", async (body) => {
      // PUT replaces every field; keep the ones the form does not show.
      const full = { ...body, registeredDate: p.registeredDate, mrn: p.mrn };
      const put = await api("PUT", `/patients/${id}`, full, { "If-Match": etag });
      if (put.status === 200) {
        location.hash = `#/patients/${id}`;
        return null;
      }
      if (put.status === 412) {
        main.prepend(el("div", { class: "banner error", role: "alert", id: "conflict" }, "This record was changed by someone else — ",
          el("a", { href: `#/patients/${id}/edit`, onclick: (e) => { e.preventDefault(); editPatientView(id); } }, "reload"), " to see the current version."));
        return null;
      }
      return put;
    })));
}

async function auditView(id) {
  const res = await api("GET", `/patients/${id}/audit`);
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Audit trail"), banner(problemText(res))));
  show(el("section", { class: "card" }, el("h2", {}, "Audit trail"),
    el("p", {}, el("a", { href: `#/patients/${id}` }, "Back to the record")),
    el("table", { id: "audit-trail" }, el("thead", {}, el("tr", {}, ["When", "Action", "User", "Role", "Outcome"].map((h) => el("th", {}, h)))),
      el("tbody", {}, res.body.items.map((a) => el("tr", {}, el("td", {}, new Date(a.at).toLocaleString()), el("td", {}, a.action),
        el("td", {}, a.userId), el("td", {}, a.role), el("td", {}, a.outcome)))))));
}

async function usersView() {
  const res = await api("GET", "/auth/users");
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Users"), banner(problemText(res))));
  const status = el("div");
  const roles = ["admin", "clinician", "billing"];
  const rows = res.body.items.map((u) => {
    const role = el("select", { "aria-label": `Role of ${u.email}` }, roles.map((r) => el("option", { value: r, selected: r === u.role }, r)));
    const disabled = el("input", { type: "checkbox", checked: u.disabled, "aria-label": `${u.email} disabled` });
    const save = async (change) => {
      const r = await api("PATCH", `/auth/users/${u.id}`, change);
      status.replaceChildren(r.status === 200 ? banner(`Saved ${u.email}.`, "info") : banner(problemText(r)));
    };
    role.addEventListener("change", () => save({ role: role.value }));
    disabled.addEventListener("change", () => save({ disabled: disabled.checked }));
    return el("tr", {}, el("td", {}, u.email), el("td", {}, role), el("td", {}, disabled));
  });
  const create = el("form", { class: "grid", id: "user-form" },
    el("label", { for: "u-email" }, "Email"), el("input", { id: "u-email", name: "email", type: "email", required: true }),
    el("label", { for: "u-password" }, "Password"), el("input", { id: "u-password", name: "password", type: "password", minlength: "12", autocomplete: "new-password", required: true }),
    el("label", { for: "u-role" }, "Role"), el("select", { id: "u-role", name: "role" }, roles.map((r) => el("option", { value: r, selected: r === "clinician" }, r))),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Create user")));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("POST", "/auth/users", { email: create.email.value, password: create.password.value, role: create.role.value });
    if (r.status === 201) return usersView();
    status.replaceChildren(banner([problemText(r), ...(r.body?.errors || []).map((f) => `${f.field}: ${f.message}`)].join(" ")));
  });
  show(el("section", { class: "card" }, el("h2", {}, "Users"), status,
    el("table", { id: "users" }, el("thead", {}, el("tr", {}, el("th", {}, "Email"), el("th", {}, "Role"), el("th", {}, "Disabled"))), el("tbody", {}, rows))),
  el("section", { class: "card" }, el("h2", {}, "New user"), create));
}

// ---- Billing ------------------------------------------------------------

const statuses = ["ACTIVE", "ON_HOLD", "CLOSED"];

async function accountsView(params) {
  const status = params.get("status") || "";
  const cursor = params.get("cursor") || "";
  const query = new URLSearchParams({ limit: "20" });
  if (status) query.set("status", status);
  if (cursor) query.set("cursor", cursor);
  const filter = el("select", { "aria-label": "Status", onchange: (e) => { location.hash = `#/billing?status=${e.target.value}`; } },
    ["", ...statuses].map((s) => el("option", { value: s, selected: s === status }, s || "any status")));
  const res = await api("GET", `/billing/accounts?${query}`);
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Billing accounts"), banner(problemText(res))));
  const rows = res.body.items.map((a) => el("tr", {},
    el("td", {}, el("a", { href: `#/billing/${a.id}` }, a.id.slice(0, 8))), el("td", {}, a.status),
    el("td", { class: "num" }, formatMinor(a.balanceMinor, a.minorUnitDigits, a.currency)), el("td", {}, a.entryCount),
    el("td", {}, new Date(a.createdAt).toLocaleDateString())));
  let next = null;
  if (res.body.next) {
    const c = new URL(res.body.next, location.origin).searchParams.get("cursor");
    next = el("a", { class: "button secondary", href: `#/billing?status=${status}&cursor=${encodeURIComponent(c)}` }, "Next page");
  }
  show(el("section", { class: "card" }, el("h2", {}, "Billing accounts"), el("div", { class: "toolbar" }, filter),
    rows.length ? el("table", { id: "accounts" }, el("thead", {}, el("tr", {}, ["Account", "Status", "Balance", "Entries", "Opened"].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, "No accounts."),
    el("div", { class: "toolbar" }, next)));
}

function entryDetail(e, digits) {
  switch (e.kind) {
    case "CHARGE": return `${e.code} ${e.description} (${e.quantity} × ${formatMinor(e.unitPriceMinor, digits)}, ${e.serviceDate})`;
    case "PAYMENT": return `${e.method}${e.reference ? ` ${e.reference}` : ""}`;
    case "ADJUSTMENT": return `${e.adjustmentType}: ${e.reason}`;
    default: return `reverses #${e.reverses.slice(0, 8)}: ${e.reason}`;
  }
}

function ledgerTable(id, entries, digits, withBalance = true) {
  return el("table", { id }, el("thead", {}, el("tr", {}, ["#", "Posted", "Kind", "Detail", "Amount", withBalance && "Balance"].filter(Boolean).map((h) => el("th", {}, h)))),
    el("tbody", {}, entries.map((e) => el("tr", { class: e.reversedBy ? "reversed" : undefined },
      el("td", {}, e.sequence), el("td", {}, new Date(e.postedAt).toLocaleString()), el("td", {}, e.kind),
      el("td", {}, entryDetail(e, digits), e.reversedBy ? " (reversed)" : ""),
      el("td", { class: "num" }, formatMinor(e.amountMinor, digits)),
      withBalance && el("td", { class: "num" }, formatMinor(e.balanceAfterMinor, digits))))));
}

async function accountView(id, params) {
  const res = await api("GET", `/billing/accounts/${id}`);
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Billing account"), banner(problemText(res))));
  const a = res.body;
  const etag = res.headers.get("ETag");
  const digits = a.minorUnitDigits;
  // The patient's name is read from patient-service: billing keeps none.
  const who = await api("GET", `/patients/${a.patientId}`);
  const name = who.status === 200 ? who.body.name : `patient ${a.patientId.slice(0, 8)}`;
  const status = el("div", { id: "account-status" });
  const change = (action) => async () => {
    const r = await api("POST", `/billing/accounts/${id}/${action}`, undefined, { "If-Match": etag });
    if (r.status === 200) return accountView(id, params);
    status.replaceChildren(banner(r.status === 412 ? "The account changed since you opened it — reload." : problemText(r)));
  };
  const actions = can.bill() && a.status !== "CLOSED" && el("div", { class: "toolbar" },
    a.status === "ACTIVE" && el("button", { type: "button", class: "secondary", id: "hold", onclick: change("hold") }, "Put on hold"),
    a.status === "ON_HOLD" && el("button", { type: "button", class: "secondary", id: "release", onclick: change("release") }, "Release"),
    el("button", { type: "button", class: "danger", id: "close", onclick: async () => {
      if (confirm("Close this account for good? It will take no more charges.")) await change("close")();
    } }, "Close account"));
  const posting = (kind) => async (body) => {
    const r = await api("POST", `/billing/accounts/${id}/${kind}`, body, { "Idempotency-Key": crypto.randomUUID() });
    if (r.status === 201) {
      await accountView(id, params);
      return null;
    }
    return r;
  };
  const today = new Date().toISOString().slice(0, 10);
  const forms = [];
  if (a.status === "ACTIVE") {
    forms.push(el("section", { class: "card" }, el("h3", {}, "Post a charge"), fieldForm("charge-form", "c", [
      { name: "serviceDate", label: "Service date", type: "date", required: true },
      { name: "code", label: "Code", type: "text", required: true },
      { name: "description", label: "Description", type: "text", required: true },
      { name: "quantity", label: "Quantity", type: "number", required: true },
      { name: "unitPrice", label: `Unit price (${a.currency})`, type: "money", digits, required: true },
    ], { serviceDate: today, quantity: "1" }, "Post charge", posting("charges"))));
  }
  if (can.bill()) {
    forms.push(el("section", { class: "card" }, el("h3", {}, "Post a payment"), fieldForm("payment-form", "p", [
      { name: "amount", label: `Amount (${a.currency})`, type: "money", digits, required: true },
      { name: "method", label: "Method", type: "select", options: ["CARD", "CASH", "CHECK", "BANK_TRANSFER", "INSURANCE"] },
      { name: "reference", label: "Reference", type: "text" },
    ], {}, "Post payment", posting("payments"))));
    forms.push(el("section", { class: "card" }, el("h3", {}, "Post an adjustment"), fieldForm("adjustment-form", "a", [
      { name: "type", label: "Type", type: "select", options: ["WRITE_OFF", "REFUND", "CORRECTION"] },
      { name: "amount", label: `Amount (${a.currency})`, type: "money", digits, required: true },
      { name: "reason", label: "Reason", type: "text", required: true },
    ], {}, "Post adjustment", posting("adjustments"))));
  }
  let ledger = null;
  if (can.bill()) {
    const cursor = params.get("cursor") || "";
    const q = new URLSearchParams({ limit: "20" });
    if (cursor) q.set("cursor", cursor);
    const entries = await api("GET", `/billing/accounts/${id}/entries?${q}`);
    let next = null;
    if (entries.status === 200 && entries.body.next) {
      const c = new URL(entries.body.next, location.origin).searchParams.get("cursor");
      next = el("a", { class: "button secondary", id: "ledger-next", href: `#/billing/${id}?cursor=${encodeURIComponent(c)}` }, "Older entries");
    }
    const month = today.slice(0, 8) + "01";
    const period = el("form", { class: "toolbar", id: "statement-form" },
      el("label", { for: "s-from" }, "From"), el("input", { id: "s-from", type: "date", value: month }),
      el("label", { for: "s-to" }, "to"), el("input", { id: "s-to", type: "date", value: today }),
      el("button", { type: "submit", class: "secondary" }, "Statement"));
    period.addEventListener("submit", (e) => {
      e.preventDefault();
      location.hash = `#/billing/${id}/statement?from=${period.querySelector("#s-from").value}&to=${period.querySelector("#s-to").value}`;
    });
    ledger = el("section", { class: "card" }, el("h3", {}, "Ledger"), period,
      entries.status !== 200 ? banner(problemText(entries))
        : entries.body.items.length ? ledgerTable("ledger", entries.body.items, digits) : el("p", { class: "muted" }, "No entries yet."),
      el("div", { class: "toolbar" }, cursor && el("a", { class: "button secondary", href: `#/billing/${id}` }, "Newest entries"), next));
  }
  show(el("section", { class: "card" }, el("h2", {}, "Billing account"), status,
    el("dl", { class: "record" },
      el("dt", {}, "Patient"), el("dd", {}, el("a", { href: `#/patients/${a.patientId}`, id: "account-patient" }, name)),
      el("dt", {}, "Status"), el("dd", { id: "account-state" }, a.status),
      el("dt", {}, "Balance"), el("dd", { id: "balance" }, formatMinor(a.balanceMinor, digits, a.currency)),
      el("dt", {}, "Entries"), el("dd", {}, a.entryCount),
      el("dt", {}, "Opened"), el("dd", {}, new Date(a.createdAt).toLocaleDateString())),
    actions), ...forms, ledger);
}

async function statementView(id, params) {
  const from = params.get("from") || "", to = params.get("to") || "";
  const res = await api("GET", `/billing/accounts/${id}/statement?${new URLSearchParams({ from, to })}`);
  if (res.status !== 200) {
    return show(el("section", { class: "card" }, el("h2", {}, "Statement"), banner([problemText(res), ...(res.body?.errors || []).map((f) => `${f.field}: ${f.message}`)].join(" ")),
      el("p", {}, el("a", { href: `#/billing/${id}` }, "Back to the account"))));
  }
  const st = res.body, a = st.account, d = a.minorUnitDigits;
  const who = await api("GET", `/patients/${a.patientId}`);
  const money = (v) => formatMinor(v, d, a.currency);
  show(el("section", { class: "card statement", id: "statement" },
    el("div", { class: "toolbar no-print" }, el("a", { href: `#/billing/${id}` }, "Back to the account"),
      el("button", { type: "button", id: "print", onclick: () => window.print() }, "Print")),
    el("h2", {}, "Statement of account"),
    el("dl", { class: "record" },
      el("dt", {}, "Patient"), el("dd", { id: "statement-patient" }, who.status === 200 ? who.body.name : a.patientId),
      who.status === 200 && [el("dt", {}, "Address"), el("dd", {}, who.body.address)],
      el("dt", {}, "Account"), el("dd", {}, a.id),
      el("dt", {}, "Period"), el("dd", {}, `${st.from} to ${st.to} (UTC)`),
      el("dt", {}, "Opening balance"), el("dd", { id: "opening" }, money(st.openingBalanceMinor))),
    st.entries.length ? ledgerTable("statement-entries", st.entries, d) : el("p", { class: "muted" }, "No entries in this period."),
    el("dl", { class: "record totals-list" },
      el("dt", {}, "Charges"), el("dd", {}, money(st.totalChargesMinor)),
      el("dt", {}, "Payments"), el("dd", {}, money(st.totalPaymentsMinor)),
      el("dt", {}, "Adjustments"), el("dd", {}, money(st.totalAdjustmentsMinor)),
      el("dt", {}, "Closing balance"), el("dd", { id: "closing" }, el("strong", {}, money(st.closingBalanceMinor)))),
    el("p", { class: "muted" }, `Produced ${new Date(st.generatedAt).toLocaleString()}.`)));
}

// barChart draws counts as an SVG bar chart.
function barChart(title, id, points) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  };
  const w = 320, h = 180, pad = 24, max = Math.max(1, ...points.map((p) => p.count));
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": title });
  const bw = Math.min(56, (w - pad) / Math.max(points.length, 1));
  const left = (w - bw * points.length) / 2;
  points.forEach((p, i) => {
    const bh = ((h - 2 * pad) * p.count) / max;
    const x = left + i * bw;
    const bar = svg("rect", { class: "bar", x: x + 2, y: h - pad - bh, width: Math.max(bw - 4, 1), height: bh });
    bar.append(svg("title", {}, `${p.label}: ${p.count}`));
    chart.append(bar, svg("text", { x: x + bw / 2, y: h - pad + 14, "text-anchor": "middle" }, p.label),
      svg("text", { x: x + bw / 2, y: h - pad - bh - 4, "text-anchor": "middle" }, p.count));
  });
  return el("div", { class: "chart card", id }, el("h3", {}, title), points.length ? chart : el("p", { class: "muted" }, "No data yet."));
}

async function analyticsView() {
  const res = await api("GET", "/analytics/summary");
  if (res.status !== 200) return show(el("section", { class: "card" }, el("h2", {}, "Analytics"), banner(problemText(res))));
  const s = res.body;
  const total = (label, n) => el("div", { class: "total" }, el("strong", {}, n), label);
  show(el("section", { class: "card", id: "analytics" }, el("h2", {}, "Analytics"),
    el("div", { class: "totals" }, total("registered", s.totalPatientsCreated), total("current", s.currentPatients),
      total("updates", s.totalUpdates), total("deleted", s.totalPatientsDeleted)),
    el("div", { class: "charts" },
      barChart("Registrations per day (last 14)", "chart-per-day", s.createdPerDay.slice(-14).map((d) => ({ label: d.date.slice(5), count: d.count }))),
      barChart("Registrations by age", "chart-age", s.createdByAgeBand.map((d) => ({ label: d.value || "n/a", count: d.count }))),
      barChart("Registrations by gender", "chart-gender", s.createdByGender.map((d) => ({ label: d.value || "n/a", count: d.count })))),
    el("h3", {}, "Billing"),
    el("div", { class: "totals", id: "outstanding" }, s.billing.outstanding.length
      ? s.billing.outstanding.map((o) => total(`outstanding (${o.accounts} accounts)`, formatMinor(o.minor, currencyDigits(o.currency), o.currency)))
      : el("p", { class: "muted" }, "Nothing billed yet.")),
    el("div", { class: "charts" },
      barChart("Charges per day (last 14)", "chart-charges", s.billing.perDay.slice(-14).map((d) => ({ label: `${d.date.slice(5)}${d.currency === "USD" ? "" : ` ${d.currency}`}`, count: d.charges }))),
      barChart("Payments per day (last 14)", "chart-payments", s.billing.perDay.filter((d) => d.payments).slice(-14).map((d) => ({ label: `${d.date.slice(5)}${d.currency === "USD" ? "" : ` ${d.currency}`}`, count: d.payments }))))));
}

// ---- Routing ------------------------------------------------------------

function navigation(active) {
  const nav = document.getElementById("nav");
  nav.hidden = !session.token;
  for (const a of nav.querySelectorAll("a")) {
    a.hidden = (a.dataset.role === "admin" && !can.admin()) || (a.dataset.role === "billing" && !can.bill());
    a.classList.toggle("active", a.dataset.nav === active);
  }
  document.getElementById("who").textContent = session.claims ? `${session.claims.email || session.claims.sub} (${session.claims.role})` : "";
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
  if (parts[0] === "users" && can.admin()) return usersView();
  if (parts[0] === "analytics" && can.admin()) return analyticsView();
  if (parts[0] === "billing" && parts[1] && parts[2] === "statement" && can.bill()) return statementView(parts[1], params);
  if (parts[0] === "billing" && parts[1]) return accountView(parts[1], params);
  if (parts[0] === "billing" && can.bill()) return accountsView(params);
  if (parts[0] === "patients" && parts[1] === "new" && can.write()) return newPatientView();
  if (parts[0] === "patients" && parts[1] && parts[2] === "edit" && can.write()) return editPatientView(parts[1]);
  if (parts[0] === "patients" && parts[1] && parts[2] === "audit" && can.admin()) return auditView(parts[1]);
  if (parts[0] === "patients" && parts[1]) return patientView(parts[1]);
  return patientsView(params);
}

document.getElementById("logout").addEventListener("click", async () => {
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
});
window.addEventListener("hashchange", route);

// A reload keeps the session through the refresh cookie, if there is one.
(async () => {
  if (csrfToken()) await renew();
  route();
})();
