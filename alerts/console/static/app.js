// linewatch operator console. Plain JS, no build step. Every string from the
// server is inserted with textContent, never innerHTML.
"use strict";

const RANK = { urgent: 0, high: 1, medium: 2, low: 3 };
const STATE_TEXT = {
  unacknowledged: "UNACK", acknowledged: "acknowledged", rtn_unack: "cleared, UNACK",
  latched: "latched", shelved: "shelved", suppressed: "suppressed", out_of_service: "out of service",
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

let me = null;          // {user, role, csrf, can_command}
let machines = [];      // "line/machine" of the plant
let alarms = new Map(); // id → alarm
let events = [];
let source = null;
let shelveTarget = null;

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  return d.toLocaleString(undefined, { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function byPriorityThenTime(a, b) {
  const ra = RANK[a.priority] ?? 9, rb = RANK[b.priority] ?? 9;
  if (ra !== rb) return ra - rb;
  const ta = Date.parse(a.activated_at || 0), tb = Date.parse(b.activated_at || 0);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
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
  connect();
}

function connect() {
  if (source) source.close();
  setStatus("connecting…");
  source = new EventSource("/api/events");
  source.addEventListener("snapshot", (e) => {
    const s = JSON.parse(e.data);
    alarms = new Map(s.alarms.map((a) => [a.id, a]));
    machines = s.machines || [];
    events = s.events.slice().reverse();
    setStatus(s.status);
    render();
  });
  source.addEventListener("update", (e) => {
    const u = JSON.parse(e.data);
    if (u.type === "alarm") alarms.set(u.alarm.id, u.alarm);
    else if (u.type === "remove") alarms.delete(u.id);
    else if (u.type === "transition") { events.unshift(u.transition); events.length = Math.min(events.length, 100); }
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
  b.addEventListener("click", onclick);
  return b;
}

// systemActive lists the active system conditions named in names
// (optionally of one line/machine).
function systemActive(names, line, machine) {
  const out = [];
  for (const a of alarms.values()) {
    if (a.detector !== "system" || !a.active || !names.includes(a.tag)) continue;
    if (line !== undefined && (a.line !== line || a.machine !== machine)) continue;
    out.push(a);
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

function render() {
  renderHealth();
  const rows = $("alarm-rows");
  const list = Array.from(alarms.values()).sort(byPriorityThenTime);
  rows.replaceChildren();
  for (const a of list) {
    const tr = el("tr", "p-" + a.priority + " " + a.state + (a.state === "unacknowledged" || a.state === "rtn_unack" ? " unack" : ""));
    tr.dataset.alarmId = a.id;
    tr.dataset.state = a.state;
    const p = el("td"); p.append(el("span", "prio " + a.priority, a.priority)); tr.append(p);
    const st = el("td", "state", STATE_TEXT[a.state] || a.state);
    if (a.state === "shelved" && a.shelved_until) st.append(el("span", "small msg", "until " + fmtTime(a.shelved_until)));
    tr.append(st);
    const t = el("td", "when", fmtTime(a.activated_at)); t.title = a.activated_at || ""; tr.append(t);
    tr.append(el("td", "", a.line + " / " + a.machine));
    const m = el("td", "alarm"); m.append(el("span", "msg", a.message), el("span", "mono small", a.id)); tr.append(m);
    tr.append(el("td", "mono value", (a.value ?? "") + (a.limit !== undefined ? " (limit " + a.limit + ")" : "")));
    const by = el("td", "small by");
    if (a.acked_by) by.append(el("span", "msg", "ack: " + a.acked_by));
    if (a.shelved_by) by.append(el("span", "msg", "shelved: " + a.shelved_by + " — " + (a.shelve_reason || "")));
    tr.append(by);
    const act = el("td", "actions");
    if (me && me.can_command) {
      if (a.state === "unacknowledged" || a.state === "rtn_unack") act.append(actionButton("Ack", "ack", () => command("ack", a)));
      if (a.state === "latched") act.append(actionButton("Reset", "reset", () => command("reset", a)));
      if (a.state === "shelved") act.append(actionButton("Unshelve", "unshelve", () => command("unshelve", a)));
      else if (a.state !== "out_of_service" && a.state !== "suppressed") act.append(actionButton("Shelve…", "shelve", () => openShelve(a)));
    }
    tr.append(act);
    rows.append(tr);
  }
  $("count").textContent = list.length ? "(" + list.length + ")" : "";
  $("empty").hidden = list.length > 0;
  const ol = $("events");
  ol.replaceChildren();
  for (const ev of events.slice(0, 50)) {
    const li = el("li");
    li.append(el("span", "small", fmtTime(ev.time) + " "), el("span", "ev", ev.event + " "),
      el("span", "mono", ev.alarm ? ev.alarm.id : ev.id), el("span", "small", ev.by ? " by " + ev.by : ""),
      el("span", "small", ev.reason ? " — " + ev.reason : ""));
    ol.append(li);
  }
}

async function command(verb, a, extra) {
  showMessage("Sending " + verb + " for " + a.id + "…", true);
  const r = await api("POST", "/api/alarms/" + verb, Object.assign({ alarm: a.id }, extra || {}));
  const msg = r.data.message || (r.data.ok ? "Done." : "Failed (HTTP " + r.status + ").");
  showMessage((r.data.ok ? "✓ " : "✗ ") + msg, !!r.data.ok);
  if (r.data.ok && r.data.alarm) { alarms.set(r.data.alarm.id, r.data.alarm); render(); }
}

function openShelve(a) {
  shelveTarget = a;
  $("shelve-alarm").textContent = a.id;
  $("shelve-reason").value = "";
  $("shelve-dialog").showModal();
  $("shelve-reason").focus();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    const r = await api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    if (r.status === 200) { me = r.data; showConsole(); }
    else $("login-error").textContent = r.data.message || "Login failed.";
  });
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    showLogin("Logged out.");
  });
  $("shelve-cancel").addEventListener("click", () => $("shelve-dialog").close());
  $("shelve-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const reason = $("shelve-reason").value.trim();
    if (!reason) { $("shelve-reason").focus(); return; }
    $("shelve-dialog").close();
    command("shelve", shelveTarget, { duration: $("shelve-duration").value, reason });
  });
  const r = await api("GET", "/api/me");
  if (r.status === 200) { me = r.data; showConsole(); }
});
