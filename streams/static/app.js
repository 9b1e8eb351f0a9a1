// The watch-floor page (served by every worker at /watch/). No external resources: the map
// is drawn on a canvas from the worker's /watch/basemap.json (Natural Earth, shipped in the
// repo) and /watch/overlays.json (the zones and boundary the rules use); alerts come from
// /watch/alerts and stay live through the server-sent events of /watch/events; vessels come
// from /vessels?bbox= for the part of the map in view.
"use strict";

const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const SEV_COLOUR = {
  critical: "#ff3b6b", high: "#ff7a1a", medium: "#f2c12e", low: "#5fb3f2", info: "#8fa3b5",
};
const ZONE_COLOUR = {
  security: "#ff5c8a", restricted: "#ff9f43", lock: "#f2c12e", port: "#6fc3ff",
  anchorage: "#4fd1c5", approach: "#9ad0ff", speed: "#c792ea", monitored: "#3d5a73",
};
const VIEWS = {
  lakes: [-93.5, 40.5, -66.0, 50.5],
  na: [-170.0, 20.0, -50.0, 72.0],
};
const VESSEL_REFRESH_MS = 5000;

const $ = (id) => document.getElementById(id);
// An MMSI as the nine digits it is (000000001, not 1: a placeholder shows as one), as the
// command-line tables and the alert summaries print it; null stays null.
const mmsiText = (m) => (m == null ? null : String(m).padStart(9, "0"));
const state = {
  alerts: new Map(),      // alert_id -> row
  selected: null,         // alert_id
  detail: null,           // /watch/alerts/{id}
  vessels: [],            // GeoJSON features
  basemap: null,          // projected layers
  overlays: null,
  pending: new Map(),     // action_id -> action name
  counts: null,
};

// ---------------------------------------------------------------- projection (Web Mercator)
const DEG = Math.PI / 180;
const MAX_LAT = 85;
function mx(lon) { return lon * DEG; }
function my(lat) {
  const l = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * DEG;
  return Math.log(Math.tan(Math.PI / 4 + l / 2));
}
function unmy(y) { return (2 * Math.atan(Math.exp(y)) - Math.PI / 2) / DEG; }

const view = { cx: mx(-80), cy: my(45), scale: 1200 }; // scale: pixels per radian
const canvas = $("map");
const ctx = canvas.getContext("2d");
let width = 0, height = 0, dpr = 1;

function toScreen(lon, lat) {
  return [width / 2 + (mx(lon) - view.cx) * view.scale, height / 2 - (my(lat) - view.cy) * view.scale];
}
function toLonLat(x, y) {
  const lon = (view.cx + (x - width / 2) / view.scale) / DEG;
  const lat = unmy(view.cy - (y - height / 2) / view.scale);
  return [lon, lat];
}
function viewBbox() {
  const [w, n] = toLonLat(0, 0);
  const [e, s] = toLonLat(width, height);
  return [Math.max(-180, w), Math.max(-85, s), Math.min(180, e), Math.min(85, n)];
}
function fitBbox(b, pad = 40) {
  const [w, s, e, n] = b;
  const dx = Math.max(mx(e) - mx(w), 1e-4), dy = Math.max(my(n) - my(s), 1e-4);
  view.cx = (mx(w) + mx(e)) / 2;
  view.cy = (my(s) + my(n)) / 2;
  view.scale = Math.min((width - 2 * pad) / dx, (height - 2 * pad) / dy, 2e6);
  scheduleDraw();
  scheduleVessels();
}
function zoomAt(factor, x, y) {
  const [lon, lat] = toLonLat(x, y);
  view.scale = Math.max(150, Math.min(2e6, view.scale * factor));
  view.cx = mx(lon) - (x - width / 2) / view.scale;
  view.cy = my(lat) + (y - height / 2) / view.scale;
  scheduleDraw();
  scheduleVessels();
}

// Geometry is projected once (Float64Array of x,y in radians) and drawn with the view transform.
function projectRing(coords) {
  const a = new Float64Array(coords.length * 2);
  for (let i = 0; i < coords.length; i++) {
    a[2 * i] = mx(coords[i][0]);
    a[2 * i + 1] = my(coords[i][1]);
  }
  return a;
}
function projectGeometry(g) {
  const rings = [];
  const bbox = [Infinity, Infinity, -Infinity, -Infinity];
  const add = (coords) => {
    const r = projectRing(coords);
    for (let i = 0; i < r.length; i += 2) {
      bbox[0] = Math.min(bbox[0], r[i]); bbox[2] = Math.max(bbox[2], r[i]);
      bbox[1] = Math.min(bbox[1], r[i + 1]); bbox[3] = Math.max(bbox[3], r[i + 1]);
    }
    rings.push(r);
  };
  const walk = (type, c) => {
    if (type === "Polygon" || type === "MultiLineString") c.forEach(add);
    else if (type === "MultiPolygon") c.forEach((p) => p.forEach(add));
    else if (type === "LineString") add(c);
  };
  if (g.type === "GeometryCollection") g.geometries.forEach((x) => walk(x.type, x.coordinates));
  else walk(g.type, g.coordinates);
  return { rings, bbox, polygon: g.type === "Polygon" || g.type === "MultiPolygon" };
}
function projectCollection(fc) {
  return fc.features.map((f) => ({ props: f.properties || {}, ...projectGeometry(f.geometry) }));
}
function visible(bbox) {
  const x0 = view.cx - width / 2 / view.scale, x1 = view.cx + width / 2 / view.scale;
  const y0 = view.cy - height / 2 / view.scale, y1 = view.cy + height / 2 / view.scale;
  return !(bbox[2] < x0 || bbox[0] > x1 || bbox[3] < y0 || bbox[1] > y1);
}
function tracePath(shape) {
  ctx.beginPath();
  const s = view.scale, ox = width / 2 - view.cx * s, oy = height / 2 + view.cy * s;
  for (const r of shape.rings) {
    ctx.moveTo(ox + r[0] * s, oy - r[1] * s);
    for (let i = 2; i < r.length; i += 2) ctx.lineTo(ox + r[i] * s, oy - r[i + 1] * s);
    if (shape.polygon) ctx.closePath();
  }
}

// ---------------------------------------------------------------------------------- drawing
let drawQueued = false;
function scheduleDraw() {
  if (!drawQueued) {
    drawQueued = true;
    requestAnimationFrame(() => { drawQueued = false; draw(); });
  }
}
function resize() {
  const r = canvas.getBoundingClientRect();
  dpr = window.devicePixelRatio || 1;
  width = r.width; height = r.height;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  scheduleDraw();
}

function draw() {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#10283b";
  ctx.fillRect(0, 0, width, height);
  if (state.basemap) {
    for (const f of state.basemap) {
      if (!visible(f.bbox)) continue;
      tracePath(f);
      const layer = f.props.layer;
      if (layer === "land") { ctx.fillStyle = "#2a3327"; ctx.fill("evenodd"); }
      else if (layer === "lake") { ctx.fillStyle = "#133049"; ctx.fill("evenodd"); }
      else if (layer === "river") { ctx.strokeStyle = "#1f4a6b"; ctx.lineWidth = 1; ctx.stroke(); }
      else if (layer === "border") {
        ctx.setLineDash([4, 3]); ctx.strokeStyle = "#6b7a6a"; ctx.lineWidth = 1; ctx.stroke();
        ctx.setLineDash([]);
      }
    }
  }
  if (state.overlays) {
    const detailed = view.scale > 2500;
    for (const f of state.overlays) {
      if (!visible(f.bbox)) continue;
      if (f.props.layer === "zone") {
        const kind = f.props.kind;
        if (kind === "monitored" && detailed) continue;
        const colour = ZONE_COLOUR[kind] || "#6fc3ff";
        tracePath(f);
        ctx.globalAlpha = kind === "monitored" ? 0.05 : 0.12;
        ctx.fillStyle = colour; ctx.fill("evenodd");
        ctx.globalAlpha = kind === "monitored" ? 0.35 : 0.9;
        ctx.strokeStyle = colour; ctx.lineWidth = 1; ctx.stroke();
        ctx.globalAlpha = 1;
        if (view.scale > 20000 && kind !== "monitored") label(f, f.props.name, colour);
      } else if (f.props.layer === "boundary") {
        tracePath(f);
        ctx.setLineDash([7, 4]); ctx.strokeStyle = "#ff5c5c"; ctx.lineWidth = 1.6; ctx.stroke();
        ctx.setLineDash([]);
      }
    }
  }
  drawVessels();
  drawAlerts();
  drawTrack();
}

function label(f, text, colour) {
  const [x0, y0] = [f.bbox[0], f.bbox[3]];
  const s = view.scale;
  const x = width / 2 + (x0 - view.cx) * s, y = height / 2 - (y0 - view.cy) * s;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = colour;
  ctx.fillText(text, x + 2, y - 3);
}

function vesselAlertSeverity(v) {
  let best = -1;
  for (const a of v.properties.open_alerts || []) best = Math.max(best, SEVERITIES.indexOf(a.severity));
  return best >= 0 ? SEVERITIES[best] : null;
}
function drawVessels() {
  const size = view.scale > 20000 ? 6 : 4;
  for (const v of state.vessels) {
    const [lon, lat] = v.geometry.coordinates;
    const [x, y] = toScreen(lon, lat);
    if (x < -10 || y < -10 || x > width + 10 || y > height + 10) continue;
    const sev = vesselAlertSeverity(v);
    ctx.fillStyle = sev ? SEV_COLOUR[sev] : "#c9d4de";
    const p = v.properties;
    if (p.sog_kn != null && p.sog_kn > 0.5 && p.cog_deg != null) {
      const a = p.cog_deg * DEG;
      ctx.save(); ctx.translate(x, y); ctx.rotate(a);
      ctx.beginPath(); ctx.moveTo(0, -size * 1.6); ctx.lineTo(size * 0.8, size); ctx.lineTo(-size * 0.8, size);
      ctx.closePath(); ctx.fill(); ctx.restore();
    } else {
      ctx.fillRect(x - size / 2, y - size / 2, size, size);
    }
  }
}
function shownAlerts() {
  return [...state.alerts.values()].filter((a) => a.lat != null && a.lon != null && matches(a));
}
function drawAlerts() {
  for (const a of shownAlerts()) {
    const [x, y] = toScreen(a.lon, a.lat);
    if (x < -20 || y < -20 || x > width + 20 || y > height + 20) continue;
    const selected = a.alert_id === state.selected;
    ctx.beginPath();
    ctx.arc(x, y, selected ? 9 : 6, 0, 2 * Math.PI);
    ctx.fillStyle = SEV_COLOUR[a.severity] || "#fff";
    ctx.globalAlpha = a.status === "open" ? 0.9 : 0.35;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.lineWidth = selected ? 3 : 1.2;
    ctx.strokeStyle = a.acknowledged_by ? "#3ecf8e" : "#0e1620";
    ctx.stroke();
  }
}
function drawTrack() {
  const d = state.detail;
  if (!d || d.row.alert_id !== state.selected || !d.track.length) return;
  const own = d.track.filter((p) => p.mmsi == null || p.mmsi === d.row.mmsi);
  ctx.beginPath();
  own.forEach((p, i) => {
    const [x, y] = toScreen(p.lon, p.lat);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 2; ctx.setLineDash([5, 3]); ctx.stroke();
  ctx.setLineDash([]);
  ctx.font = "11px system-ui, sans-serif";
  const labels = new Map(); // one label per screen position: "open, evidence.position 12:51:30Z"
  for (const p of d.track) {
    const [x, y] = toScreen(p.lon, p.lat);
    ctx.beginPath(); ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = p.mmsi != null && p.mmsi !== d.row.mmsi ? "#c792ea" : "#ffffff"; ctx.fill();
    const key = `${Math.round(x / 4)},${Math.round(y / 4)}`;
    const l = labels.get(key) || { x, y, names: new Set(), ms: p.time_ms };
    l.names.add(p.label.replace(/^evidence\./, ""));
    labels.set(key, l);
  }
  if (view.scale > 8000) {
    ctx.fillStyle = "#ffffff";
    const placed = []; // label boxes already drawn: move a label down until it is free
    for (const l of [...labels.values()].sort((a, b) => a.y - b.y)) {
      const text = `${[...l.names].join(", ")} ${timeOf(l.ms)}`;
      const w = ctx.measureText(text).width;
      let y = l.y - 4;
      while (placed.some((b) => l.x + 6 < b.x + b.w && b.x < l.x + 6 + w && Math.abs(b.y - y) < 12)) y += 12;
      placed.push({ x: l.x + 6, y, w });
      ctx.fillText(text, l.x + 6, y);
    }
  }
}
function timeOf(ms) { return new Date(ms).toISOString().slice(11, 19) + "Z"; }

// ------------------------------------------------------------------------- map interaction
let drag = null;
canvas.addEventListener("mousedown", (e) => {
  drag = { x: e.clientX, y: e.clientY, cx: view.cx, cy: view.cy, moved: false };
  canvas.classList.add("dragging");
});
window.addEventListener("mouseup", (e) => {
  canvas.classList.remove("dragging");
  if (drag && !drag.moved) pick(e);
  if (drag && drag.moved) scheduleVessels();
  drag = null;
});
window.addEventListener("mousemove", (e) => {
  if (drag) {
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    view.cx = drag.cx - dx / view.scale;
    view.cy = drag.cy + dy / view.scale;
    scheduleDraw();
  } else if (e.target === canvas) hover(e);
});
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  const r = canvas.getBoundingClientRect();
  zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
}, { passive: false });
canvas.addEventListener("dblclick", (e) => {
  const r = canvas.getBoundingClientRect();
  zoomAt(2, e.clientX - r.left, e.clientY - r.top);
});
$("zoom-in").onclick = () => zoomAt(1.6, width / 2, height / 2);
$("zoom-out").onclick = () => zoomAt(1 / 1.6, width / 2, height / 2);
$("view-lakes").onclick = () => fitBbox(VIEWS.lakes);
$("view-na").onclick = () => fitBbox(VIEWS.na);
$("view-alerts").onclick = () => fitAlerts();

function fitAlerts() {
  const pts = shownAlerts().filter((a) => a.status === "open");
  const use = pts.length ? pts : shownAlerts();
  if (!use.length) return fitBbox(VIEWS.lakes);
  let b = [180, 90, -180, -90];
  for (const a of use) b = [Math.min(b[0], a.lon), Math.min(b[1], a.lat), Math.max(b[2], a.lon), Math.max(b[3], a.lat)];
  const padDeg = 0.2;
  fitBbox([b[0] - padDeg, b[1] - padDeg, b[2] + padDeg, b[3] + padDeg]);
}

function nearest(e, maxPx) {
  const r = canvas.getBoundingClientRect();
  const x = e.clientX - r.left, y = e.clientY - r.top;
  let best = null, bestD = maxPx;
  for (const a of shownAlerts()) {
    const [ax, ay] = toScreen(a.lon, a.lat);
    const d = Math.hypot(ax - x, ay - y);
    if (d < bestD) { best = { kind: "alert", a }; bestD = d; }
  }
  for (const v of state.vessels) {
    const [vx, vy] = toScreen(...v.geometry.coordinates);
    const d = Math.hypot(vx - x, vy - y);
    if (d < bestD - 2) { best = { kind: "vessel", v }; bestD = d; }
  }
  return best ? { ...best, x, y } : null;
}
function pick(e) {
  const hit = nearest(e, 10);
  if (hit && hit.kind === "alert") select(hit.a.alert_id, false);
  else if (hit && hit.kind === "vessel") {
    const a = [...state.alerts.values()].find((x) => x.mmsi === hit.v.properties.mmsi && x.status === "open");
    if (a) select(a.alert_id, false);
  }
}
function hover(e) {
  const tip = $("tooltip");
  const hit = nearest(e, 10);
  if (!hit) { tip.hidden = true; return; }
  let text;
  if (hit.kind === "alert") {
    text = `${hit.a.rule} · ${hit.a.severity} · ${hit.a.vessel_name || "MMSI " + mmsiText(hit.a.mmsi)}`;
  } else {
    const p = hit.v.properties;
    text = `${p.name || "MMSI " + mmsiText(p.mmsi)}${p.flag ? " (" + p.flag + ")" : ""} · ` +
      `${p.sog_kn != null ? p.sog_kn.toFixed(1) + " kn" : "speed n/a"} · ${p.last_seen.slice(11, 19)}Z`;
  }
  tip.textContent = text;
  tip.style.left = hit.x + 12 + "px";
  tip.style.top = hit.y + 8 + "px";
  tip.hidden = false;
}

// -------------------------------------------------------------------------------- vessels
let vesselTimer = null;
function scheduleVessels() {
  clearTimeout(vesselTimer);
  vesselTimer = setTimeout(loadVessels, 250);
}
async function loadVessels() {
  clearTimeout(vesselTimer);
  try {
    const b = viewBbox().map((v) => v.toFixed(4)).join(",");
    const r = await fetch(`/vessels?bbox=${b}`);
    if (r.ok) {
      const fc = await r.json();
      state.vessels = fc.features;
      $("count-vessels").textContent = `${fc.features.length} vessels`;
      scheduleDraw();
    }
  } catch (err) { /* the worker is restarting: next round */ }
  vesselTimer = setTimeout(loadVessels, VESSEL_REFRESH_MS);
}

// -------------------------------------------------------------------------------- alerts
function matches(a) {
  const rule = $("f-rule").value, jur = $("f-jur").value;
  const minSev = SEVERITIES.indexOf($("f-sev").value);
  const text = $("f-text").value.trim().toLowerCase();
  if (!$("f-closed").checked && a.status !== "open") return false;
  if (rule && a.rule !== rule) return false;
  if (jur && a.jurisdiction !== jur) return false;
  if (SEVERITIES.indexOf(a.severity) < minSev) return false;
  if (text) {
    const hay = [mmsiText(a.mmsi), mmsiText(a.other_mmsi), a.vessel_name, a.zone_id, a.summary, a.alert_id, a.flag]
      .filter((x) => x != null).join(" ").toLowerCase();
    if (!hay.includes(text)) return false;
  }
  return true;
}
function sortKey(a, b) {
  const k = (x) => [x.status === "open" ? 0 : 1, x.acknowledged_by ? 1 : 0, -SEVERITIES.indexOf(x.severity)];
  const ka = k(a), kb = k(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
  if (a.event_time !== b.event_time) return a.event_time < b.event_time ? 1 : -1;
  return a.alert_id < b.alert_id ? -1 : 1;
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
function fillSelect(id, values) {
  const s = $(id);
  const have = new Set([...s.options].map((o) => o.value));
  for (const v of [...values].sort()) {
    if (v && !have.has(v)) s.appendChild(new Option(v, v));
  }
}
let listQueued = false;
function scheduleList() {
  if (!listQueued) {
    listQueued = true;
    requestAnimationFrame(() => { listQueued = false; renderList(); scheduleDraw(); });
  }
}
function renderList() {
  const all = [...state.alerts.values()];
  fillSelect("f-rule", new Set(all.map((a) => a.rule)));
  fillSelect("f-jur", new Set(all.map((a) => a.jurisdiction)));
  const rows = all.filter(matches).sort(sortKey);
  const list = $("list");
  list.replaceChildren(...rows.map(rowElement));
  $("empty").hidden = rows.length > 0;
  if (state.counts) {
    $("count-open").textContent = state.counts.open;
    $("count-unack").textContent = state.counts.unacknowledged;
    $("count-closed").textContent = state.counts.closed;
  }
}
function rowElement(a) {
  const r = el("div", "row" + (a.status !== "open" ? " closed" : "") + (a.alert_id === state.selected ? " selected" : ""));
  r.setAttribute("role", "listitem");
  r.dataset.alertId = a.alert_id;
  r.dataset.rule = a.rule;
  r.appendChild(el("span", "sev sev-" + a.severity, a.severity));
  const what = el("span", "what", `${a.rule} · ${a.vessel_name || "MMSI " + mmsiText(a.mmsi)}`);
  if (a.status !== "open") what.appendChild(el("span", "badge closed", "closed"));
  else if (a.acknowledged_by) what.appendChild(el("span", "badge ack", "ack " + a.acknowledged_by));
  else what.appendChild(el("span", "badge new", "new"));
  r.appendChild(what);
  r.appendChild(el("span", "when", (a.event_time || "").replace("T", " ").slice(0, 19)));
  r.appendChild(el("span", "sum", `${a.jurisdiction || ""}${a.zone_id ? " · " + a.zone_id : ""} — ${a.summary || ""}`));
  r.onclick = () => select(a.alert_id, true);
  return r;
}
["f-rule", "f-sev", "f-jur", "f-closed"].forEach((id) => ($(id).onchange = scheduleList));
$("f-text").oninput = scheduleList;

async function loadAlerts() {
  const r = await fetch("/watch/alerts");
  if (!r.ok) return;
  const body = await r.json();
  state.alerts = new Map(body.alerts.map((a) => [a.alert_id, a]));
  state.counts = body.counts;
  scheduleList();
  if (state.selected) loadDetail();
  return body;
}

// --------------------------------------------------------------------------------- detail
async function select(alertId, fly) {
  state.selected = alertId;
  state.detail = null;
  $("d-msg").textContent = "";
  $("d-form").hidden = true;
  scheduleList();
  await loadDetail();
  if (fly && state.detail) {
    const pts = state.detail.track.length ? state.detail.track : [state.detail.row];
    const lons = pts.map((p) => p.lon).filter((v) => v != null);
    const lats = pts.map((p) => p.lat).filter((v) => v != null);
    if (lons.length) {
      // At least ~40 km across, so the alert is seen with its surroundings.
      const w = Math.min(...lons), e = Math.max(...lons), so = Math.min(...lats), n = Math.max(...lats);
      const cx = (w + e) / 2, cy = (so + n) / 2;
      const hw = Math.max((e - w) / 2 + 0.05, 0.9), hh = Math.max((n - so) / 2 + 0.05, 0.45);
      fitBbox([cx - hw, cy - hh, cx + hw, cy + hh], 60);
    }
  }
}
async function loadDetail() {
  const id = state.selected;
  if (!id) return;
  const r = await fetch(`/watch/alerts/${encodeURIComponent(id)}`);
  if (id !== state.selected) return;
  if (!r.ok) { $("detail").hidden = true; return; }
  state.detail = await r.json();
  renderDetail();
  scheduleDraw();
}
function renderDetail() {
  const d = state.detail;
  const s = d.state, row = d.row, m = s.message;
  $("detail").hidden = false;
  $("d-sev").className = "sev sev-" + row.severity;
  $("d-sev").textContent = row.severity;
  $("d-rule").textContent = `${row.rule} · ${row.vessel_name || "MMSI " + mmsiText(row.mmsi)}`;
  $("d-status").textContent = s.status;
  $("d-status").dataset.status = s.status;
  $("d-summary").textContent = row.summary || "";
  const ack = $("d-ack");
  ack.dataset.acknowledged = s.acknowledged_by ? "yes" : "no";
  ack.textContent = s.acknowledged_by
    ? `Acknowledged by ${s.acknowledged_by} at ${s.acknowledged_at}` + (s.assignee ? ` · assigned to ${s.assignee}` : "")
    : "Not acknowledged" + (s.assignee ? ` · assigned to ${s.assignee}` : "");
  document.querySelector('[data-action="ack"]').disabled = !!s.acknowledged_by || s.status !== "open";
  document.querySelector('[data-action="close"]').disabled = s.status !== "open";
  document.querySelector('[data-action="reopen"]').disabled = s.status === "open";
  const fields = [
    ["alert id", s.alert_id], ["status", `${s.status}${s.closed_by ? " (closed by " + s.closed_by + ")" : ""}`],
    ["MMSI", mmsiText(m.mmsi)], ["other MMSI", mmsiText(m.other_mmsi)], ["IMO", m.imo], ["name", row.vessel_name], ["flag", row.flag],
    ["event time", row.event_time], ["opened", s.opened_at], ["closed", s.closed_at],
    ["position", row.lat != null ? `${row.lat.toFixed(5)}, ${row.lon.toFixed(5)}` : null],
    ["H3 cell", m.h3_cell], ["zone", m.zone_id], ["facility", m.facility_id],
    ["jurisdiction", m.jurisdiction], ["releasable to", (m.releasability || []).join(", ")],
    ["messages", `${s.forwarded} forwarded, ${s.suppressed} repeats suppressed, ${s.duplicates} duplicates`],
  ];
  $("d-fields").replaceChildren(...fields.filter(([, v]) => v != null && v !== "").flatMap(([k, v]) => [el("dt", null, k), el("dd", null, String(v))]));
  $("d-evidence").replaceChildren(objectView((s.latest || m).evidence));
  $("d-thresholds").replaceChildren(objectView((s.latest || m).thresholds));
  $("d-notes").replaceChildren(...(s.notes || []).map((n) => el("li", null, `${n.at} ${n.by}: ${n.text}`)));
  $("d-audit").replaceChildren(...(s.audit || []).map((a) => {
    const li = el("li", null, `${a.at} · ${a.by} · ${a.action}${a.detail ? " — " + a.detail : ""}`);
    if (a.action_id) li.dataset.actionId = a.action_id;
    return li;
  }));
  for (const [actionId, name] of state.pending) {
    if ((s.audit || []).some((a) => a.action_id === actionId)) {
      state.pending.delete(actionId);
      message(`${name} applied`, "ok");
    }
  }
}
function objectView(obj) {
  if (obj == null || typeof obj !== "object") return el("span", null, obj == null ? "—" : String(obj));
  const dl = el("dl");
  for (const [k, v] of Object.entries(obj)) {
    dl.appendChild(el("dt", null, k));
    const dd = el("dd");
    if (v != null && typeof v === "object" && !Array.isArray(v)) dd.appendChild(objectView(v));
    else dd.textContent = v == null ? "—" : Array.isArray(v) ? JSON.stringify(v) : String(v);
    dl.appendChild(dd);
  }
  return dl;
}
$("d-close-panel").onclick = () => {
  state.selected = null; state.detail = null;
  $("detail").hidden = true;
  scheduleList();
};

// -------------------------------------------------------------------------------- actions
function message(text, kind) {
  const m = $("d-msg");
  m.textContent = text;
  m.className = "msg " + (kind || "");
}
const operator = $("operator");
operator.value = localStorage.getItem("mda.operator") || "";
operator.onchange = () => localStorage.setItem("mda.operator", operator.value.trim());

let formAction = null;
document.querySelectorAll("[data-action]").forEach((b) => {
  b.onclick = () => {
    const action = b.dataset.action;
    if (action === "assign" || action === "note") {
      formAction = action;
      $("d-form").hidden = false;
      $("d-text").placeholder = action === "assign" ? "assign to (name or desk)" : "note";
      $("d-text").value = "";
      $("d-text").focus();
    } else {
      sendAction({ action });
    }
  };
});
$("d-cancel").onclick = () => { $("d-form").hidden = true; formAction = null; };
$("d-send").onclick = () => {
  const text = $("d-text").value.trim();
  if (!text) return message("write something first", "err");
  sendAction(formAction === "assign" ? { action: "assign", assignee: text } : { action: "note", text });
  $("d-form").hidden = true;
};
async function sendAction(body) {
  const by = operator.value.trim();
  if (!by) { operator.focus(); return message("enter your name (Officer) first", "err"); }
  const id = state.selected;
  message(`sending ${body.action}…`);
  try {
    const r = await fetch(`/watch/alerts/${encodeURIComponent(id)}/actions`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, by }),
    });
    const answer = await r.json();
    if (!r.ok) return message(`refused: ${answer.error}`, "err");
    state.pending.set(answer.action.action_id, body.action);
    message(`${body.action} sent, waiting for the lifecycle…`);
  } catch (err) {
    message(`could not send: ${err}`, "err");
  }
}

// ----------------------------------------------------------------------- live event stream
let trackTimer = null;
function connect() {
  const es = new EventSource("/watch/events");
  const conn = $("conn");
  es.addEventListener("hello", () => {
    conn.textContent = "live"; conn.className = "conn live";
    loadAlerts();
  });
  es.addEventListener("alert", (e) => {
    const { row, counts } = JSON.parse(e.data);
    state.alerts.set(row.alert_id, row);
    state.counts = counts;
    scheduleList();
    if (row.alert_id === state.selected) loadDetail();
  });
  es.addEventListener("removed", (e) => {
    const { alert_id, counts } = JSON.parse(e.data);
    state.alerts.delete(alert_id);
    state.counts = counts;
    scheduleList();
  });
  es.addEventListener("track", (e) => {
    const { alert_id } = JSON.parse(e.data);
    if (alert_id === state.selected) {
      clearTimeout(trackTimer);
      trackTimer = setTimeout(loadDetail, 300);
    }
  });
  es.addEventListener("rejected", (e) => {
    const r = JSON.parse(e.data);
    if (r.action_id && state.pending.has(r.action_id)) {
      state.pending.delete(r.action_id);
      message(`refused by the lifecycle: ${r.reason} (${r.detail})`, "err");
    }
  });
  es.addEventListener("reload", () => loadAlerts());
  es.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "conn down"; };
}

// ----------------------------------------------------------------------------------- start
async function start() {
  resize();
  window.addEventListener("resize", resize);
  fitBbox(VIEWS.lakes);
  const [basemap, overlays] = await Promise.all([
    fetch("/watch/basemap.json").then((r) => r.json()),
    fetch("/watch/overlays.json").then((r) => r.json()),
  ]);
  state.basemap = projectCollection(basemap);
  state.overlays = projectCollection(overlays);
  scheduleDraw();
  const body = await loadAlerts();
  if (body && body.alerts.some((a) => a.status === "open")) fitAlerts();
  connect();
  loadVessels();
  document.body.dataset.ready = "yes";
}
start();
