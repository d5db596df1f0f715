// Pipeline console: state from /_emulator/files and /_emulator/console/summary, kept live by
// /_emulator/events (SSE). Reconnects resume with Last-Event-ID (the browser sends it); a 410
// (cursor evicted) reloads the state and resumes from its last_event_id.
"use strict";

const STATUSES = ["received", "queued", "processing", "retrying", "processed", "skipped", "dead_lettered", "redriven"];
const FINAL = new Set(["processed", "skipped", "dead_lettered"]);
const FILE_EVENTS = {
  "file.received": "received", "file.queued": "queued", "file.processing": "processing",
  "file.retrying": "retrying", "file.processed": "processed", "file.skipped": "skipped",
  "file.dead_lettered": "dead_lettered", "file.redriven": "redriven",
};
const OTHER_EVENTS = ["function.started", "function.crashed", "invocation.finished", "partition.created", "query.finished"];
const MAX_ROWS = 2000;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c.nodeType ? c : document.createTextNode(String(c)));
  return node;
};

const state = {
  files: new Map(),          // journey id -> summary
  lastEventId: 0,
  source: null,
  summary: null,
  filter: { status: "", entity: "", prefix: "" },
  rate: [],                  // {t, status}
  latencies: [],             // {t, ms}
  open: null,                // journey {bucket, key} in the drawer
};

// Mirrors journeys::next_status (the server's state machine).
function nextStatus(current, type) {
  const next = FILE_EVENTS[type];
  if (!next) return current;
  if (type === "file.received") return current || next;
  if (type === "file.queued") return (!current || current === "received" || FINAL.has(current)) ? "queued" : current;
  if (type === "file.retrying" && FINAL.has(current)) return current;
  return next;
}

async function json(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error || body.message || body.Message || response.statusText), { status: response.status, body });
  return body;
}

// AWS JSON protocols on the same port (no signature needed for SQS, Glue and Athena here).
function aws(target, body, version = "1.1") {
  return json("/", {
    method: "POST",
    headers: { "content-type": `application/x-amz-json-${version}`, "x-amz-target": target },
    body: JSON.stringify(body),
  });
}

async function loadFiles() {
  const body = await json("/_emulator/files?limit=1000");
  state.files.clear();
  for (const f of body.files.reverse()) state.files.set(f.id, f);
  state.lastEventId = body.last_event_id;
  renderFiles();
}

function connect() {
  if (state.source) state.source.close();
  setConn("connecting");
  const source = new EventSource(`/_emulator/events?last_event_id=${state.lastEventId}`);
  state.source = source;
  source.onopen = () => setConn("live");
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (410 Gone: our cursor was evicted) or the server is down: reload, resume.
      setConn("down");
      setTimeout(() => resync().catch(() => setTimeout(connect, 2000)), 1500);
    } else {
      setConn("connecting");  // the browser retries with Last-Event-ID on its own
    }
  };
  for (const type of [...Object.keys(FILE_EVENTS), ...OTHER_EVENTS]) {
    source.addEventListener(type, (message) => onEvent(JSON.parse(message.data)));
  }
}

async function resync() {
  await loadFiles();
  connect();
}

function setConn(s) {
  $("#conn").dataset.state = s;
  $("#conn-text").textContent = s;
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderFiles(); renderCharts(); });
}

function onEvent(event) {
  state.lastEventId = Math.max(state.lastEventId, event.id);
  $("#last-id").textContent = `#${event.id}`;
  if (event.file) {
    const id = `${event.file.bucket}/${event.file.key}@${event.file.version}`;
    let f = state.files.get(id);
    if (!f) {
      f = { id, file: event.file, status: null, receives: 0, first_ms: event.time_ms, entity: null, invocations: [] };
      state.files.set(id, f);
      if (state.files.size > MAX_ROWS) state.files.delete(state.files.keys().next().value);
    }
    f.status = nextStatus(f.status, event.type);
    f.last_ms = event.time_ms;
    f.flash = true;
    if (event.receive_count) f.receives = Math.max(f.receives || 0, event.receive_count);
    if (event.entity) f.entity = event.entity;
    if (event.error_reason) f.error_reason = event.error_reason;
    if (["file.processed", "file.skipped", "file.dead_lettered"].includes(event.type)) {
      state.rate.push({ t: event.time_ms, status: FILE_EVENTS[event.type] });
    }
    if (event.type === "file.processed") {
      f.latency_ms = event.time_ms - f.first_ms;
      state.latencies.push({ t: event.time_ms, ms: f.latency_ms });
      if (state.latencies.length > 200) state.latencies.shift();
    }
    if (state.open && state.open.bucket === event.file.bucket && state.open.key === event.file.key) openJourney(event.file.bucket, event.file.key, false);
    scheduleRender();
  } else {
    refreshSummarySoon();
  }
}

// ---- files table -------------------------------------------------------------------------
function visibleFiles() {
  const { status, entity, prefix } = state.filter;
  return [...state.files.values()].reverse().filter((f) =>
    (!status || f.status === status) && (!entity || f.entity === entity) && (!prefix || f.file.key.startsWith(prefix)));
}

function ago(ms) {
  if (!ms) return "";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${s.toFixed(0)}s ago`;
  if (s < 3600) return `${(s / 60).toFixed(0)}m ago`;
  return `${(s / 3600).toFixed(1)}h ago`;
}

function fmtMs(ms) {
  if (ms == null) return "";
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function renderFiles() {
  const tbody = $("#files tbody");
  const rows = visibleFiles().slice(0, 500);
  tbody.replaceChildren(...rows.map((f) => {
    const tr = el("tr", { "data-key": f.file.key, "data-status": f.status, onclick: () => openJourney(f.file.bucket, f.file.key, true) },
      el("td", {}, el("span", { class: `badge s-${f.status}`, text: (f.status || "").replace("_", " ") })),
      el("td", { class: "key", title: `s3://${f.file.bucket}/${f.file.key}` }, f.file.key),
      el("td", {}, f.entity || ""),
      el("td", { class: "num" }, f.receives || ""),
      el("td", { class: "num" }, f.latency_ms != null ? fmtMs(f.latency_ms) : ""),
      el("td", { class: "muted" }, ago(f.last_ms)));
    if (f.flash) { tr.classList.add("flash"); f.flash = false; }
    return tr;
  }));
  $("#files-empty").hidden = state.files.size > 0;
  renderKpis();
}

function renderKpis() {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const f of state.files.values()) if (f.status) counts[f.status]++;
  $("#kpis").replaceChildren(...STATUSES.map((s) => el("div", {
    class: `kpi s-${s}${state.filter.status === s ? " active" : ""}`, style: `--c: var(--${cssVar(s)})`, "data-status": s,
    onclick: () => { state.filter.status = state.filter.status === s ? "" : s; $("#f-status").value = state.filter.status; renderFiles(); },
  }, el("div", { class: "v", text: counts[s] }), el("div", { class: "l", text: s.replace("_", " ") }))));
}

function cssVar(s) {
  return { dead_lettered: "dead", retrying: "retry" }[s] || s;
}

// ---- journey drawer ------------------------------------------------------------------------
const EVENT_TEXT = {
  "file.received": (e) => `stored in s3://${e.file.bucket}${e.size != null ? ` · ${e.size.toLocaleString()} bytes` : ""}`,
  "file.queued": (e) => `notification → ${e.queue} · message ${e.message_id}`,
  "file.processing": (e) => `received from ${e.queue} · receive #${e.receive_count}`,
  "file.retrying": (e) => `${e.reason}${e.request_id ? ` · request ${e.request_id}` : ""}`,
  "file.processed": (e) => `${e.rows.toLocaleString()} rows · ${e.bytes.toLocaleString()} bytes → ${e.output_key || ""}${e.partition ? ` · partition ${e.partition}` : ""}`,
  "file.skipped": (e) => `${e.reason} (this version or a newer one was already applied)`,
  "file.dead_lettered": (e) => `→ ${e.queue}: ${e.error_reason}`,
  "file.redriven": (e) => `${e.from_queue} → ${e.queue} · message ${e.message_id}`,
  "invocation.finished": (e) => `${e.function} ${e.outcome}${e.error_type ? ` (${e.error_type})` : ""} · ${fmtMs(e.duration_ms)}${e.cold_start ? " · cold start" : ""} · request ${e.request_id}`,
};

async function openJourney(bucket, key, show) {
  state.open = { bucket, key };
  const drawer = $("#drawer");
  if (show) drawer.hidden = false;
  if (drawer.hidden) return;
  $("#j-title").textContent = `s3://${bucket}/${key}`;
  let j;
  try {
    j = await json(`/_emulator/files/${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`);
  } catch (e) {
    $("#journey").replaceChildren(el("div", { class: "reason", text: e.message }));
    return;
  }
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "status"), el("dd", {}, el("span", { class: `badge s-${j.status}`, id: "j-status", text: j.status.replace("_", " ") })),
    el("dt", {}, "version"), el("dd", {}, j.file.version),
    el("dt", {}, "entity"), el("dd", {}, j.entity || "–"),
    el("dt", {}, "receives"), el("dd", {}, String(j.receives)),
    el("dt", {}, "output"), el("dd", {}, j.output_key || "–"),
    el("dt", {}, "partition"), el("dd", {}, j.partition || "–"),
    el("dt", {}, "elapsed"), el("dd", {}, fmtMs(j.last_ms - j.first_ms)));
  // The DLQ reason; after a redrive it stays visible as history, not as the current state.
  const reason = !j.error_reason ? null : j.status === "dead_lettered"
    ? el("div", { class: "reason", id: "j-reason", text: j.error_reason })
    : el("div", { class: "reason past", id: "j-reason", text: `Earlier dead-lettered: ${j.error_reason}` });
  const timeline = el("ul", { class: "timeline", id: "j-timeline" }, ...j.events.map((e) => {
    const status = FILE_EVENTS[e.type];
    return el("li", { style: `--c: var(--${status ? cssVar(status) : "muted"})`, "data-type": e.type },
      el("span", { class: "t", text: `${new Date(e.time_ms).toISOString().slice(11, 23)}  #${e.id}  ` }),
      el("span", { class: "e", text: e.type }),
      el("div", { class: "d", text: (EVENT_TEXT[e.type] || (() => ""))(e) }));
  }));
  // The newest invocation's log is open: it is usually the one that says what happened.
  const invocations = j.invocation_details.map((inv, i, all) => el("details", i === all.length - 1 ? { class: "inv", open: "" } : { class: "inv" },
    el("summary", {}, el("span", { class: `o-${inv.outcome}`, text: inv.outcome }), ` ${inv.function} · ${fmtMs(inv.duration_ms)} · `, el("code", {}, inv.request_id)),
    el("pre", {}, inv.log.join("\n") || "(no log lines)")));
  const versions = j.versions.length > 1 ? el("div", { class: "muted small" }, `${j.versions.length} versions of this key; showing the newest`) : null;
  $("#journey").replaceChildren(...[facts, reason, versions, el("h2", {}, "Events"), timeline,
    el("h2", { style: "margin-top:12px" }, `Invocations (${invocations.length})`), ...invocations].filter(Boolean));
}

// ---- summary panels ------------------------------------------------------------------------
let summaryTimer = null;
function refreshSummarySoon() {
  if (summaryTimer) return;
  summaryTimer = setTimeout(() => { summaryTimer = null; refreshSummary(); }, 300);
}

async function refreshSummary() {
  try { state.summary = await json("/_emulator/console/summary"); } catch { return; }
  const s = state.summary;
  const r = s.resources;
  if (r) {
    $("#route").textContent = `s3://${r.source_bucket} → ${r.queue} → λ → s3://${r.analytics_bucket} → ${r.database}`;
    $("#cp-hint").textContent = `aws --endpoint-url ${location.origin} s3 cp sales_data_2024_03_15.csv s3://${r.source_bucket}/`;
    $("#glue-db").textContent = r.database;
  }
  $("#queues tbody").replaceChildren(...s.queues.map((q) => el("tr", { class: q.is_dead_letter_queue ? "dlq-row" : "", "data-queue": q.queue },
    el("td", { title: q.arn }, q.queue + (q.is_dead_letter_queue ? " (DLQ)" : "")), el("td", { class: "num" }, q.visible),
    el("td", { class: "num" }, q.in_flight), el("td", { class: "num" }, q.delayed),
    el("td", { class: "num" }, q.oldest_age_seconds ? `${q.oldest_age_seconds}s` : "–"))));
  const dlq = r && s.queues.find((q) => q.queue === r.dead_letter_queue);
  const dlqDepth = dlq ? dlq.visible + dlq.in_flight + dlq.delayed : 0;
  $("#redrive").disabled = !dlq || dlqDepth === 0;
  $("#redrive").textContent = `Redrive all (${dlqDepth})`;
  renderDlq();
  $("#functions").replaceChildren(...s.functions.map((f) => el("div", { class: "fn" }, el("b", {}, f.name),
    el("span", { class: "stat", title: "execution environments: running an invocation / idle (warm)" }, "instances ",
      el("span", {}, `${f.running} busy · ${f.stats ? f.stats.idle_instances : 0} idle`)),
    el("span", { class: "stat" }, "invocations ", el("span", {}, f.stats ? f.stats.invocations : 0)),
    el("span", { class: "stat" }, "cold starts ", el("span", {}, f.stats ? f.stats.cold_starts : 0)),
    el("span", { class: "stat" }, "failures ", el("span", {}, f.stats ? f.stats.failures : 0)))));
  try {
    const inv = await json("/_emulator/invocations?limit=8");
    $("#invocations tbody").replaceChildren(...inv.invocations.map((i) => el("tr", {},
      el("td", { title: i.request_id }, i.request_id.slice(0, 8)), el("td", { class: `o-${i.outcome}` }, i.outcome + (i.cold_start ? " ❄" : "")),
      el("td", { class: "num" }, i.duration_ms.toFixed(0)), el("td", { class: "num" }, i.files.length))));
  } catch { /* next refresh */ }
  renderTables(s);
}

function renderDlq() {
  const dead = [...state.files.values()].filter((f) => f.status === "dead_lettered").reverse();
  $("#dlq").replaceChildren(...dead.slice(0, 50).map((f) => el("li", { onclick: () => openJourney(f.file.bucket, f.file.key, true), "data-key": f.file.key },
    el("div", { class: "k" }, f.file.key), el("div", { class: "r" }, f.error_reason || ""))));
  if (!dead.length) $("#dlq").replaceChildren(el("li", { class: "muted" }, "empty"));
}

async function redrive() {
  const r = state.summary && state.summary.resources;
  if (!r) return;
  $("#redrive").disabled = true;
  try {
    const out = await aws("AmazonSQS.StartMessageMoveTask", { SourceArn: r.dead_letter_queue_arn, DestinationArn: r.queue_arn }, "1.0");
    $("#redrive-status").textContent = `StartMessageMoveTask ${out.TaskHandle ? "started" : "done"}: ${r.dead_letter_queue} → ${r.queue}`;
  } catch (e) {
    $("#redrive-status").textContent = `redrive failed: ${e.message}`;
  }
  refreshSummarySoon();
}

let tablesAt = 0;
async function renderTables(s) {
  const r = s.resources;
  if (!r || Date.now() - tablesAt < 4000) return;
  tablesAt = Date.now();
  try {
    const out = await aws("AWSGlue.GetTables", { DatabaseName: r.database });
    const blocks = await Promise.all(out.TableList.map(async (t) => {
      const parts = await aws("AWSGlue.GetPartitions", { DatabaseName: r.database, TableName: t.Name, MaxResults: 50 }).catch(() => ({ Partitions: [] }));
      const keys = (t.PartitionKeys || []).map((k) => k.Name);
      const values = parts.Partitions.map((p) => p.Values.map((v, i) => `${keys[i]}=${v}`).join("/"));
      const format = (t.Parameters && t.Parameters.classification) || "";
      return el("div", { class: "tbl", "data-table": t.Name },
        el("div", {}, el("b", { class: "mono" }, t.Name), el("span", { class: "muted" }, ` · ${format} · ${parts.Partitions.length}${parts.NextToken ? "+" : ""} partitions`)),
        el("div", { class: "parts" }, values.slice(-6).join("  ")));
    }));
    $("#tables").replaceChildren(...blocks);
  } catch (e) {
    $("#tables").replaceChildren(el("div", { class: "muted" }, `Glue: ${e.message}`));
  }
}

// ---- charts --------------------------------------------------------------------------------
function renderCharts() {
  const now = Date.now();
  const windowS = 120;
  state.rate = state.rate.filter((p) => p.t > now - windowS * 1000);
  const buckets = Array.from({ length: windowS }, () => ({ processed: 0, skipped: 0, dead_lettered: 0 }));
  for (const p of state.rate) {
    const i = Math.min(windowS - 1, Math.floor((p.t - (now - windowS * 1000)) / 1000));
    if (i >= 0) buckets[i][p.status]++;
  }
  const max = Math.max(1, ...buckets.map((b) => b.processed + b.skipped + b.dead_lettered));
  const w = 600 / windowS;
  const svg = $("#chart-rate");
  const bars = [];
  buckets.forEach((b, i) => {
    let y = 118;
    for (const s of ["processed", "skipped", "dead_lettered"]) {
      if (!b[s]) continue;
      const h = (b[s] / max) * 108;
      y -= h;
      bars.push(`<rect x="${(i * w + 0.5).toFixed(1)}" y="${y.toFixed(1)}" width="${(w - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="var(--${cssVar(s)})"/>`);
    }
  });
  svg.innerHTML = bars.length
    ? `<text x="4" y="12" font-size="10" fill="#8a94a6">${max}/s</text>${bars.join("")}`
    : `<text x="300" y="64" font-size="11" fill="#aab2c0" text-anchor="middle">no files finished in the last 2 minutes</text>`;
  const last10 = state.rate.filter((p) => p.t > now - 10000).length / 10;
  $("#rate-now").textContent = `${last10.toFixed(1)} files/s (10 s)`;
  const lat = state.latencies;
  const lsvg = $("#chart-latency");
  if (!lat.length) {
    lsvg.innerHTML = `<text x="300" y="64" font-size="11" fill="#aab2c0" text-anchor="middle">no processed files yet</text>`;
    $("#lat-now").textContent = "";
    return;
  }
  const maxMs = Math.max(...lat.map((p) => p.ms), 1);
  const pts = lat.map((p, i) => `${(i / Math.max(1, lat.length - 1) * 596 + 2).toFixed(1)},${(118 - p.ms / maxMs * 104).toFixed(1)}`);
  const sorted = lat.map((p) => p.ms).sort((a, b) => a - b);
  const q = (f) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
  const p95y = (118 - q(0.95) / maxMs * 104).toFixed(1);
  lsvg.innerHTML = `<line x1="0" x2="600" y1="${p95y}" y2="${p95y}" stroke="#d98a1c" stroke-dasharray="4 3"/>` +
    `<polyline points="${pts.join(" ")}" fill="none" stroke="#2f6fde" stroke-width="1.5"/>` +
    pts.map((p) => `<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="2" fill="#2f6fde"/>`).join("") +
    `<text x="4" y="12" font-size="10" fill="#8a94a6">${fmtMs(maxMs)}</text>`;
  $("#lat-now").textContent = `p50 ${fmtMs(q(0.5))} · p95 ${fmtMs(q(0.95))}`;
}

// ---- Athena ------------------------------------------------------------------------------
async function runQuery() {
  const r = state.summary && state.summary.resources;
  const sql = $("#sql").value.trim();
  if (!sql) return;
  const status = $("#query-state");
  status.textContent = "running…";
  $("#run").disabled = true;
  const started = performance.now();
  try {
    const start = await aws("AmazonAthena.StartQueryExecution", {
      QueryString: sql, WorkGroup: r ? r.workgroup : "primary",
      QueryExecutionContext: { Database: r ? r.database : "default" },
    });
    const id = start.QueryExecutionId;
    let execution;
    for (;;) {
      execution = (await aws("AmazonAthena.GetQueryExecution", { QueryExecutionId: id })).QueryExecution;
      if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(execution.Status.State)) break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    if (execution.Status.State !== "SUCCEEDED") throw new Error(execution.Status.StateChangeReason || execution.Status.State);
    const results = await aws("AmazonAthena.GetQueryResults", { QueryExecutionId: id, MaxResults: 1000 });
    const rows = results.ResultSet.Rows.map((row) => row.Data.map((d) => d.VarCharValue ?? ""));
    const head = rows.shift() || [];
    $("#results").replaceChildren(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows.map((row) => el("tr", {}, ...row.map((v) => el("td", {}, v))))));
    const scanned = execution.Statistics ? execution.Statistics.DataScannedInBytes : 0;
    status.textContent = `${rows.length} rows · ${((performance.now() - started) / 1000).toFixed(2)} s · ${scanned.toLocaleString()} bytes scanned`;
  } catch (e) {
    status.textContent = "";
    $("#results").replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "o-error", text: e.message }))));
  } finally {
    $("#run").disabled = false;
  }
}

// ---- wiring --------------------------------------------------------------------------------
function init() {
  $("#f-status").append(...STATUSES.map((s) => el("option", { value: s }, s.replace("_", " "))));
  $("#f-status").onchange = (e) => { state.filter.status = e.target.value; renderFiles(); };
  $("#f-entity").oninput = (e) => { state.filter.entity = e.target.value.trim(); renderFiles(); };
  $("#f-prefix").oninput = (e) => { state.filter.prefix = e.target.value; renderFiles(); };
  $("#j-close").onclick = () => { $("#drawer").hidden = true; state.open = null; };
  $("#redrive").onclick = redrive;
  $("#run").onclick = runQuery;
  $("#sql").onkeydown = (e) => { if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) runQuery(); };
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") $("#j-close").click(); });
  setInterval(refreshSummary, 3000);
  setInterval(() => { renderCharts(); }, 1000);
  setInterval(() => { if (!renderQueued) renderFiles(); }, 5000);
  refreshSummary();
  resync().catch(() => setTimeout(resync, 2000));
}

init();
