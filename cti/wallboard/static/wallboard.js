// The wallboard: one server-sent event per statistics sample (GET /api/v1/stream), each a
// whole document, rendered as it comes. Nothing here computes a figure: the daemon's document
// has them all; this page only formats them and applies the thresholds it carries.
"use strict";

(function () {
  const token = new URLSearchParams(location.search).get("token");
  const withToken = (path) => token ? `${path}?token=${encodeURIComponent(token)}` : path;
  const STALE_MS = 10000;  // no document for this long: the figures are marked stale
  const state = { doc: null, renders: 0, receivedAt: 0, source: null, retryMs: 1000 };
  window.wallboard = state;  // for people poking at it, and for the tests

  // -- formatting -----------------------------------------------------------------------
  const dash = "–";
  const count = (v) => (v === null || v === undefined) ? dash : String(v);
  const pct = (v) => (v === null || v === undefined) ? dash : `${(100 * v).toFixed(1)}%`;
  const secs = (v) => (v === null || v === undefined) ? dash : `${Math.round(v)} s`;
  function clock(v) {
    if (v === null || v === undefined) return dash;
    const s = Math.max(0, Math.round(v));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? `${h}:` : "") + `${mm}:${String(r).padStart(2, "0")}`;
  }
  const FORMAT = {
    waiting: count, offered: count, longest_wait_s: clock, service_level: pct, asa_s: secs,
    abandon_rate: pct, ready: count, on_call: count, wrap_up: count, not_ready: count,
  };

  // Amber and red: a figure whose amber is above its red (service level) is worse when lower.
  function level(value, t) {
    if (!t || value === null || value === undefined) return "";
    if (t.amber > t.red) return value < t.red ? "red" : value < t.amber ? "amber" : "";
    return value >= t.red ? "red" : value >= t.amber ? "amber" : "";
  }

  function put(el, key, value, thresholds) {
    if (!el) return "";
    el.textContent = (FORMAT[key] || count)(value);
    el.dataset.value = value === null || value === undefined ? "" : String(value);
    const lv = level(value, thresholds && thresholds[key]);
    el.classList.toggle("amber", lv === "amber");
    el.classList.toggle("red", lv === "red");
    return lv;
  }

  // -- rendering ------------------------------------------------------------------------
  function figuresOf(q) {
    return {
      waiting: q.waiting, longest_wait_s: q.longest_wait_s,
      service_level: q.today.service_level, asa_s: q.today.asa_s,
      abandon_rate: q.today.abandon_rate, offered: q.today.offered, ...q.agents,
    };
  }

  function renderTotals(doc, th) {
    const f = figuresOf(doc.totals);
    for (const el of document.querySelectorAll("[data-figure^='totals:']")) {
      const key = el.dataset.figure.slice("totals:".length);
      put(el, key, f[key], th);
    }
  }

  function renderQueues(doc, th) {
    const box = document.getElementById("queues");
    const tpl = document.getElementById("queue-card");
    const seen = new Set();
    for (const q of doc.queues) {
      seen.add(q.name);
      let card = box.querySelector(`[data-queue="${CSS.escape(q.name)}"]`);
      if (!card) {
        card = tpl.content.firstElementChild.cloneNode(true);
        card.dataset.queue = q.name;
        card.querySelector(".name").textContent = q.name;
        box.appendChild(card);
      }
      const st = card.querySelector(".state");
      st.textContent = q.state === "open" ? `open · SL ${q.service_level_s} s` : q.state;
      st.classList.toggle("closed", q.state !== "open");
      const f = figuresOf(q);
      let worst = "";
      for (const el of card.querySelectorAll("[data-f]")) {
        const lv = put(el, el.dataset.f, f[el.dataset.f], th);
        if (lv === "red" || (lv === "amber" && worst !== "red")) worst = lv;
      }
      card.classList.toggle("red", worst === "red");
      card.classList.toggle("amber", worst === "amber");
    }
    for (const card of [...box.children]) {
      if (!seen.has(card.dataset.queue)) card.remove();
    }
  }

  const ORDER = { "on-call": 0, ringing: 1, reserved: 1, "wrap-up": 2, ready: 3, "not-ready": 4 };

  function renderAgents(doc, th) {
    const box = document.getElementById("agents");
    const present = doc.agents.filter((a) => a.state !== "logged-out");
    present.sort((a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9)
      || b.time_in_state_s - a.time_in_state_s || a.id.localeCompare(b.id));
    const out = doc.agents.length - present.length;
    document.getElementById("logged-out").textContent =
      `${present.length} logged in` + (out ? `, ${out} logged out` : "");
    const cards = present.map((a) => {
      let card = box.querySelector(`[data-agent="${CSS.escape(a.id)}"]`);
      if (!card) {
        card = document.createElement("div");
        card.dataset.agent = a.id;
        card.innerHTML = '<span class="who"></span><span class="calls" data-f="calls"></span>'
          + '<span class="state" data-f="state"></span><span class="time" data-f="time"></span>';
      }
      card.className = `agent ${a.state}`;
      card.querySelector(".who").textContent = a.name || a.id;
      card.querySelector(".who").title = a.name ? `${a.name} (${a.id})` : a.id;
      const calls = card.querySelector("[data-f=calls]");
      calls.textContent = a.calls_today === 1 ? "1 call" : `${a.calls_today} calls`;
      calls.dataset.value = String(a.calls_today);
      const st = card.querySelector("[data-f=state]");
      st.textContent = a.reason ? `${a.state} · ${a.reason}` : a.state;
      st.dataset.value = a.state;
      st.dataset.reason = a.reason || "";
      const time = card.querySelector("[data-f=time]");
      time.textContent = clock(a.time_in_state_s);
      time.dataset.value = String(a.time_in_state_s);
      const lv = a.state === "not-ready" ? level(a.time_in_state_s, th.not_ready_s) : "";
      time.classList.toggle("amber", lv === "amber");
      time.classList.toggle("red", lv === "red");
      return card;
    });
    box.replaceChildren(...cards);
  }

  const SVG = "http://www.w3.org/2000/svg";
  function node(tag, attrs, parent) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (parent) parent.appendChild(el);
    return el;
  }

  // Times of day in the site's zone ([wallboard] timezone), not the browser's.
  function timeOfDay(at, doc, seconds) {
    const opts = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (seconds) opts.second = "2-digit";
    if (doc.wallboard.timezone) opts.timeZone = doc.wallboard.timezone;
    return new Date(at * 1000).toLocaleTimeString([], opts);
  }

  function renderChart(doc) {
    const svg = document.getElementById("chart");
    const minutes = Math.round(doc.interval_s / 60);
    document.getElementById("interval").textContent =
      minutes === 30 ? "half hour" : minutes === 60 ? "hour"
        : minutes === 1 ? "minute" : `${minutes} minutes`;
    const W = 1000, H = 260, L = 40, R = 40, T = 10, B = 26;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.replaceChildren();
    // The working part of the day: from the first interval with calls (or the current one).
    let rows = doc.intervals;
    const first = rows.findIndex((r) => r.offered > 0);
    rows = rows.slice(first < 0 ? Math.max(0, rows.length - 1) : first);
    const top = Math.max(4, ...rows.map((r) => r.offered));
    const step = Math.pow(10, Math.floor(Math.log10(top)));
    const ymax = Math.ceil(top / step) * step;
    const slots = Math.max(rows.length, 8);
    const bw = (W - L - R) / slots;
    const y = (v) => T + (H - T - B) * (1 - v / ymax);
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4;
      node("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }, svg);
      node("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, svg).textContent =
        String(Math.round(v));
      node("text", { x: W - R + 6, y: T + (H - T - B) * (1 - i / 4) + 4 }, svg).textContent =
        `${25 * i}%`;
    }
    const label = Math.ceil(rows.length / 12);
    const points = [];
    rows.forEach((r, i) => {
      const x = L + i * bw + bw * 0.1, w = bw * 0.8;
      const other = Math.max(0, r.offered - r.answered - r.abandoned);
      let base = 0;
      for (const [cls, v] of [["answered", r.answered], ["abandoned", r.abandoned],
                              ["other", other]]) {
        if (v > 0) {
          node("rect", { x, width: w, y: y(base + v), height: y(base) - y(base + v),
                         class: cls }, svg);
        }
        base += v;
      }
      const bar = node("rect", { x, width: w, y: T, height: H - T - B, fill: "transparent",
                                 "data-start": r.start, "data-offered": r.offered }, svg);
      const hhmm = timeOfDay(r.start, doc, false);
      node("title", {}, bar).textContent =
        `${hhmm}: ${r.offered} offered, ${r.answered} answered, ${r.abandoned} abandoned`;
      if (i % label === 0) {
        node("text", { x: x + w / 2, y: H - 8, "text-anchor": "middle" }, svg).textContent = hhmm;
      }
      if (r.service_level !== null) {
        points.push(`${x + w / 2},${T + (H - T - B) * (1 - r.service_level)}`);
      }
    });
    if (points.length) node("polyline", { points: points.join(" "), class: "sl" }, svg);
    svg.dataset.intervals = String(rows.length);
    svg.dataset.offered = String(rows.reduce((s, r) => s + r.offered, 0));
  }

  function render(doc) {
    const th = doc.wallboard.thresholds;
    document.getElementById("title").textContent = doc.wallboard.title;
    document.title = doc.wallboard.title;
    document.getElementById("clock").textContent = timeOfDay(doc.at, doc, true);
    renderTotals(doc, th);
    renderQueues(doc, th);
    renderChart(doc);
    renderAgents(doc, th);
    document.body.dataset.at = String(doc.at);
    state.doc = doc;
    state.renders += 1;
  }

  // -- the stream, and reconnecting to a daemon that restarted ----------------------------
  function badge(name) {
    const el = document.getElementById("connection");
    el.className = `badge ${name}`;
    el.textContent = name;
    el.dataset.state = name;
    document.body.classList.toggle("offline", name === "stale");
  }

  function connect() {
    const source = new EventSource(withToken("api/v1/stream"));
    state.source = source;
    source.addEventListener("statistics", (ev) => {
      state.receivedAt = Date.now();
      state.retryMs = 1000;
      badge("live");
      render(JSON.parse(ev.data));
    });
    source.onerror = () => {
      badge("reconnecting");
      // The browser retries by itself after a network error; after a refusal it gives up
      // (CLOSED): then start again, backing off to 30 s.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, state.retryMs);
        state.retryMs = Math.min(30000, state.retryMs * 2);
      }
    };
  }

  setInterval(() => {
    if (state.receivedAt && Date.now() - state.receivedAt > STALE_MS) badge("stale");
  }, 1000);
  connect();
})();
