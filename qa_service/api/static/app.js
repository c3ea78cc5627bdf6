// ncpi-qa web page: chat with cited answers, compare forces, find a quote, read a report.
// Plain DOM, no framework and no build step. Text from users and reports is only ever
// inserted as text nodes (never innerHTML).
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const VIEWS = ["ask", "compare", "cite", "tracker", "report"];
  const TITLES = {
    ask: "Ask the reports", compare: "Compare forces", cite: "Find a quote", report: "Report",
    tracker: "Recommendation tracker", // tracker.js fills the view from "#tracker&force=..."
  };

  // ---------------------------------------------------------------- helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  async function api(method, path, body) {
    const options = { method, headers: { accept: "application/json, text/plain" } };
    if (body !== undefined) {
      options.headers["content-type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, options);
    } catch {
      throw new Error("The service cannot be reached. Check that it is running.");
    }
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try {
        const data = await res.json();
        if (data.detail) detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      } catch { /* not JSON: keep the status line */ }
      throw new Error(detail);
    }
    return (res.headers.get("content-type") || "").includes("json") ? res.json() : res.text();
  }

  function announce(message) {
    $("#status").textContent = message;
  }

  function showError(message) {
    const box = $("#error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function reportHash(docId, start, end) {
    return `#doc=${encodeURIComponent(docId)}&start=${start}&end=${end}`;
  }

  // text with each [start, end) span wrapped in <mark>
  function markedText(text, spans) {
    const frag = document.createDocumentFragment();
    const clean = (spans || [])
      .map(([s, e]) => [Math.max(0, s), Math.min(text.length, e)])
      .filter(([s, e]) => e > s)
      .sort((a, b) => a[0] - b[0]);
    let pos = 0;
    for (const [s, e] of clean) {
      if (s < pos) continue;
      frag.append(text.slice(pos, s), el("mark", {}, text.slice(s, e)));
      pos = e;
    }
    frag.append(text.slice(pos));
    return frag;
  }

  function sectionPath(section) {
    return (section || []).join(" › ");
  }

  function metaLine(p) {
    return [p.force, p.report_type, p.published && `published ${p.published}`]
      .filter(Boolean).join(" · ");
  }

  // Sentence spans of a passage text: a break after . ! ? (and any closing quote, bracket or
  // [N] footnote marker) before a capital, digit, quote or list mark, and at every line end.
  const SENTENCE_END = /[.!?…]["'’”)\]]*(?:\[\d{1,3}\])?(?=\s+["'‘“(\[]?[A-Z0-9•–-])|\n+/g;
  function sentenceSpans(text) {
    const spans = [];
    let start = 0;
    for (const m of text.matchAll(SENTENCE_END)) {
      const end = m.index + m[0].length;
      if (text.slice(start, end).trim()) spans.push([start, end]);
      start = end;
    }
    if (text.slice(start).trim()) spans.push([start, text.length]);
    return spans;
  }

  // The part of a passage that answers: its highlighted sentences with one sentence either
  // side, as [start, end) in the text; null when that is (nearly) the whole passage.
  const MIN_CUT = 200; // characters a cut must hide to be worth a "Show whole passage" button
  function excerptSpan(text, highlights) {
    const marks = (highlights || []).filter(([s, e]) => e > s && s >= 0 && e <= text.length);
    if (!marks.length) return null;
    const lo = Math.min(...marks.map(([s]) => s));
    const hi = Math.max(...marks.map(([, e]) => e));
    const spans = sentenceSpans(text);
    let first = spans.findIndex(([, e]) => e > lo);
    let last = spans.findLastIndex(([s]) => s < hi);
    if (first < 0 || last < 0) return null;
    first = Math.max(0, first - 1);
    last = Math.min(spans.length - 1, last + 1);
    let start = Math.min(spans[first][0], lo);
    const end = Math.max(spans[last][1], hi);
    while (start < lo && /\s/.test(text[start])) start += 1;
    return start + (text.length - end) < MIN_CUT ? null : [start, end];
  }

  let passageIds = 0;

  // A passage's text with the answer marked: cut to the part that answers, the rest one
  // click away ("Show whole passage", a button with aria-expanded).
  function passageText(p) {
    const id = `ptext-${++passageIds}`;
    const whole = () => (p.type === "table" && !(p.highlights || []).length
      ? tableBlock(p.text) : markedText(p.text, p.highlights));
    const cut = excerptSpan(p.text, p.highlights);
    const quote = el("blockquote", { class: "text", id });
    if (!cut) {
      quote.append(whole());
      return [quote];
    }
    const [a, b] = cut;
    const excerpt = () => [
      a > 0 ? el("span", { class: "ellipsis", "aria-hidden": "true" }, "… ") : null,
      markedText(p.text.slice(a, b).trimEnd(), p.highlights.map(([s, e]) => [s - a, e - a])),
      b < p.text.length ? el("span", { class: "ellipsis", "aria-hidden": "true" }, " …") : null,
    ];
    quote.classList.add("cut");
    quote.append(...excerpt().filter(Boolean));
    const button = el("button", {
      type: "button", class: "linkish show-whole", "aria-expanded": "false", "aria-controls": id,
      onclick: () => {
        const open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        quote.classList.toggle("cut", !open);
        quote.replaceChildren(...(open ? [whole()] : excerpt().filter(Boolean)));
      },
    }, "Show whole passage");
    return [quote, el("p", { class: "more" }, button,
      el("span", { class: "muted" }, ` (${p.text.length.toLocaleString("en-GB")} characters)`))];
  }

  // A cited passage: report title, force, section path, the answering part of its text with
  // the answer sentence marked, and a link to it in the report.
  function passageCard(p, { id = null, marker = null, level = 3, related = false } = {}) {
    const section = sectionPath(p.section);
    return el("article", { class: related ? "passage related-passage" : "passage", id, tabindex: id ? "-1" : null, "data-doc": p.doc_id },
      el(`h${level}`, { class: "passage-title" },
        marker ? el("span", { class: "num" }, `[${marker}] `) : null, p.title),
      el("p", { class: "meta" }, metaLine(p)),
      section ? el("p", { class: "section" }, el("span", { class: "label" }, "Section: "), section) : null,
      passageText(p),
      // footnotes the text cites as [N] ride along with it
      p.footnotes && p.footnotes.length ? el("ol", { class: "footnotes", "aria-label": "Footnotes" },
        p.footnotes.map((f) => el("li", { "data-marker": f.marker },
          el("a", { href: reportHash(p.doc_id, f.char_start, f.char_end) }, f.text)))) : null,
      el("p", { class: "open" },
        el("a", {
          class: "open-report", href: reportHash(p.doc_id, p.char_start, p.char_end),
          "data-start": p.char_start, "data-end": p.char_end,
        }, "Open in report", el("span", { class: "visually-hidden" }, `: ${p.title}`)),
        el("span", { class: "muted" }, ` (characters ${p.char_start}–${p.char_end})`)));
  }

  // A citation number [n] after an answer sentence: opens the cited passage in its report.
  function citationLink(n, p) {
    return el("a", {
      class: "marker", href: reportHash(p.doc_id, p.char_start, p.char_end),
      "aria-label": `citation ${n}, open in the report: ${p.title}`,
    }, `[${n}]`);
  }

  function focusTarget(target, block = "center") {
    if (!target) return;
    target.scrollIntoView({ block, behavior: "auto" });
    target.focus({ preventScroll: true });
    target.classList.remove("flash");
    void target.offsetWidth; // restart the animation
    target.classList.add("flash");
  }

  // --------------------------------------------------------------- documents
  let documents = [];

  async function loadDocuments() {
    try {
      documents = await api("GET", "/v1/documents");
    } catch (err) {
      showError(`The reports could not be listed: ${err.message}`);
      return;
    }
    const forces = [...new Set(documents.map((d) => d.force).filter(Boolean))].sort();
    const types = [...new Set(documents.map((d) => d.report_type).filter(Boolean))].sort();
    $("#f-force").append(...forces.map((f) => el("option", { value: f }, f)));
    $("#f-type").append(...types.map((t) => el("option", { value: t }, t)));
    const years = documents.map((d) => d.inspection_year).filter(Boolean);
    if (years.length) {
      $("#f-from").placeholder = `e.g. ${Math.min(...years)}`;
      $("#f-to").placeholder = `e.g. ${Math.max(...years)}`;
    }
  }

  // ----------------------------------------------------------------- filters
  function readYear(sel) {
    const input = $(sel);
    const raw = input.value.trim();
    if (!raw && input.validity.badInput) throw Object.assign(new Error("Filters: a year must be a number."), { field: input });
    if (!raw) return null;
    const year = Number(raw);
    if (!Number.isInteger(year) || year < 1900 || year > 2100) {
      throw Object.assign(new Error("Filters: a year must be a whole number from 1900 to 2100."), { field: input });
    }
    return year;
  }

  function currentFilters() {
    const filters = {};
    const force = $("#f-force").value;
    const type = $("#f-type").value;
    if (force) filters.forces = [force];
    if (type) filters.report_types = [type];
    const from = readYear("#f-from");
    const to = readYear("#f-to");
    if (from !== null) filters.year_from = from;
    if (to !== null) filters.year_to = to;
    if (from !== null && to !== null && from > to) {
      throw Object.assign(new Error("Filters: “year from” is after “year to”."), { field: $("#f-from") });
    }
    return filters;
  }

  function updateFilterSummary() {
    const parts = [$("#f-force").value, $("#f-type").value];
    const from = $("#f-from").value, to = $("#f-to").value;
    if (from || to) parts.push(`${from || "…"}–${to || "…"}`);
    const active = parts.filter(Boolean);
    $("#filter-summary").textContent = active.length ? `(${active.join(", ")})` : "(none)";
  }

  // -------------------------------------------------------------------- chat
  // Stateless API: the page keeps the conversation and sends it all back each turn.
  const chat = { messages: [], turn: 0, busy: false };
  const MAX_MESSAGES = 19; // the API takes 20; an odd count keeps a user message first

  function sameQuestion(a, b) {
    const norm = (s) => (s || "").trim().replace(/\s+/g, " ").toLowerCase();
    return norm(a) === norm(b);
  }

  // What each answer state is called on the page; the API's `state` picks one.
  const STATE_LABELS = {
    answered: "Answered from the reports",
    partial: "Partly answered",
    not_answered: "Not answerable from these reports.",
  };

  function replyState(reply) {
    if (STATE_LABELS[reply.state]) return reply.state;
    return reply.answerable ? "answered" : "not_answered"; // a reply from before states
  }

  function renderReply(reply, typed, turn) {
    const state = replyState(reply);
    const box = el("div", { class: "reply", "data-state": state });
    if (!sameQuestion(reply.rewritten_question, typed)) {
      box.append(el("p", { class: "searched" }, el("strong", {}, "Searched: "), reply.rewritten_question));
    }
    if (state === "not_answered") {
      box.append(el("div", { class: "not-answerable", "data-state": "not_answered" },
        el("h2", { class: "state-label" }, STATE_LABELS.not_answered),
        el("p", { class: "message" }, reply.message || reply.answer)));
      if (reply.related && reply.related.length) {
        // closest passages, shown apart from citations: they do not answer the question
        const title = `related-${turn}`;
        box.append(
          el("h3", { class: "sources-title", id: title },
            `Related passages, not an answer (${reply.related.length})`),
          el("ol", { class: "related", "aria-labelledby": title }, reply.related.map((c) =>
            el("li", {}, passageCard(c, { level: 4, related: true })))));
      }
      return box;
    }
    box.append(el("h2", { class: "state-label", "data-state": state }, STATE_LABELS[state]));
    // A progress question's reply leads with the review's verdicts counted (progress.py).
    if (state === "answered" && reply.message) box.append(el("p", { class: "verdict-summary" }, reply.message));
    const answer = el("p", { class: "answer", "data-state": state });
    if (state === "partial" && reply.message) {
      answer.append(el("strong", { class: "partial" }, reply.message), " ",
        el("span", { class: "say" }, "What they do say:"), " ");
    }
    // An answer drawing on several forces' reports names the force before each sentence.
    const forces = new Set(reply.sentences.map((s) => s.force));
    const shortName = (f) => f.replace(/\s+(Police Service|Police|Constabulary)$/, "");
    const byMarker = new Map(reply.citations.map((c) => [c.marker, c]));
    reply.sentences.forEach((s, i) => {
      if (i) answer.append(" ");
      const sentence = el("span", { class: i ? "sentence" : "sentence lead" });
      if (forces.size > 1 && s.force) sentence.append(el("strong", {}, `${shortName(s.force)}:`), " ");
      sentence.append(s.text);
      const cited = byMarker.get(s.citation);
      answer.append(sentence, " ", cited ? citationLink(s.citation, cited) : `[${s.citation}]`);
    });
    box.append(answer);
    if (reply.citations.length) {
      box.append(
        el("h3", { class: "sources-title" }, `Cited passages (${reply.citations.length})`),
        el("ol", { class: "citations" }, reply.citations.map((c) =>
          el("li", {}, passageCard(c, { id: `c-${turn}-${c.marker}`, marker: c.marker, level: 4 })))));
    }
    return box;
  }

  // The filters, or null after showing what is wrong and focusing the field.
  function validFilters() {
    try {
      return currentFilters();
    } catch (err) {
      showError(err.message);
      $("#filters").open = true;
      (err.field || $("#f-from")).focus();
      return null;
    }
  }

  async function ask(question, filters) {
    showError(null);
    chat.busy = true;
    $("#ask-button").setAttribute("aria-disabled", "true");
    $("#examples").hidden = true;
    chat.messages.push({ role: "user", content: question });
    const turn = ++chat.turn;
    const pending = el("p", { class: "pending" }, "Searching the reports…");
    const item = el("div", { class: "turn", id: `turn-${turn}`, "aria-busy": "true" },
      el("p", { class: "user" }, el("span", { class: "who" }, "You asked: "), question), pending);
    // newest first: the answer comes straight under the question box, never below older ones
    $("#log").prepend(item);
    revealTurn(item);
    announce("Searching the reports…");
    try {
      const reply = await api("POST", "/v1/chat", { messages: chat.messages.slice(-MAX_MESSAGES), filters });
      chat.messages.push({ role: "assistant", content: (reply.answer || "(no answer)").slice(0, 2000) });
      pending.replaceWith(renderReply(reply, question, turn));
      revealTurn(item);
      const state = replyState(reply);
      announce(state === "not_answered" ? "Not answerable from these reports."
        : state === "partial" ? `Partly answered, with ${reply.citations.length} cited passages. ${reply.message || ""}`.trim()
          : `Answer with ${reply.citations.length} cited passages.`);
    } catch (err) {
      chat.messages.pop(); // the question was not answered: do not send it again
      pending.replaceWith(el("p", { class: "error-inline" }, `Could not answer: ${err.message}`));
      announce(`Could not answer: ${err.message}`);
    } finally {
      item.removeAttribute("aria-busy");
      chat.busy = false;
      $("#ask-button").removeAttribute("aria-disabled");
    }
  }

  // Scroll so that a turn starts just under the (sticky) question box when it, or its lead
  // sentence, is out of view: the newest answer is what the reader sees after asking.
  function revealTurn(item) {
    const below = $("#ask-form").getBoundingClientRect().height + 12;
    const top = item.getBoundingClientRect().top;
    const lead = item.querySelector(".answer .lead, .not-answerable .message, .pending, .error-inline");
    const leadBottom = lead ? lead.getBoundingClientRect().bottom : top;
    if (top < below || leadBottom > window.innerHeight) window.scrollBy({ top: top - below, behavior: "auto" });
  }

  function newConversation() {
    chat.messages = [];
    $("#log").replaceChildren();
    $("#examples").hidden = false;
    $("#question").value = "";
    showError(null);
    announce("New conversation started.");
    $("#question").focus();
  }

  // ----------------------------------------------------------------- compare
  async function compareForces(question) {
    const results = $("#compare-results");
    showError(null);
    results.setAttribute("aria-busy", "true");
    results.replaceChildren(el("p", { class: "pending" }, "Comparing forces…"));
    try {
      const r = await api("POST", "/v1/compare", { question });
      const columns = r.forces.map((f) => {
        const cited = f.status === "cited" && f.passages.length > 0;
        const state = cited ? (f.state === "partial" ? "partial" : "answered") : "none";
        const label = !cited
          ? (f.status === "not in corpus" ? "Not in the corpus" : "No relevant passage")
          : state === "partial" ? "Partly answered" : "Answered";
        const first = f.passages[0];
        return el("li", { class: `force-col ${cited ? "cited" : "none"}`, "data-force": f.force, "data-state": state },
          el("h2", { class: "force-name" }, f.force),
          el("p", { class: "state-label", "data-state": state }, label),
          cited && state === "partial" && f.missing
            ? el("p", { class: "missing" }, `The report covers the topic but does not give ${f.missing}.`) : null,
          // the force's answer sentence first, its number opening the passage in the report
          cited && f.sentence
            ? el("p", { class: "answer force-answer" }, el("span", { class: "sentence lead" }, f.sentence), " ",
              citationLink(1, first)) : null,
          cited
            ? f.passages.map((p, i) => passageCard(p, { level: 3, marker: i + 1 }))
            : el("p", { class: "no-passage" }, f.status === "not in corpus"
              ? "Not in the corpus: there is no report on this force."
              : "No relevant passage in this force’s report."));
      });
      const cited = r.forces.filter((f) => f.status === "cited").length;
      results.replaceChildren(
        el("p", { class: "summary" }, `${cited} of ${r.forces.length} forces have a relevant passage`,
          sameQuestion(r.topic, question) ? "." : ` (topic searched: “${r.topic}”).`),
        el("ul", { class: "compare-grid" }, columns));
      announce(`Compared ${r.forces.length} forces; ${cited} cited.`);
    } catch (err) {
      results.replaceChildren();
      showError(`Could not compare: ${err.message}`);
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  // -------------------------------------------------------------------- cite
  const CITE_LABELS = { exact: "Exact match", near: "Near match", not_found: "Not found" };

  // One side of a near match: its changed words in <del> (the quote) or <ins> (the report),
  // each with a spoken label; an empty span is a caret where the other side has words.
  function diffText(text, spans, tag, label) {
    const out = [];
    let pos = 0;
    for (const [s, e] of spans) {
      out.push(text.slice(pos, s), s < e
        ? el(tag, {}, el("span", { class: "visually-hidden" }, `[${label}: `), text.slice(s, e),
          el("span", { class: "visually-hidden" }, "]"))
        : el("span", { class: "diff-gap" }, el("span", { "aria-hidden": "true" }, "‸"),
          el("span", { class: "visually-hidden" }, `[${label}: nothing here]`)));
      pos = e;
    }
    out.push(text.slice(pos));
    return out;
  }

  function quoteDiff(quote, m) {
    return el("div", { class: "quote-diff" },
      el("p", { class: "diff-key" }, "Differing words: ", el("del", {}, "struck through"),
        " in your quote, ", el("ins", {}, "underlined"), " in the report; ",
        el("span", { class: "diff-gap" }, "‸"), " marks where words are missing."),
      el("p", { class: "label" }, "Your quote"),
      el("blockquote", { class: "text diff-quote" }, diffText(quote, m.diff.quote, "del", "your quote has")),
      el("p", { class: "label" }, "The report"),
      el("blockquote", { class: "text diff-report" }, diffText(m.text, m.diff.text, "ins", "the report has")));
  }

  async function findQuote(quote) {
    const results = $("#cite-results");
    showError(null);
    results.setAttribute("aria-busy", "true");
    results.replaceChildren(el("p", { class: "pending" }, "Looking for the quote…"));
    try {
      const r = await api("POST", "/v1/cite", { quote });
      const head = el("p", { class: `cite-status ${r.status}`, "data-status": r.status },
        el("strong", {}, CITE_LABELS[r.status] || r.status), r.message ? `: ${r.message}` : "");
      const matches = r.matches.map((m) => {
        const at = m.paragraph.indexOf(m.text);
        const body = m.status === "near" && m.diff ? quoteDiff(r.quote, m)
            : el("blockquote", { class: "text" }, at >= 0
              ? markedText(m.paragraph, [[at, at + m.text.length]]) : markedText(m.text, [[0, m.text.length]]));
        const how = m.status === "exact" ? "exact match"
          : m.status === "near" ? `near match (similarity ${m.similarity.toFixed(2)})`
            : `not a match: similarity ${m.similarity.toFixed(2)}, ${Math.round(m.similarity * 100)}% of the words in common`;
        return el("li", {}, el("article", { class: "passage cite-match", "data-status": m.status },
          el("h2", { class: "passage-title" }, m.title),
          el("p", { class: "meta" }, [m.force, how].filter(Boolean).join(" · ")),
          el("p", { class: "section" }, el("span", { class: "label" }, "Section: "), sectionPath(m.section) || "(front matter)"),
          el("p", { class: "offsets" }, el("span", { class: "label" }, "Offsets: "),
            `characters ${m.char_start}–${m.char_end} of the report text`),
          body,
          el("p", { class: "open" }, el("a", {
            class: "open-report", href: reportHash(m.doc_id, m.char_start, m.char_end),
          }, "Open in report", el("span", { class: "visually-hidden" }, `: ${m.title}`)))));
      });
      const closest = r.status === "not_found" && matches.length
        ? el("h2", { class: "closest-title" }, `Closest passages (${matches.length}), not matches`) : "";
      results.replaceChildren(head, closest, matches.length ? el("ol", { class: "matches" }, matches) : "");
      announce(`${CITE_LABELS[r.status] || r.status}.`);
    } catch (err) {
      results.replaceChildren();
      showError(`Could not look up the quote: ${err.message}`);
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  // ------------------------------------------------------------------ report
  let report = { id: null, doc: null, text: "" };
  let reportToken = 0;

  function toInt(value) {
    return value !== null && /^\d+$/.test(value) ? Number(value) : null;
  }

  function sectionAt(pos) {
    let best = null;
    for (const s of report.doc.section_tree) {
      if (s.char_start <= pos && pos < s.char_end && (!best || s.level >= best.level)) best = s;
    }
    return best;
  }

  function renderNav(start, end, current) {
    const tree = report.doc.section_tree;
    const children = new Map();
    for (const s of tree) {
      const key = s.parent === null ? -1 : s.parent;
      if (!children.has(key)) children.set(key, []);
      children.get(key).push(s);
    }
    const span = start !== null ? `&start=${start}&end=${end}` : "";
    const build = (key) => el("ul", {}, (children.get(key) || []).map((s) => el("li", {},
      el("a", {
        href: `#doc=${encodeURIComponent(report.id)}${span}&sec=${s.index}`,
        "aria-current": current && current.index === s.index ? "location" : null,
        onclick: (event) => {
          event.preventDefault();
          history.replaceState(null, "", event.currentTarget.getAttribute("href"));
          focusTarget(document.getElementById(`sec-${s.index}`), "start");
        },
      }, s.title),
      children.has(s.index) ? build(s.index) : null)));
    $("#report-nav").replaceChildren(tree.length ? build(-1) : el("p", {}, "This report has no sections."));
  }

  // keep the section that holds the highlight visible in the (scrolling) section list
  function scrollNavToCurrent() {
    const box = $("#report-nav-box");
    const link = $("#report-nav a[aria-current]");
    if (link && box.open) box.scrollTop = Math.max(0, link.offsetTop - box.clientHeight / 3);
  }

  // What a reader sees of a span of canonical text: footnote markers written [N], and HTML
  // tags, heading marks, emphasis, link syntax and escapes removed (the CONTRACT.md rule).
  const SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹";
  const entities = document.createElement("textarea");
  function display(raw) {
    const text = raw
      .replace(/<sup>\s*(\d{1,3})\s*<\/sup>/gi, "[$1]")
      .replace(/\[\^(\d{1,3})\]:?/g, "[$1]")
      .replace(/[⁰¹²³⁴⁵⁶⁷⁸⁹]+/g, (m) => `[${[...m].map((c) => SUPERSCRIPTS.indexOf(c)).join("")}]`)
      .replace(/<\/?[A-Za-z][^<>]*>/g, "")
      .replace(/^[ \t]{0,3}#{1,6}[ \t]+/gm, "")
      .replace(/\[([^\]\n]*)\]\([^)\s]*\)/g, "$1")
      .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, "$2")
      .replace(/(?<![\w*\\])\*(?=[^\s*])([^*\n]*?[^\s*\\])\*(?![\w*])/g, "$1")
      .replace(/\\([!-/:-@[-`{-~])/g, "$1");
    entities.innerHTML = text.replace(/</g, "&lt;"); // decodes &amp; etc., never markup
    return entities.value.replace(/[^\S\t\n]+/g, " ").replace(/\n\s*\n\s*/g, "\n").trim();
  }

  // A table block: caption lines, then TAB-separated rows as a table (cells keep a TAB
  // between them so the text reads, and copies, as the report's).
  function tableBlock(text) {
    const lines = text.split("\n");
    const first = lines.findIndex((l) => l.includes("\t"));
    if (first < 0) return el("p", { class: "block" }, text);
    const caption = lines.slice(0, first).join("\n");
    const rows = lines.slice(first).map((line, r) => el("tr", {},
      line.split("\t").map((cell, k, cells) => el(r === 0 ? "th" : "td", {},
        cell + (k < cells.length - 1 ? "\t" : "\n")))));
    return el("table", { class: "report-table" },
      caption ? el("caption", {}, caption + "\n") : null, el("tbody", {}, rows));
  }

  // The report as its headings and content blocks (text outside them, such as navigation
  // links, tables of contents and title pages, is furniture and not shown), an anchor at each
  // section start and the cited span [start, end) in one <mark>.
  function renderText(start, end) {
    const text = report.text;
    const { section_tree: tree, blocks = [] } = report.doc;
    let pieces = [];
    for (const s of tree) {
      const headingEnd = s.heading_end ?? s.char_start;
      if (headingEnd > s.char_start) {
        pieces.push({ kind: "heading", start: s.char_start, end: headingEnd, level: s.level });
      }
    }
    for (const b of blocks) pieces.push({ kind: b.type, start: b.char_start, end: b.char_end });
    if (start !== null) { // cut pieces at the cited span's ends, so the mark holds exactly it
      pieces = pieces.flatMap((p) => [start, end]
        .filter((x) => p.start < x && x < p.end)
        .concat([p.end])
        .map((x, i, cuts) => ({ ...p, start: i ? cuts[i - 1] : p.start, end: x, cut: cuts.length > 1 })));
    }
    pieces.sort((a, b) => a.start - b.start || a.end - b.end);
    const anchors = [...tree].sort((a, b) => a.char_start - b.char_start);
    const root = document.createDocumentFragment();
    let mark = null, next = 0;
    for (const p of pieces) {
      const body = display(text.slice(p.start, p.end));
      const parent = start !== null && p.start >= start && p.end <= end && p.end > p.start
        ? (mark ??= root.appendChild(el("mark", { id: "cited", class: "cited", tabindex: "-1" })))
        : root;
      while (next < anchors.length && anchors[next].char_start <= p.start) {
        parent.append(el("span", { id: `sec-${anchors[next].index}`, class: "sec-anchor", tabindex: "-1" }));
        next += 1;
      }
      if (!body) continue;
      if (parent === mark && mark.childNodes.length) mark.append("\n");
      if (p.kind === "heading") {
        parent.append(el("p", { class: `heading level-${Math.min(p.level, 4)}` }, el("strong", {}, body)));
      } else if (p.kind === "table" && !p.cut) {
        parent.append(tableBlock(body));
      } else {
        parent.append(el("p", { class: p.kind === "footnote" ? "block footnote" : "block" }, body));
      }
    }
    while (next < anchors.length) { // sections with no content of their own
      root.append(el("span", { id: `sec-${anchors[next].index}`, class: "sec-anchor", tabindex: "-1" }));
      next += 1;
    }
    $("#report-text").replaceChildren(root);
    return mark;
  }

  async function showReport(params) {
    const token = ++reportToken;
    const id = params.get("doc");
    let start = toInt(params.get("start"));
    let end = toInt(params.get("end"));
    const sec = toInt(params.get("sec"));
    if (report.id !== id) {
      $("#report-title").textContent = "Loading the report…";
      $("#report-meta").textContent = "";
      $("#report-span").replaceChildren();
      $("#report-nav").replaceChildren();
      $("#report-text").replaceChildren();
      try {
        const path = `/v1/documents/${encodeURIComponent(id)}`;
        const [doc, text] = await Promise.all([api("GET", path), api("GET", `${path}/text`)]);
        if (token !== reportToken) return;
        report = { id, doc, text };
      } catch (err) {
        if (token !== reportToken) return;
        report = { id: null, doc: null, text: "" };
        $("#view-report .report").hidden = true;
        $("#report-title").textContent = "Report not available";
        showError(`The report could not be opened: ${err.message}`);
        return;
      }
    }
    $("#view-report .report").hidden = false;
    const { doc, text } = report;
    $("#report-title").textContent = doc.title;
    document.title = `${doc.title} – ncpi-qa`;
    $("#report-meta").textContent = [doc.force, doc.report_type,
      doc.inspection_dates && `inspected ${doc.inspection_dates}`,
      doc.published && `published ${doc.published}`, doc.source].filter(Boolean).join(" · ");
    const info = $("#report-span");
    info.replaceChildren();
    if (start !== null && (end === null || end <= start || end > text.length)) {
      info.append(el("p", { class: "error-inline" },
        `The link’s span (${start}–${end}) is not inside this report’s text, so nothing is highlighted.`));
      start = end = null;
    }
    const current = start !== null ? sectionAt(start) : null;
    renderNav(start, end, current);
    const navBox = $("#report-nav-box");
    navBox.open = window.matchMedia("(min-width: 50rem)").matches;
    scrollNavToCurrent();
    const mark = renderText(start, end);
    if (mark) {
      info.append(el("p", {},
        el("span", { class: "swatch", "aria-hidden": "true" }), "Highlighted: characters ",
        `${start}–${end}`, current ? ` in “${sectionPath(current.path)}”` : "", " ",
        el("button", { type: "button", class: "linkish", onclick: () => focusTarget($("#cited")) },
          "Go to the highlighted passage")));
      focusTarget(mark);
    } else if (sec !== null && document.getElementById(`sec-${sec}`)) {
      focusTarget(document.getElementById(`sec-${sec}`), "start");
    } else {
      window.scrollTo(0, 0);
      $("#report-title").focus();
    }
    announce(`Opened ${doc.title}${mark ? ", cited passage highlighted" : ""}.`);
  }

  // ------------------------------------------------------------------ router
  let lastView = "ask";
  let lastOpener = null;

  function show(view) {
    for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
    for (const link of document.querySelectorAll("header nav a")) {
      const active = link.dataset.view === view;
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (view !== "report") document.title = `${TITLES[view]} – ncpi-qa`;
  }

  function route(fromHashChange) {
    const hash = decodeURIComponent(location.hash.slice(1));
    // in-page anchors (the skip link) are not views
    if (hash && !VIEWS.includes(hash) && !hash.includes("=") && document.getElementById(hash)) return;
    showError(null);
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get("doc")) {
      show("report");
      const back = $("#report-back");
      back.href = `#${lastView}`;
      back.textContent = `← Back to ${TITLES[lastView].toLowerCase()}`;
      showReport(params);
      return;
    }
    const name = hash.split("&")[0];
    const view = VIEWS.includes(name) && name !== "report" ? name : "ask";
    const returning = lastView === view;
    lastView = view;
    show(view);
    if (!fromHashChange) return;
    if (returning && lastOpener && $(`#view-${view}`).contains(lastOpener)) {
      focusTarget(lastOpener); // back from the report: where the reader left off
    } else if (!returning) {
      const heading = $(`#view-${view} h1`);
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  // ------------------------------------------------------------------- wiring
  function onEnterSubmit(textarea, form) {
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  function init() {
    $("#report-title").setAttribute("tabindex", "-1");
    $("#ask-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("#question");
      const question = input.value.trim();
      if (!question || chat.busy) return;
      const filters = validFilters();
      if (!filters) return;
      input.value = "";
      ask(question, filters).then(() => input.focus({ preventScroll: true }));
    });
    $("#new-conversation").addEventListener("click", newConversation);
    for (const button of document.querySelectorAll("button.example")) {
      button.addEventListener("click", () => {
        $("#question").value = button.textContent;
        $("#ask-form").requestSubmit();
      });
    }
    for (const id of ["#f-force", "#f-type", "#f-from", "#f-to"]) {
      $(id).addEventListener("change", updateFilterSummary);
    }
    updateFilterSummary();
    $("#compare-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const q = $("#compare-question").value.trim();
      if (q) compareForces(q);
    });
    $("#cite-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const q = $("#quote").value.trim();
      if (q) findQuote(q);
    });
    onEnterSubmit($("#quote"), $("#cite-form"));
    $("#report-nav-box").addEventListener("toggle", scrollNavToCurrent);
    document.addEventListener("click", (event) => {
      const link = event.target.closest && event.target.closest("a.open-report, a.marker");
      if (link) lastOpener = link;
    });
    window.addEventListener("hashchange", () => route(true));
    route(false);
    loadDocuments();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
