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
  const inputs = {};
  const errors = {};
  const children = [];
  for (const [name, label, type, required] of patientFields) {
    const input = type === "select"
      ? el("select", { id: `f-${name}`, name }, ["", "female", "male", "other", "unknown"].map((g) => el("option", { value: g, selected: values[name] === g }, g || "—")))
      : el("input", { id: `f-${name}`, name, type, value: values[name] || "", required });
    inputs[name] = input;
    errors[name] = el("span", { class: "field-error", id: `err-${name}` });
    children.push(el("label", { for: `f-${name}` }, label), el("div", {}, input, errors[name]));
  }
  const top = el("div");
  // novalidate: the API checks every field and says what is wrong with each.
  const form = el("form", { class: "grid", id, novalidate: true }, ...children,
    el("div", { class: "actions" }, el("button", { type: "submit" }, submitLabel)));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    for (const [name] of patientFields) if (inputs[name].value !== "") body[name] = inputs[name].value;
    for (const name in errors) {
      errors[name].textContent = "";
      inputs[name].classList.remove("invalid");
    }
    top.replaceChildren();
    const res = await onSubmit(body);
    if (!res) return;
    // A 400 lists each bad field; show each message beside its field.
    let unplaced = [];
    for (const f of res.body?.errors || []) {
      if (errors[f.field]) {
        errors[f.field].textContent = f.message;
        inputs[f.field].classList.add("invalid");
      } else unplaced.push(`${f.field}: ${f.message}`);
    }
    if (!res.body?.errors?.length || unplaced.length) top.replaceChildren(banner([problemText(res), ...unplaced].join(" ")));
  });
  return el("div", {}, top, form);
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
    ["Gender", p.gender], ["Registered", p.registeredDate], ["Billing account", p.billingAccountId || "not opened yet"], ["Version", p.version]];
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
      barChart("Registrations by gender", "chart-gender", s.createdByGender.map((d) => ({ label: d.value || "n/a", count: d.count }))))));
}

// ---- Routing ------------------------------------------------------------

function navigation(active) {
  const nav = document.getElementById("nav");
  nav.hidden = !session.token;
  for (const a of nav.querySelectorAll("a")) {
    a.hidden = a.dataset.role === "admin" && !can.admin();
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
