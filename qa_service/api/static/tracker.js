// ncpi-qa recommendation tracker view ("#tracker", "#tracker&force=Kent&area=...&verdict=...").
// Each recommendation an inspection made, the review's verdict on it and both passages, from
// GET /v1/recommendations; filters live in the hash so a view can be linked. Text from the
// reports is only ever inserted as text nodes.
"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const SUFFIX = / (Police|Constabulary|Police Service)$/;
  let all = null; // every row, fetched once
  let loading = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  const shortName = (force) => (force || "").replace(SUFFIX, "");
  const norm = (s) => (s || "").toLowerCase().replace(/[-_]+/g, " ").replace(/\s+/g, " ").trim();
  const reportHash = (docId, start, end) =>
    `#doc=${encodeURIComponent(docId)}&start=${start}&end=${end}`;

  function params() {
    const hash = location.hash.slice(1);
    if (hash.split("&")[0] !== "tracker") return null;
    return new URLSearchParams(hash);
  }

  async function load() {
    if (all) return all;
    if (!loading) {
      loading = fetch("/v1/recommendations", { headers: { accept: "application/json" } })
        .then((res) => {
          if (!res.ok) throw new Error(`The tracker could not be loaded (${res.status}).`);
          return res.json();
        })
        .then((data) => {
          all = data;
          fillSelects(data);
          return data;
        })
        .finally(() => { loading = null; });
    }
    return loading;
  }

  function fillSelects(data) {
    const forces = [...new Set(data.recommendations.map((r) => r.force).filter(Boolean))].sort();
    const areas = data.areas.filter((a) => data.recommendations.some((r) => r.area === a));
    const add = (select, values, label) => {
      for (const v of values) select.append(el("option", { value: v }, label(v)));
    };
    add($("#t-force"), forces, (f) => f);
    add($("#t-area"), areas, (a) => a[0].toUpperCase() + a.slice(1));
    add($("#t-verdict"), data.verdicts, (v) => v[0].toUpperCase() + v.slice(1));
  }

  // The hash's values, matched to the options: a force by its official or short name (any
  // case) here, or by any form the service knows ("Lancs") through the API.
  async function wanted(p, data) {
    const asked = p.get("force") || "";
    const forces = data.recommendations.map((r) => r.force);
    let force = forces.find((f) => norm(f) === norm(asked) || norm(shortName(f)) === norm(asked));
    let message = null;
    if (asked && !force) {
      const res = await fetch(`/v1/recommendations?force=${encodeURIComponent(asked)}`);
      const body = await res.json().catch(() => ({}));
      if (res.ok && body.recommendations.length) force = body.recommendations[0].force;
      else message = body.message || body.detail || `No recommendation for ${asked}.`;
    }
    return { force: force || "", area: norm(p.get("area")), verdict: norm(p.get("verdict")), message };
  }

  function hashFor(w) {
    const parts = ["tracker"];
    if (w.force) parts.push(`force=${encodeURIComponent(shortName(w.force))}`);
    if (w.area) parts.push(`area=${encodeURIComponent(w.area)}`);
    if (w.verdict) parts.push(`verdict=${encodeURIComponent(w.verdict)}`);
    return `#${parts.join("&")}`;
  }

  function csvHref(w) {
    const q = new URLSearchParams();
    for (const key of ["force", "area", "verdict"]) if (w[key]) q.set(key, w[key]);
    const s = q.toString();
    return `/v1/recommendations.csv${s ? `?${s}` : ""}`;
  }

  function verdictBadge(verdict) {
    return el("span", { class: `verdict verdict-${verdict.replace(/ /g, "-")}` }, verdict);
  }

  function citeLink(label, docId, source, section, start, end) {
    return el("p", { class: "cite-line" },
      el("a", { class: "open-report", href: reportHash(docId, start, end) },
        `${label}: ${source}`),
      el("span", { class: "muted" }, ` › ${section.join(" › ")}`));
  }

  function card(r, n) {
    const id = `rec-${n}`;
    const rec = el("div", { class: "side" },
      el("h4", {}, "Recommendation"),
      el("blockquote", {}, r.text),
      citeLink("Open in the report", r.doc_id, r.source, r.section, r.char_start, r.char_end));
    let finding;
    if (r.summary) {
      const s = r.summary;
      const cues = r.findings.filter((f) => f.cue);
      finding = el("div", { class: "side" },
        el("h4", {}, "Review finding"),
        el("blockquote", {}, s.text),
        cues.length
          ? el("p", { class: "cues" }, "Deciding words: ",
            cues.map((f, i) => [i ? "; " : "", el("q", {}, f.cue), ` (${f.wording})`]))
          : el("p", { class: "cues muted" }, "No wording of progress or shortfall."),
        citeLink("Open in the review", s.doc_id || r.doc_id, s.source || r.source, s.section,
          s.char_start, s.char_end));
    } else {
      finding = el("div", { class: "side" },
        el("h4", {}, "Review finding"),
        el("p", { class: "muted" },
          `The corpus has no post-inspection review of ${shortName(r.force)}: not reviewed.`));
    }
    return el("article", { class: "rec", "aria-labelledby": id },
      el("h3", { id },
        `${shortName(r.force)} recommendation ${r.number}: ${r.area} `, verdictBadge(r.verdict)),
      el("div", { class: "sides" }, rec, finding));
  }

  function counted(rows, verdicts) {
    return verdicts.map((v) => [rows.filter((r) => r.verdict === v).length, v])
      .filter(([n]) => n).map(([n, v]) => `${n} ${v}`).join(", ");
  }

  async function render() {
    const p = params();
    if (!p) return;
    const out = $("#tracker-results");
    let data;
    try {
      data = await load();
    } catch (err) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    const w = await wanted(p, data);
    if (w.message) {
      $("#tracker-counts").textContent = w.message;
      out.replaceChildren();
      return;
    }
    $("#t-force").value = w.force;
    $("#t-area").value = w.area;
    $("#t-verdict").value = w.verdict;
    $("#tracker-csv").href = csvHref(w);
    $("#tracker-link").href = hashFor(w);
    const rows = data.recommendations.filter((r) =>
      (!w.force || r.force === w.force) && (!w.area || r.area === w.area)
      && (!w.verdict || r.verdict === w.verdict));
    $("#tracker-counts").textContent = rows.length
      ? `${rows.length} recommendation${rows.length === 1 ? "" : "s"}: ${counted(rows, data.verdicts)}.`
      : "No recommendation matches these filters.";
    const groups = new Map();
    for (const r of rows) {
      if (!groups.has(r.force)) groups.set(r.force, []);
      groups.get(r.force).push(r);
    }
    let n = 0;
    out.replaceChildren(...[...groups].map(([force, list]) =>
      el("section", { class: "force-group", "aria-labelledby": `tf-${++n}` },
        el("h2", { id: `tf-${n}` }, `${force} `,
          el("span", { class: "muted group-counts" }, `(${counted(list, data.verdicts)})`)),
        list.map((r) => card(r, `${n}-${r.number}`)))));
  }

  function onFilter() {
    const w = { force: $("#t-force").value, area: $("#t-area").value, verdict: $("#t-verdict").value };
    const hash = hashFor(w);
    if (location.hash !== hash) history.replaceState(null, "", hash);
    render();
  }

  function init() {
    for (const id of ["#t-force", "#t-area", "#t-verdict"]) $(id).addEventListener("change", onFilter);
    $("#tracker-form").addEventListener("submit", (event) => event.preventDefault());
    window.addEventListener("hashchange", render);
    render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
