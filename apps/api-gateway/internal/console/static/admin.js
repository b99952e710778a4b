// The console's admin pages beyond users and the audit trail: analytics
// drawn as charts, and the dead letters waiting for an operator.

import { formatMinor, currencyDigits, label, formatTime } from "./format.js";

export function adminViews({ el, show, card, banner, tableOf, problemText, busy, api, session, fieldForm }) {
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

  // deadLettersView lists the dead letters (optionally of one topic); each
  // can be inspected (every field the API gives, never the event's data),
  // redriven (one, the ones ticked, or all of a topic) or discarded with a
  // reason (one, or the ones ticked) (docs/runbooks/redrive-dead-letters.md).
  async function deadLettersView(params) {
    const topic = params.get("topic") || "";
    const res = await api("GET", `/admin/dead-letters${topic ? `?topic=${topic}` : ""}`);
    const filter = el("select", { id: "dl-topic", onchange: (e) => { location.hash = `#/dead-letters${e.target.value ? `?topic=${e.target.value}` : ""}`; } },
      ["", "patient", "billing"].map((t) => el("option", { value: t, selected: t === topic }, t ? `${label(t)} topic` : "Every topic")));
    const toolbar = el("div", { class: "toolbar" }, el("label", { for: "dl-topic" }, "Topic"), filter);
    if (res.status !== 200) return show(card("Dead letters", toolbar, banner(problemText(res))));
    const status = el("div", { id: "dl-status" });
    const items = res.body.items;
    const redrive = async (button, body, what) => busy(button, "Sending…", async () => {
      const r = await api("POST", "/admin/dead-letters/redrive", body);
      if (r.status === 200 && r.body.complete) {
        session.flash = `${r.body.redriven.length} ${what} sent back to ${r.body.redriven.length === 1 ? "its topic" : "their topics"}.`;
        return deadLettersView(params);
      }
      status.replaceChildren(banner(r.status === 200
        ? `${r.body.redriven.length} sent; the rest could not be published and are still pending. Try again shortly.` : problemText(r)));
      return undefined;
    });
    const discarding = el("div", { id: "dl-discard" });
    const discard = (ids) => {
      discarding.replaceChildren(el("section", { class: "card inset" },
        el("h3", {}, `Discard ${ids.length} dead letter${ids.length === 1 ? "" : "s"} for good`),
        fieldForm("discard-form", "d", [{ name: "reason", label: "Reason", type: "text", required: true, hint: "Why these events must never be redriven." }],
          {}, "Discard", async (body) => {
            const r = await api("POST", "/admin/dead-letters/discard", { ids, reason: body.reason });
            if (r.status !== 200) return r;
            session.flash = `${r.body.discarded.length} dead letter${r.body.discarded.length === 1 ? "" : "s"} discarded.`;
            await deadLettersView(params);
            return null;
          }, { cancel: () => discarding.replaceChildren(), working: "Discarding…" })));
      discarding.querySelector("input")?.focus();
    };
    const ticks = [];
    const rows = items.map((d) => {
      const tick = el("input", { type: "checkbox", value: d.id, "aria-label": `Select dead letter ${d.cloudEventId}` });
      ticks.push(tick);
      const details = el("details", {}, el("summary", {}, "Inspect"),
        el("dl", { class: "record" }, [["Dead letter", d.id], ["Topic", d.topic], ["CloudEvent id", d.cloudEventId], ["Event id", d.eventId],
          ["Type", d.type], ["Occurred", formatTime(d.occurredAt)], ["Dead-lettered", formatTime(d.deadLetteredAt)], ["Reason", d.reason]]
          .flatMap(([k, v]) => [el("dt", {}, k), el("dd", { class: "wrap" }, v || "—")])));
      const one = el("button", { type: "button", class: "secondary small", onclick: (e) => redrive(e.currentTarget, { ids: [d.id] }, "dead letter") }, "Redrive");
      const drop = el("button", { type: "button", class: "secondary small", onclick: () => discard([d.id]) }, "Discard");
      return el("tr", {}, el("td", {}, tick), el("td", {}, formatTime(d.deadLetteredAt)), el("td", {}, label(d.topic)),
        el("td", { class: "wrap" }, d.type || "—"), el("td", { class: "wrap" }, d.reason), el("td", {}, details), el("td", { class: "actions" }, one, " ", drop));
    });
    const selected = el("button", { type: "button", id: "dl-redrive-selected", onclick: (e) => {
      const ids = ticks.filter((t) => t.checked).map((t) => t.value);
      if (!ids.length) return status.replaceChildren(banner("Tick the dead letters to send back first."));
      return redrive(e.currentTarget, { ids }, "dead letters");
    } }, "Redrive selected");
    const dropSelected = el("button", { type: "button", class: "secondary", id: "dl-discard-selected", onclick: () => {
      const ids = ticks.filter((t) => t.checked).map((t) => t.value);
      if (!ids.length) return status.replaceChildren(banner("Tick the dead letters to discard first."));
      return discard(ids);
    } }, "Discard selected");
    const all = el("button", { type: "button", class: "secondary", id: "dl-redrive-all", onclick: (e) => {
      if (confirm(`Send every pending dead letter${topic ? ` of the ${topic} topic` : ""} back?`)) redrive(e.currentTarget, { all: true, ...(topic && { topic }) }, "dead letters");
    } }, "Redrive all");
    return show(card("Dead letters", toolbar, status,
      el("p", { class: "muted" }, "Events a subscriber gave up on, parked until sent back. Fix the cause first (see the runbook), then redrive: consumers count each event once."),
      items.length ? [tableOf("dead-letters", ["", "Dead-lettered", "Topic", "Type", "Reason", "Details", "Action"], rows, "Dead letters"),
        el("div", { class: "toolbar" }, selected, all, dropSelected), discarding]
        : el("p", { class: "muted", id: "dl-empty" }, "No dead letters are waiting.")));
  }

  return { analyticsView, deadLettersView };
}
