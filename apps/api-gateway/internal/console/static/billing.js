// The console's billing pages: the list of accounts (with each patient's
// name and MRN), an account with its balance and ledger first and the
// postings behind buttons, reversals, and the printable statement.

import { formatMinor, label, formatDate, formatTime } from "./format.js";

const statuses = ["ACTIVE", "ON_HOLD", "CLOSED"];
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function billingViews({ el, show, card, field, banner, tableOf, problemText, busy, api, can, session, nextCursor, fieldForm, revealed }) {
  // patientsByID reads the names and MRNs of the given patients with one
  // FHIR search (billing keeps no names), as a map of id → {name, mrn}.
  async function patientsByID(ids) {
    const unique = [...new Set(ids)];
    if (!unique.length) return new Map();
    const r = await api("GET", `/fhir/R4/Patient?${new URLSearchParams({ _id: unique.join(","), _count: String(unique.length) })}`);
    const out = new Map();
    for (const e of r.status === 200 ? r.body.entry || [] : []) {
      const p = e.resource;
      const n = p.name?.[0];
      out.set(p.id, { name: n?.text || [...(n?.given || []), n?.family].filter(Boolean).join(" "), mrn: p.identifier?.[0]?.value || "" });
    }
    return out;
  }

  function accountRow(a, who) {
    return el("tr", {},
      el("td", {}, who ? el("a", { href: `#/billing/${a.id}` }, who.name) : el("a", { href: `#/billing/${a.id}` }, "Patient not found")),
      el("td", {}, who?.mrn || "—"),
      el("td", {}, el("a", { href: `#/billing/${a.id}`, class: "mono", title: a.id, "aria-label": `Account ${a.id}` }, a.id.slice(0, 8))),
      el("td", {}, label(a.status)),
      el("td", { class: "num" }, formatMinor(a.balanceMinor, a.minorUnitDigits, a.currency)),
      el("td", { class: "num" }, a.entryCount),
      el("td", {}, formatDate(a.createdAt)));
  }

  // findAccounts is one page of the accounts of the patients a search
  // finds (by name or MRN), or the one account a full account number
  // names.
  async function findAccounts(text, status, cursor) {
    if (uuid.test(text)) {
      const r = await api("GET", `/billing/accounts/${text.toLowerCase()}`);
      if (r.status === 404) return { items: [], next: "" };
      if (r.status !== 200) return { error: r };
      return { items: status && r.body.status !== status ? [] : [r.body], next: "" };
    }
    const q = new URLSearchParams({ q: text, limit: "20" });
    if (cursor) q.set("cursor", cursor);
    const r = await api("GET", `/patients?${q}`);
    if (r.status !== 200) return { error: r };
    const accounts = await Promise.all(r.body.items.filter((p) => p.billingAccountId)
      .map((p) => api("GET", `/billing/accounts/${p.billingAccountId}`)));
    const items = accounts.filter((a) => a.status === 200).map((a) => a.body).filter((a) => !status || a.status === status);
    return { items, next: nextCursor(r.body) };
  }

  async function accountsView(params) {
    const status = params.get("status") || "";
    const text = params.get("q") || "";
    const cursor = params.get("cursor") || "";
    const hashOf = (c) => `#/billing?${new URLSearchParams({ ...(text && { q: text }), ...(status && { status }), ...(c && { cursor: c }) })}`;
    const search = el("input", { id: "accounts-q", type: "search", value: text, placeholder: "Surname, MRN or account number" });
    const filter = el("select", { id: "accounts-status" }, ["", ...statuses].map((s) => el("option", { value: s, selected: s === status }, s ? label(s) : "Any status")));
    const form = el("form", { class: "toolbar search", id: "accounts-search", role: "search" },
      field("Patient or account", search), field("Status", filter),
      el("button", { type: "submit" }, "Search"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const p = new URLSearchParams();
      if (search.value.trim()) p.set("q", search.value.trim());
      if (filter.value) p.set("status", filter.value);
      location.hash = `#/billing?${p}`;
    });
    filter.addEventListener("change", () => form.requestSubmit());
    let page;
    if (text) page = await findAccounts(text, status, cursor);
    else {
      const query = new URLSearchParams({ limit: "20" });
      if (status) query.set("status", status);
      if (cursor) query.set("cursor", cursor);
      const r = await api("GET", `/billing/accounts?${query}`);
      page = r.status === 200 ? { items: r.body.items, next: nextCursor(r.body) } : { error: r };
    }
    if (page.error) return show(card("Billing accounts", form, banner(problemText(page.error))));
    const who = await patientsByID(page.items.map((a) => a.patientId));
    return show(card("Billing accounts", form,
      page.items.length ? tableOf("accounts", ["Patient", "MRN", "Account", "Status", "Balance", "Entries", "Opened"],
        page.items.map((a) => accountRow(a, who.get(a.patientId))), "Billing accounts")
        : el("p", { class: "muted" }, text || status ? "No account matches." : "No accounts yet."),
      el("div", { class: "toolbar" }, cursor && el("a", { class: "button secondary", href: hashOf("") }, "First page"),
        page.next && el("a", { class: "button secondary", id: "accounts-next", href: hashOf(page.next) }, "Next page"))));
  }

  function entryDetail(e, digits, currency) {
    switch (e.kind) {
      case "CHARGE": return `${e.code} ${e.description} (${e.quantity} × ${formatMinor(e.unitPriceMinor, digits, currency)}, service ${formatDate(e.serviceDate)})`;
      case "PAYMENT": return `${label(e.method)}${e.reference ? `, ${e.reference}` : ""}`;
      case "ADJUSTMENT": return `${label(e.adjustmentType)}: ${e.reason}`;
      default: return `Reverses entry ${e.reversesSequence ?? e.reverses.slice(0, 8)}: ${e.reason}`;
    }
  }

  // ledgerTable lists entries; reverse(entry), when given, offers each
  // entry that can still be reversed a Reverse button.
  function ledgerTable(id, entries, a, reverse) {
    const bySeq = new Map(entries.map((e) => [e.id, e.sequence]));
    const headers = ["#", "Posted", "Kind", "Detail", "Amount", "Balance", reverse && "Action"].filter(Boolean);
    return tableOf(id, headers, entries.map((e) => el("tr", { class: e.reversedBy ? "reversed" : undefined, "data-entry": e.id },
      el("td", {}, e.sequence), el("td", {}, formatTime(e.postedAt)), el("td", {}, label(e.kind)),
      el("td", { class: "wrap" }, entryDetail({ ...e, reversesSequence: bySeq.get(e.reverses) }, a.minorUnitDigits, a.currency), e.reversedBy ? " (reversed)" : ""),
      el("td", { class: "num" }, formatMinor(e.amountMinor, a.minorUnitDigits, a.currency)),
      el("td", { class: "num" }, formatMinor(e.balanceAfterMinor, a.minorUnitDigits, a.currency)),
      reverse && el("td", {}, e.kind !== "REVERSAL" && !e.reversedBy
        ? el("button", { type: "button", class: "secondary small", "aria-label": `Reverse entry ${e.sequence}`, onclick: () => reverse(e) }, "Reverse") : ""))),
    "Ledger");
  }

  async function accountView(id, params) {
    const res = await api("GET", `/billing/accounts/${id}`);
    if (res.status !== 200) return show(card("Billing account", banner(res.status === 404 ? "There is no such billing account." : problemText(res))));
    const a = res.body;
    const etag = res.headers.get("ETag");
    const digits = a.minorUnitDigits;
    const money = (v) => formatMinor(v, digits, a.currency);
    // The patient's name is read from patient-service: billing keeps none.
    const who = await api("GET", `/patients/${a.patientId}`);
    const name = who.status === 200 ? who.body.name : "The patient's record cannot be read";
    const status = el("div", { id: "account-status" });
    const reload = (flash) => {
      session.flash = flash;
      return accountView(id, params);
    };
    const change = (action, done) => async (e) => busy(e.currentTarget, "Working…", async () => {
      const r = await api("POST", `/billing/accounts/${id}/${action}`, undefined, { "If-Match": etag });
      if (r.status === 200) return reload(done);
      status.replaceChildren(banner(r.status === 412 ? "The account changed since you opened it — reload." : problemText(r)));
      return undefined;
    });
    const actions = can.bill() && a.status !== "CLOSED" && [
      a.status === "ACTIVE" && el("button", { type: "button", class: "secondary", id: "hold", onclick: change("hold", "The account is on hold.") }, "Put on hold"),
      a.status === "ON_HOLD" && el("button", { type: "button", class: "secondary", id: "release", onclick: change("release", "The account is active again.") }, "Release"),
      el("button", { type: "button", class: "danger", id: "close", onclick: async (e) => {
        if (confirm("Close this account for good? It will take no more charges.")) await change("close", "The account is closed.")(e);
      } }, "Close account")];
    const posting = (kind, done) => async (body, key) => {
      const r = await api("POST", `/billing/accounts/${id}/${kind}`, body, { "Idempotency-Key": key });
      if (r.status === 201) {
        await reload(done(r.body.entry));
        return null;
      }
      return r;
    };
    const today = new Date().toISOString().slice(0, 10);
    const forms = [];
    if (a.status === "ACTIVE") {
      forms.push(revealed("show-charge", "Post a charge", "Post a charge", (close) => fieldForm("charge-form", "c", [
        { name: "serviceDate", label: "Service date", type: "date", required: true },
        { name: "code", label: "Code", type: "text", required: true, hint: "CPT, HCPCS or local code" },
        { name: "description", label: "Description", type: "text", required: true },
        { name: "quantity", label: "Quantity", type: "number", required: true },
        { name: "unitPrice", label: `Unit price (${a.currency})`, type: "money", digits, required: true },
      ], { serviceDate: today, quantity: "1" }, "Post charge", posting("charges", (e) => `Charge posted: ${money(e.amountMinor)}.`),
      { cancel: close, working: "Posting…" })));
    }
    if (can.bill() && a.status !== "CLOSED") {
      forms.push(revealed("show-payment", "Post a payment", "Post a payment", (close) => fieldForm("payment-form", "p", [
        { name: "amount", label: `Amount (${a.currency})`, type: "money", digits, required: true },
        { name: "method", label: "Method", type: "select", options: ["CARD", "CASH", "CHECK", "BANK_TRANSFER", "INSURANCE"], required: true },
        { name: "reference", label: "Reference", type: "text" },
      ], {}, "Post payment", posting("payments", (e) => `Payment posted: ${money(-e.amountMinor)} received.`), { cancel: close, working: "Posting…" })));
      forms.push(revealed("show-adjustment", "Post an adjustment", "Post an adjustment", (close) => fieldForm("adjustment-form", "a", [
        { name: "type", label: "Type", type: "select", options: ["WRITE_OFF", "REFUND", "CORRECTION"], required: true },
        { name: "amount", label: `Amount (${a.currency})`, type: "money", digits, signed: true, required: true,
          hint: "A write-off or refund is positive; a correction may be negative." },
        { name: "reason", label: "Reason", type: "text", required: true },
      ], {}, "Post adjustment", posting("adjustments", (e) => `Adjustment posted: ${money(e.amountMinor)}.`), { cancel: close, working: "Posting…" })));
    }
    const reversal = el("div", { id: "reversal" });
    const reverse = can.bill() && ((entry) => {
      reversal.replaceChildren(el("section", { class: "card inset" }, el("h3", {}, `Reverse entry ${entry.sequence}: ${label(entry.kind)} of ${money(entry.amountMinor)}`),
        fieldForm("reversal-form", "r", [{ name: "reason", label: "Reason", type: "text", required: true }], {}, "Reverse entry",
          async (body, key) => posting("reversals", () => `Entry ${entry.sequence} is reversed.`)({ entryId: entry.id, reason: body.reason }, key),
          { cancel: () => reversal.replaceChildren(), working: "Reversing…" })));
      reversal.querySelector("input")?.focus();
    });
    let ledger = null;
    if (can.bill()) {
      const cursor = params.get("cursor") || "";
      const q = new URLSearchParams({ limit: "20" });
      if (cursor) q.set("cursor", cursor);
      const entries = await api("GET", `/billing/accounts/${id}/entries?${q}`);
      const next = entries.status === 200 && nextCursor(entries.body);
      ledger = el("section", { class: "card" }, el("h3", {}, "Ledger"), reversal,
        entries.status !== 200 ? banner(problemText(entries))
          : entries.body.items.length ? ledgerTable("ledger", entries.body.items, a, reverse) : el("p", { class: "muted" }, "No entries yet."),
        el("div", { class: "toolbar" }, cursor && el("a", { class: "button secondary", href: `#/billing/${id}` }, "Newest entries"),
          next && el("a", { class: "button secondary", id: "ledger-next", href: `#/billing/${id}?cursor=${encodeURIComponent(next)}` }, "Older entries")),
        statementForm(id, today));
    }
    return show(el("section", { class: "card" }, el("h2", {}, "Billing account"), status,
      el("p", { class: "balance" }, "Balance ", el("strong", { id: "balance" }, money(a.balanceMinor))),
      el("dl", { class: "record" },
        el("dt", {}, "Patient"), el("dd", {}, el("a", { href: `#/patients/${a.patientId}`, id: "account-patient" }, name)),
        who.status === 200 && [el("dt", {}, "MRN"), el("dd", {}, who.body.mrn)],
        el("dt", {}, "Status"), el("dd", { id: "account-state" }, label(a.status)),
        el("dt", {}, "Entries"), el("dd", {}, a.entryCount),
        el("dt", {}, "Opened"), el("dd", {}, formatDate(a.createdAt)),
        el("dt", {}, "Account"), el("dd", { class: "mono wrap" }, a.id)),
      el("div", { class: "toolbar" }, forms.map((f) => f.button), actions),
      forms.map((f) => f.panel)), ledger);
  }

  // statementForm asks for a period; a bad one is shown beside its field.
  function statementForm(id, today) {
    const from = el("input", { id: "s-from", type: "date", value: today.slice(0, 8) + "01", required: true, "aria-describedby": "err-s-from" });
    const to = el("input", { id: "s-to", type: "date", value: today, required: true, "aria-describedby": "err-s-to" });
    const errFrom = el("span", { class: "field-error", id: "err-s-from" });
    const errTo = el("span", { class: "field-error", id: "err-s-to" });
    const form = el("form", { class: "toolbar search", id: "statement-form", novalidate: true },
      field("Statement from", from, errFrom), field("to", to, errTo),
      el("button", { type: "submit", class: "secondary" }, "Statement"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      for (const [input, err] of [[from, errFrom], [to, errTo]]) {
        err.textContent = "";
        input.removeAttribute("aria-invalid");
      }
      const bad = (input, err, text) => {
        err.textContent = text;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      };
      if (!from.value) return bad(from, errFrom, "Enter the first day.");
      if (!to.value) return bad(to, errTo, "Enter the last day.");
      if (to.value < from.value) return bad(to, errTo, "The last day cannot be before the first.");
      location.hash = `#/billing/${id}/statement?from=${from.value}&to=${to.value}`;
      return undefined;
    });
    return form;
  }

  async function statementView(id, params) {
    const from = params.get("from") || "", to = params.get("to") || "";
    const res = await api("GET", `/billing/accounts/${id}/statement?${new URLSearchParams({ from, to })}`);
    if (res.status !== 200) {
      return show(card("Statement", banner([problemText(res), ...(res.body?.errors || []).map((f) => `${f.field}: ${f.message}`)].join(" ")),
        el("p", {}, el("a", { href: `#/billing/${id}` }, "Back to the account"))));
    }
    const st = res.body, a = st.account;
    const who = await api("GET", `/patients/${a.patientId}`);
    const money = (v) => formatMinor(v, a.minorUnitDigits, a.currency);
    return show(el("section", { class: "card statement", id: "statement" },
      el("div", { class: "toolbar no-print" }, el("a", { href: `#/billing/${id}` }, "Back to the account"),
        el("button", { type: "button", id: "print", onclick: () => window.print() }, "Print")),
      el("h2", {}, "Statement of account"),
      el("dl", { class: "record" },
        el("dt", {}, "Patient"), el("dd", { id: "statement-patient" }, who.status === 200 ? who.body.name : a.patientId),
        who.status === 200 && [el("dt", {}, "Address"), el("dd", {}, who.body.address)],
        el("dt", {}, "Account"), el("dd", { class: "mono wrap" }, a.id),
        el("dt", {}, "Period"), el("dd", {}, `${formatDate(st.from)} to ${formatDate(st.to)}`),
        el("dt", {}, "Opening balance"), el("dd", { id: "opening" }, money(st.openingBalanceMinor))),
      st.entries.length ? ledgerTable("statement-entries", st.entries, a) : el("p", { class: "muted" }, "No entries in this period."),
      el("dl", { class: "record totals-list" },
        el("dt", {}, "Charges"), el("dd", {}, money(st.totalChargesMinor)),
        el("dt", {}, "Payments received"), el("dd", { id: "payments-received" }, money(-st.totalPaymentsMinor)),
        el("dt", {}, "Adjustments"), el("dd", {}, money(st.totalAdjustmentsMinor)),
        el("dt", {}, "Closing balance"), el("dd", { id: "closing" }, el("strong", {}, money(st.closingBalanceMinor)))),
      el("p", { class: "muted" }, `Produced ${formatTime(st.generatedAt)}.`)));
  }

  return { accountsView, accountView, statementView };
}
