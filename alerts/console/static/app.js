// linewatch operator console. Plain JS, no build step. Every string from the
// server is inserted with textContent, never innerHTML. Values and times
// come formatted by the server (site time zone, tag unit and decimals);
// only the trend's axis labels are formatted here, by fmtNumber and
// fmtZoned, which a browser test checks against the Go formatter.
"use strict";

const RANK = { urgent: 0, high: 1, medium: 2, low: 3 };
const STATE_TEXT = {
  unacknowledged: "UNACK", acknowledged: "acknowledged", rtn_unack: "cleared, UNACK",
  latched: "latched", shelved: "shelved", suppressed: "suppressed", out_of_service: "out of service", normal: "normal",
};
// Which states each summary view lists (ISA-101: shelved and suppressed
// alarms leave the active list but stay one click away).
const VIEW_STATES = {
  active: ["unacknowledged", "rtn_unack", "acknowledged", "latched"],
  shelved: ["shelved", "suppressed", "out_of_service"],
};

// Health strip: which system-alarm conditions (alerts.SystemDetector
// "system", the tag is the condition name) colour which chip.
const HEALTH_CHIPS = [
  { key: "influxdb", label: "InfluxDB", bad: ["influxdb_write_failing"] },
  { key: "spool", label: "Spool", bad: ["spool_above_80pct"], warn: ["spool_in_use"] },
  { key: "nats", label: "NATS", bad: ["nats_publish_failing"] },
  { key: "notifier", label: "Notifier", bad: ["notifier_consumer_missing"] },
  { key: "analytics", label: "Analytics lag", bad: ["analytics_lagging"] },
];

let me = null;          // {user, role, csrf, can_command, zone}
let machines = [];      // "line/machine" of the plant
let rows = new Map();   // condition key → row
let events = [];
let source = null;
let view = "active";
let dialogTarget = null; // the row a dialog acts on
let historyNext = 0;
let trendPlot = null;
const announced = new Set(); // urgent activations already sounded

// State the browser tests read.
window.lwSound = { beeps: 0, played: 0 };
window.lwTrend = null;

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// fmtNumber is display.Number: decimals digits, half-to-even on exact
// ties as Go's strconv, "NaN"/"+Inf"/"-Inf", no negative zero, and a
// space before the unit.
function fmtNumber(v, decimals, unit) {
  let s;
  if (Number.isNaN(v)) s = "NaN";
  else if (v === Infinity) s = "+Inf";
  else if (v === -Infinity) s = "-Inf";
  else {
    const d = Math.min(Math.max(decimals | 0, 0), 10);
    const a = Math.abs(v);
    if (a >= 1e21) {
      s = BigInt(a).toString() + (d > 0 ? "." + "0".repeat(d) : "");
    } else {
      // toFixed rounds the exact value correctly but breaks a tie away
      // from zero; Go breaks it to even. The exact expansion finds a tie.
      const exact = a.toFixed(Math.min(d + 40, 100));
      const dot = exact.indexOf(".");
      const kept = exact.slice(0, d > 0 ? dot + 1 + d : dot);
      let body = a.toFixed(d);
      if (/^50*$/.test(exact.slice(dot + 1 + d)) && Number(kept[kept.length - 1]) % 2 === 0) body = kept;
      s = (v < 0 ? "-" : "") + body;
      if (s.startsWith("-") && /^[0.]*$/.test(s.slice(1))) s = s.slice(1);
    }
  }
  return unit ? s + " " + unit : s;
}

// fmtZoned writes ms since 1970 in the IANA zone tz as
// "YYYY-MM-DD HH:mm:ss" (24-hour), the digits of display.Time.
const zonedFormats = new Map();
function fmtZoned(ms, tz) {
  let f = zonedFormats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    zonedFormats.set(tz, f);
  }
  const p = {};
  for (const x of f.formatToParts(new Date(ms))) p[x.type] = x.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

function showMessage(text, ok) {
  const m = $("message");
  m.textContent = text;
  m.className = ok ? "ok" : "fail";
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET" && me) opts.headers["X-CSRF-Token"] = me.csrf;
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    return { status: 0, data: { ok: false, message: "The console server is not reachable: " + e.message } };
  }
  let data = {};
  try { data = await resp.json(); } catch (e) { data = { ok: false, message: "HTTP " + resp.status }; }
  if (resp.status === 401 && path !== "/api/login") showLogin(data.message);
  return { status: resp.status, data };
}

function setStatus(text) {
  const s = $("status");
  s.textContent = text;
  s.className = "status" + (text === "live" ? " live" : text.startsWith("disconnected") ? " down" : "");
}

function showLogin(msg) {
  me = null;
  if (source) { source.close(); source = null; }
  $("console").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = msg || "";
  $("login-user").focus();
}

function showConsole() {
  $("login").hidden = true;
  $("console").hidden = false;
  $("who").hidden = false;
  $("user").textContent = me.user;
  $("role").textContent = me.role;
  $("site").textContent = me.site ? "— " + me.site : "";
  $("zone").textContent = me.zone ? "Times: " + me.zone : "";
  connect();
}

// --- sound and flash for new urgent alarms ---------------------------------

let audio = null;
function muted() { return localStorage.getItem("linewatch.mute") === "1"; }
function renderMute() {
  const b = $("mute");
  b.setAttribute("aria-pressed", muted() ? "true" : "false");
  b.textContent = muted() ? "Sound muted" : "Sound on";
  b.classList.toggle("muted", muted());
}
function beep() {
  window.lwSound.beeps++;
  if (muted()) return;
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator(), g = audio.createGain();
    o.type = "square";
    o.frequency.value = 880;
    g.gain.value = 0.08;
    o.connect(g);
    g.connect(audio.destination);
    const t = audio.currentTime;
    o.start(t);
    o.stop(t + 0.18);
    const o2 = audio.createOscillator();
    o2.type = "square";
    o2.frequency.value = 660;
    o2.connect(g);
    o2.start(t + 0.25);
    o2.stop(t + 0.45);
    window.lwSound.played++;
  } catch (e) { /* no audio device: the flash still shows */ }
}
function urgentSig(r) {
  return r.priority === "urgent" && r.active && r.unack ? r.key + "@" + r.activated_ms : "";
}

// --- live feed ---------------------------------------------------------------

function connect() {
  if (source) source.close();
  setStatus("connecting…");
  source = new EventSource("/api/events");
  source.addEventListener("snapshot", (e) => {
    const s = JSON.parse(e.data);
    rows = new Map(s.rows.map((r) => [r.key, r]));
    for (const r of s.rows) { const sig = urgentSig(r); if (sig) announced.add(sig); }
    machines = s.machines || [];
    events = s.events.slice().reverse();
    if (s.zone) $("zone").textContent = "Times: " + s.zone;
    setStatus(s.status);
    fillLineFilters();
    render();
  });
  source.addEventListener("update", (e) => {
    const u = JSON.parse(e.data);
    if (u.type === "row") {
      rows.set(u.row.key, u.row);
      const sig = urgentSig(u.row);
      if (sig && !announced.has(sig)) { announced.add(sig); beep(); }
    } else if (u.type === "remove") rows.delete(u.key);
    else if (u.type === "event") { events.unshift(u.event); events.length = Math.min(events.length, 100); }
    else if (u.type === "status") setStatus(u.status);
    render();
  });
  source.addEventListener("logout", (e) => showLogin(JSON.parse(e.data).message));
  source.onerror = async () => {
    setStatus("disconnected, reconnecting…");
    if (source && source.readyState === EventSource.CLOSED) {
      const r = await api("GET", "/api/me");
      if (r.status === 200) setTimeout(connect, 2000);
    }
  };
}

function actionButton(label, cls, onclick) {
  const b = el("button", cls, label);
  b.type = "button";
  b.addEventListener("click", (e) => { e.stopPropagation(); onclick(); });
  return b;
}

// --- health strip --------------------------------------------------------------

// systemActive lists the active system conditions named in names
// (optionally of one line/machine).
function systemActive(names, line, machine) {
  const out = [];
  for (const r of rows.values()) {
    if (r.detector !== "system" || !r.active || !names.includes(r.tag)) continue;
    if (line !== undefined && (r.line !== line || r.machine !== machine)) continue;
    out.push(r);
  }
  return out;
}

function chip(key, label, level, why) {
  const c = el("span", "chip " + level, label);
  c.dataset.health = key;
  c.dataset.level = level;
  c.title = why || "OK";
  return c;
}

function renderHealth() {
  const strip = $("health");
  strip.replaceChildren(el("span", "small", "Plant: "));
  for (const m of machines) {
    const [line, machine] = m.split("/");
    const lost = systemActive(["opcua_comm_lost"], line, machine);
    strip.append(chip("opcua:" + m, m, lost.length ? "bad" : "ok", lost.map((a) => a.message).join("\n") || "OPC UA connected"));
  }
  // Comm loss on a machine the console was not told about still shows.
  for (const a of systemActive(["opcua_comm_lost"])) {
    if (!machines.includes(a.line + "/" + a.machine)) strip.append(chip("opcua:" + a.line + "/" + a.machine, a.line + "/" + a.machine, "bad", a.message));
  }
  for (const h of HEALTH_CHIPS) {
    const bad = systemActive(h.bad), warn = systemActive(h.warn || []);
    const level = bad.length ? "bad" : warn.length ? "warn" : "ok";
    strip.append(chip(h.key, h.label, level, bad.concat(warn).map((a) => a.message).join("\n")));
  }
}

// --- filters, sort, summary ----------------------------------------------------

function lines() {
  const s = new Set(machines.map((m) => m.split("/")[0]));
  for (const r of rows.values()) if (r.line) s.add(r.line);
  return Array.from(s).sort();
}

function fillSelect(sel, values) {
  const keep = sel.value;
  sel.replaceChildren(el("option", "", "all"));
  sel.firstChild.value = "";
  for (const v of values) { const o = el("option", "", v); o.value = v; sel.append(o); }
  if (values.includes(keep)) sel.value = keep;
}

function fillLineFilters() {
  fillSelect($("f-line"), lines());
  fillSelect($("h-line"), lines());
}

function fillStateFilter() {
  const sel = $("f-state");
  const keep = sel.value;
  sel.replaceChildren(el("option", "", "all"));
  sel.firstChild.value = "";
  const states = view === "active" ? ["needs ack"].concat(VIEW_STATES.active) : VIEW_STATES.shelved;
  for (const s of states) { const o = el("option", "", STATE_TEXT[s] || s); o.value = s; sel.append(o); }
  sel.value = states.includes(keep) ? keep : "";
}

const SORTS = {
  priority: (a, b) => (RANK[a.priority] ?? 9) - (RANK[b.priority] ?? 9) || b.activated_ms - a.activated_ms || cmp(a.key, b.key),
  newest: (a, b) => b.activated_ms - a.activated_ms || cmp(a.key, b.key),
  oldest: (a, b) => a.activated_ms - b.activated_ms || cmp(a.key, b.key),
  line: (a, b) => cmp(a.line, b.line) || cmp(a.machine, b.machine) || (RANK[a.priority] ?? 9) - (RANK[b.priority] ?? 9) || cmp(a.key, b.key),
};
function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

function visibleRows() {
  const line = $("f-line").value, prio = $("f-priority").value, state = $("f-state").value;
  const text = $("f-text").value.trim().toLowerCase();
  const states = VIEW_STATES[view] || VIEW_STATES.active;
  return Array.from(rows.values()).filter((r) => {
    if (!states.includes(r.state)) return false;
    if (line && r.line !== line) return false;
    if (prio && r.priority !== prio) return false;
    if (state === "needs ack" ? !r.unack : state && r.state !== state) return false;
    if (text && ![r.id, r.message, r.machine, r.tag, r.line].some((f) => (f || "").toLowerCase().includes(text))) return false;
    return true;
  }).sort(SORTS[$("f-sort").value] || SORTS.priority);
}

function countIn(v) {
  let n = 0;
  for (const r of rows.values()) if (VIEW_STATES[v].includes(r.state)) n++;
  return n;
}

function render() {
  renderHealth();
  const na = countIn("active"), ns = countIn("shelved");
  $("count-active").textContent = na ? "(" + na + ")" : "";
  $("count-shelved").textContent = ns ? "(" + ns + ")" : "";
  if (view !== "history") renderSummary();
  renderEvents();
}

function renderSummary() {
  const tbody = $("alarm-rows");
  const list = visibleRows();
  tbody.replaceChildren();
  for (const r of list) tbody.append(summaryRow(r));
  $("empty").hidden = list.length > 0;
  $("empty").textContent = rows.size && list.length === 0 && countIn(view) ? "No alarms match the filters." :
    view === "shelved" ? "No shelved, suppressed or out-of-service alarms." : "No active alarms.";
}

function summaryRow(r) {
  const tr = el("tr", "p-" + r.priority + " " + r.state + (r.unack ? " unack" : "") + (urgentSig(r) ? " flash" : ""));
  tr.dataset.alarmId = r.id;
  tr.dataset.key = r.key;
  tr.dataset.state = r.state;
  tr.title = "Click for the trend of " + r.line + "/" + r.machine + "/" + r.tag;
  const p = el("td", "prio-cell"); p.append(el("span", "prio " + r.priority, r.priority)); tr.append(p);
  tr.append(el("td", "when", r.activated));
  const m = el("td", "alarm");
  m.append(el("span", "where", r.line + " / " + r.machine + " / " + r.tag + (r.rule ? " (" + r.rule + ")" : "")), el("span", "msg", r.message));
  if (r.value) m.append(el("span", "inline-value", r.value + (r.limit ? " (limit " + r.limit + ")" : "")));
  if (r.members.length > 1) {
    const ms = el("span", "members");
    for (const x of r.members) {
      const c = el("span", "member " + x.priority + (x.active ? " active" : ""), (x.rule || x.id) + ": " + (STATE_TEXT[x.state] || x.state));
      c.dataset.member = x.id;
      ms.append(c);
    }
    m.append(ms);
  }
  tr.append(m);
  const v = el("td", "value c-value");
  if (r.value) { v.append(el("span", "v", r.value)); if (r.limit) v.append(el("span", "small", "limit " + r.limit)); }
  tr.append(v);
  const st = el("td", "state");
  st.append(el("span", "st", STATE_TEXT[r.state] || r.state));
  if (r.chattering) st.append(el("span", "small tag-chatter", "chattering"));
  if (r.cleared) st.append(el("span", "small", "cleared " + r.cleared));
  if (r.acked_by) st.append(el("span", "small", "ack " + r.acked_by + (r.acked ? " " + r.acked : "")));
  if (r.shelved_by) st.append(el("span", "small", "by " + r.shelved_by + " until " + r.shelved_until + " — " + (r.shelve_reason || "")));
  if (r.out_of_service_by) st.append(el("span", "small", "by " + r.out_of_service_by + " — " + (r.out_of_service_reason || "")));
  tr.append(st);
  const cell = el("td", "actions");
  const act = el("div", "acts");
  cell.append(act);
  const a = r.actions || {};
  if (a.ack) act.append(actionButton("Ack", "ack", () => commandAll("ack", a.ack)));
  if (a.reset) act.append(actionButton("Reset", "reset", () => commandAll("reset", a.reset)));
  if (a.unshelve) act.append(actionButton("Unshelve", "unshelve", () => commandAll("unshelve", a.unshelve)));
  if (a.shelve) act.append(actionButton("Shelve…", "shelve", () => openShelve(r)));
  if (a.comment) act.append(actionButton("Note…", "note", () => openComment(r)));
  tr.append(cell);
  tr.addEventListener("click", () => openTrend(r.id));
  return tr;
}

function renderEvents() {
  const ol = $("events");
  ol.replaceChildren();
  for (const ev of events.slice(0, 50)) ol.append(eventItem(ev));
}

function eventItem(ev) {
  const li = el("li", "p-" + ev.priority);
  li.append(el("span", "small", ev.time + " "), el("span", "ev", ev.event + " "),
    el("span", "", ev.line + " / " + ev.machine + " / " + ev.tag + (ev.rule ? " (" + ev.rule + ")" : "") + " "),
    el("span", "small", ev.value ? ev.value + " " : ""),
    el("span", "small", ev.by ? " by " + ev.by : ""), el("span", "small", ev.reason ? " — " + ev.reason : ""));
  return li;
}

// --- commands ------------------------------------------------------------------

async function command(verb, id, extra) {
  const r = await api("POST", "/api/alarms/" + verb, Object.assign({ alarm: id }, extra || {}));
  return { ok: !!r.data.ok, msg: r.data.message || (r.data.ok ? "Done." : "Failed (HTTP " + r.status + ").") };
}

// commandAll sends verb for each alarm of a row (a condition's levels);
// the row itself changes only through the live feed, never from a reply.
async function commandAll(verb, ids, extra) {
  showMessage("Sending " + verb + " for " + ids.join(", ") + "…", true);
  const msgs = [];
  let ok = true;
  for (const id of ids) {
    const r = await command(verb, id, extra);
    ok = ok && r.ok;
    msgs.push((r.ok ? "✓ " : "✗ ") + r.msg);
  }
  showMessage(msgs.join("  "), ok);
}

function openShelve(r) {
  dialogTarget = r;
  $("shelve-alarm").textContent = r.id;
  $("shelve-reason").value = "";
  // Offer only the durations this role may set (the alarm service checks again).
  const max = me && me.shelve_max_minutes, sel = $("shelve-duration");
  let best = null;
  for (const o of sel.options) {
    const m = o.value.endsWith("h") ? parseInt(o.value) * 60 : parseInt(o.value);
    o.hidden = o.disabled = !!max && m > max;
    if (!o.disabled && (best === null || m <= 30)) best = o.value;
  }
  if (best !== null && sel.selectedOptions[0] && sel.selectedOptions[0].disabled) sel.value = best;
  $("shelve-dialog").showModal();
  $("shelve-reason").focus();
}

function openComment(r) {
  dialogTarget = r;
  const canAck = !!(r.actions && r.actions.ack);
  $("comment-title").textContent = canAck ? "Acknowledge with comment" : "Comment";
  $("comment-alarm").textContent = r.id;
  $("comment-text").value = "";
  $("comment-ack").checked = canAck;
  $("comment-ack-label").hidden = !canAck;
  $("comment-dialog").showModal();
  $("comment-text").focus();
}

// --- history ---------------------------------------------------------------------

async function loadHistory(more) {
  const p = new URLSearchParams();
  if (more && historyNext) p.set("before", historyNext);
  for (const [k, id] of [["line", "h-line"], ["tag", "h-tag"], ["priority", "h-priority"], ["q", "h-text"], ["from", "h-from"], ["to", "h-to"]]) {
    const v = $(id).value.trim();
    if (v) p.set(k, v);
  }
  p.set("limit", String(window.lwHistoryLimit || 50));
  $("history-info").textContent = "Searching…";
  const r = await api("GET", "/api/history?" + p.toString());
  const tbody = $("history-rows");
  if (!more) tbody.replaceChildren();
  if (r.status !== 200) {
    $("history-info").textContent = r.data.message || "History not available (HTTP " + r.status + ").";
    $("history-more").hidden = true;
    return;
  }
  for (const ev of r.data.items) {
    const tr = el("tr", "p-" + ev.priority);
    tr.dataset.seq = ev.seq;
    tr.dataset.alarmId = ev.alarm;
    tr.append(el("td", "when", ev.time), el("td", "ev", ev.event + (ev.to ? " → " + (STATE_TEXT[ev.to] || ev.to) : "")));
    const m = el("td", "alarm");
    m.append(el("span", "where", ev.line + " / " + ev.machine + " / " + ev.tag + (ev.rule ? " (" + ev.rule + ")" : "")), el("span", "msg", ev.message));
    tr.append(m, el("td", "value c-value", ev.value || ""));
    tr.append(el("td", "small by", (ev.by ? ev.by : "") + (ev.reason ? " — " + ev.reason : "")));
    tr.addEventListener("click", () => openTrend(ev.alarm));
    tbody.append(tr);
  }
  historyNext = r.data.next || 0;
  $("history-more").hidden = !historyNext;
  const n = tbody.children.length;
  $("history-info").textContent = n + " event" + (n === 1 ? "" : "s") + " shown, newest first" +
    (historyNext ? "; older ones: “Older events…”." : "; that is all.") + " Times: " + r.data.zone;
}

function setView(v) {
  view = v;
  for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-pressed", b.dataset.view === v ? "true" : "false");
  $("summary-view").hidden = v === "history";
  $("history-view").hidden = v !== "history";
  if (v === "history") { historyNext = 0; loadHistory(false); }
  else { fillStateFilter(); render(); }
}

// --- trend -----------------------------------------------------------------------

const LIMIT_COLOURS = { LoLo: "#c62828", HiHi: "#c62828", Lo: "#e65100", Hi: "#e65100", LSL: "#6a1b9a", USL: "#6a1b9a", Target: "#2e7d32", Limit: "#e65100" };
const MARK_COLOURS = { activated: "#c62828", acknowledged: "#1565c0", cleared: "#2e7d32" };

async function openTrend(id) {
  const d = $("trend-dialog");
  $("trend-title").textContent = "Trend";
  $("trend-message").textContent = "Loading " + id + "…";
  $("trend-info").textContent = "";
  if (trendPlot) { trendPlot.destroy(); trendPlot = null; }
  $("trend-chart").replaceChildren();
  window.lwTrend = null;
  if (!d.open) d.showModal();
  const r = await api("GET", "/api/trend?alarm=" + encodeURIComponent(id));
  if (r.status !== 200) { $("trend-message").textContent = r.data.message || "No trend (HTTP " + r.status + ")."; return; }
  drawTrend(r.data);
}

function drawTrend(t) {
  $("trend-title").textContent = t.title;
  $("trend-message").textContent = t.message;
  const unit = t.unit, dec = t.decimals, tz = t.tz;
  const data = [t.t, t.v];
  const series = [{ label: "time", value: (u, ts) => ts == null ? "—" : fmtZoned(ts * 1000, tz) },
    { label: t.title.split(" / ").pop(), stroke: "#37474f", width: 1.5, spanGaps: false,
      value: (u, v) => v == null ? "—" : fmtNumber(v, dec, unit) }];
  for (const l of t.limits) {
    data.push(t.t.map(() => l.value));
    series.push({ label: l.name, stroke: LIMIT_COLOURS[l.name] || "#888", width: 1, dash: [6, 4], points: { show: false },
      value: () => l.text });
  }
  const span = t.t.length > 1 ? t.t[t.t.length - 1] - t.t[0] : 0;
  const tick = (s) => { const z = fmtZoned(s * 1000, tz); return span > 86400 ? z.slice(5, 16) : span < 600 ? z.slice(11, 19) : z.slice(11, 16); };
  const marks = t.marks;
  const chart = $("trend-chart");
  const width = Math.max(300, Math.min(1100, chart.clientWidth || window.innerWidth - 80));
  const opts = {
    width, height: Math.max(220, Math.min(420, Math.round(window.innerHeight * 0.5))),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
    scales: { x: { time: true }, y: { range: (u, lo, hi) => yRange(lo, hi, t.limits) } },
    axes: [
      { label: "time (" + t.zone_label + ")", values: (u, splits) => splits.map(tick) },
      { label: unit || "value", size: 70, values: (u, splits) => splits.map((v) => fmtNumber(v, dec, "")) },
    ],
    series,
    hooks: { draw: [(u) => drawMarks(u, marks)] },
  };
  trendPlot = new uPlot(opts, data, chart);
  $("trend-info").textContent = t.from + " to " + t.to + " · " + t.samples + " samples" + (t.reduced ? " (min/max per interval shown)" : "") +
    (t.samples === 0 ? " · no samples in InfluxDB for this period" : "");
  window.lwTrend = { alarm: t.alarm, canvas: !!chart.querySelector("canvas"), series: series.length - 1, limits: t.limits.length,
    marks: marks.map((m) => m.name), points: t.t.length };
}

// yRange keeps every limit in view so an excursion is seen against it.
function yRange(lo, hi, limits) {
  for (const l of limits) { lo = Math.min(lo ?? l.value, l.value); hi = Math.max(hi ?? l.value, l.value); }
  if (lo == null) return [0, 1];
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

function drawMarks(u, marks) {
  const ctx = u.ctx;
  ctx.save();
  ctx.font = 12 * devicePixelRatio + "px system-ui, sans-serif";
  ctx.textBaseline = "top";
  for (const m of marks) {
    const x = Math.round(u.valToPos(m.t, "x", true));
    ctx.strokeStyle = ctx.fillStyle = MARK_COLOURS[m.name] || "#000";
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    const label = m.name + " " + m.text.slice(11), w = ctx.measureText(label).width, gap = 4 * devicePixelRatio;
    // Right of the line, or left of it when it would leave the plot.
    const tx = x + gap + w > u.bbox.left + u.bbox.width ? x - gap - w : x + gap;
    ctx.fillText(label, tx, u.bbox.top + gap + 16 * devicePixelRatio * marks.indexOf(m));
  }
  ctx.restore();
}

// --- start -------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  renderMute();
  $("mute").addEventListener("click", () => {
    localStorage.setItem("linewatch.mute", muted() ? "0" : "1");
    renderMute();
    if (!muted() && audio) audio.resume();
  });
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    try { audio = audio || new AudioContext(); } catch (err) { /* no audio */ } // a user gesture unlocks sound
    const r = await api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    if (r.status === 200) { me = r.data; showConsole(); }
    else $("login-error").textContent = r.data.message || "Login failed.";
  });
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    showLogin("Logged out.");
  });
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => setView(b.dataset.view));
  for (const id of ["f-line", "f-priority", "f-state", "f-sort"]) $(id).addEventListener("change", render);
  $("f-text").addEventListener("input", render);
  fillStateFilter();
  $("history-form").addEventListener("submit", (e) => { e.preventDefault(); historyNext = 0; loadHistory(false); });
  $("history-more").addEventListener("click", () => loadHistory(true));
  $("shelve-cancel").addEventListener("click", () => $("shelve-dialog").close());
  $("shelve-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const reason = $("shelve-reason").value.trim();
    if (!reason) { $("shelve-reason").focus(); return; }
    $("shelve-dialog").close();
    commandAll("shelve", dialogTarget.actions.shelve, { duration: $("shelve-duration").value, reason });
  });
  $("comment-cancel").addEventListener("click", () => $("comment-dialog").close());
  $("comment-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("comment-text").value.trim();
    if (!text) { $("comment-text").focus(); return; }
    $("comment-dialog").close();
    const r = dialogTarget;
    if ($("comment-ack").checked && r.actions.ack) commandAll("ack", r.actions.ack, { reason: text });
    else commandAll("comment", [r.id], { comment: text });
  });
  $("trend-close").addEventListener("click", () => $("trend-dialog").close());
  $("trend-dialog").addEventListener("close", () => { if (trendPlot) { trendPlot.destroy(); trendPlot = null; } });
  const r = await api("GET", "/api/me");
  if (r.status === 200) { me = r.data; showConsole(); }
});
