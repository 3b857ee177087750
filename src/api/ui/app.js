// The web UI of `sluice serve`: plain DOM over the /v1 API, no build step. Every value from
// the API is set as text (never parsed as HTML).
"use strict";

const view = document.getElementById("view");
const notice = document.getElementById("notice");
const keyForm = document.getElementById("key-form");
const keyInput = document.getElementById("key-input");
let pollTimer = null;  // the current view's refresh, cancelled on navigation
let pageObserver = null;

// ---- helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function show(message) {
  notice.textContent = message;
  notice.hidden = !message;
}

function apiKey() { return localStorage.getItem("sluice_key") || ""; }
function setKey(key) {
  localStorage.setItem("sluice_key", key);
  // <img> and <video> cannot send headers: media and reads accept the key as a cookie too.
  document.cookie = `sluice_key=${encodeURIComponent(key)}; path=/v1/; SameSite=Strict`;
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401) {
      keyForm.hidden = false;
      keyInput.focus();
    }
    throw new ApiError(response.status, typeof body === "object" ? body : { detail: body });
  }
  return body;
}

function mediaUrl(keyOrSha) { return `/v1/media/${String(keyOrSha).split("/").pop()}`; }
function fileName(url) {
  try { return decodeURIComponent(new URL(url).pathname.split("/").pop()) || url; }
  catch (e) { return url; }
}
function seconds(s) {
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}
function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MB`;
  return `${(n / (1 << 30)).toFixed(2)} GB`;
}
function when(ms) { return ms ? new Date(ms).toLocaleString() : ""; }
function hashQuery() {
  const hash = location.hash.slice(1);
  const q = hash.indexOf("?");
  return new URLSearchParams(q < 0 ? "" : hash.slice(q + 1));
}
function stateBadge(state) { return el("span", { class: `state state-${state}`, text: state }); }
function progressBar(ok, failed, total) {
  const bar = el("div", { class: "bar", title: `${ok} ok, ${failed} failed of ${total}` });
  if (total > 0) {
    bar.append(el("span", { class: "ok", style: `width:${(100 * ok) / total}%` }));
    bar.append(el("span", { class: "bad", style: `width:${(100 * failed) / total}%` }));
  }
  return bar;
}
function poll(fn, ms) {
  const tick = async () => {
    try { await fn(); } catch (e) { show(e.message); }
    pollTimer = setTimeout(tick, ms);
  };
  pollTimer = setTimeout(tick, ms);
}

// The picture that stands for an item: its thumbnail, a video's first keyframe or clip poster.
function pictureOf(item) {
  const made = item.artifacts || {};
  if (made["image.thumbnail"] && made["image.thumbnail"].thumbnail)
    return mediaUrl(made["image.thumbnail"].thumbnail);
  if (made["video.shots"] && made["video.shots"].keyframe_0) return mediaUrl(made["video.shots"].keyframe_0);
  if (item.kind === "image" && item.sha256) return mediaUrl(item.sha256);
  return null;
}

// The words that say what an item is: tags, content type, text read or heard.
function summaryOf(steps) {
  const lines = [];
  const tags = steps["llm.tags"] && steps["llm.tags"].tags;
  if (Array.isArray(tags)) lines.push(tags.slice(0, 5).map((t) => (typeof t === "string" ? t : t.tag || t.name)).join(", "));
  const type = steps["llm.content_type"] && steps["llm.content_type"].content_type;
  if (type) lines.push(type);
  const ocr = steps["ocr.tesseract"] && steps["ocr.tesseract"].text;
  if (ocr) lines.push(`“${ocr.replace(/\s+/g, " ").trim()}”`);
  const speech = steps["audio.transcript"] && steps["audio.transcript"].text;
  if (speech) lines.push(`♪ ${speech}`);
  return lines.filter(Boolean);
}

// ---- views -----------------------------------------------------------------------------

async function jobsView() {
  const stateFilter = hashQuery().get("state") || "";
  const select = el("select", { "aria-label": "state", onchange: (e) => { location.hash = `#/jobs${e.target.value ? "?state=" + e.target.value : ""}`; } },
    ["", "queued", "running", "done", "dead"].map((s) => el("option", { value: s, selected: s === stateFilter, text: s || "every state" })));
  const body = el("tbody");
  view.replaceChildren(el("div", { class: "row" }, el("h1", { text: "Jobs" }), select,
    el("a", { href: "#/submit" }, "Submit a list →")),
    el("table", { id: "jobs" }, el("thead", {}, el("tr", {}, ["Job", "Set", "Pipeline", "State", "Progress", "Attempts", "Created"].map((h) => el("th", { text: h })))), body));
  const progress = {};
  const render = async () => {
    const { jobs } = await api(`/v1/jobs?limit=100${stateFilter ? "&state=" + stateFilter : ""}`);
    // Progress of the jobs still moving (and each finished one once).
    await Promise.all(jobs.filter((j) => j.state === "queued" || j.state === "running" || !progress[j.token])
      .slice(0, 20).map(async (j) => { progress[j.token] = await api(`/v1/jobs/${j.token}`); }));
    body.replaceChildren(...jobs.map((j) => {
      const p = progress[j.token];
      return el("tr", { "data-token": j.token, "data-state": j.state },
        el("td", {}, el("a", { href: `#/jobs/${j.token}`, text: j.token.slice(0, 12) })),
        el("td", {}, el("a", { href: `#/sets/${encodeURIComponent(j.set)}`, text: j.set })),
        el("td", { text: j.pipeline }),
        el("td", {}, stateBadge(j.state), j.failure ? el("div", { class: "muted", text: j.failure.cause }) : null),
        el("td", {}, p ? progressBar(p.items_ok, p.items_failed, p.urls) : "", p ? el("div", { class: "muted", text: `${p.items_ok + p.items_failed} / ${p.urls}` }) : null),
        el("td", { text: `${j.attempts} / ${j.max_attempts}` }),
        el("td", { class: "muted", text: when(j.created_ms) }));
    }));
    if (!jobs.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No jobs yet. Submit a list to start one." })));
  };
  await render();
  poll(render, 2000);
}

async function jobView(token) {
  const box = el("div");
  view.replaceChildren(el("h1", {}, "Job ", el("code", { text: token })), box);
  const render = async () => {
    const job = await api(`/v1/jobs/${encodeURIComponent(token)}`);
    const causes = Object.entries(job.failures_by_cause || {});
    box.replaceChildren(
      el("div", { class: "panel" },
        el("div", { class: "row" }, stateBadge(job.state), el("span", { id: "job-state", text: job.state }),
          el("a", { href: `#/sets/${encodeURIComponent(job.set)}` }, `Open the gallery of ${job.set} →`)),
        el("h2", { text: "Fetched" }), progressBar(job.items_ok, job.items_failed, job.urls),
        el("p", { class: "muted", text: `${job.items_ok} ok, ${job.items_failed} failed of ${job.urls} URLs; attempt ${job.attempts} of ${job.max_attempts}` }),
        causes.length ? el("div", {}, el("h2", { text: "Failures by cause" }), el("ul", {}, causes.map(([c, n]) => el("li", { text: `${c}: ${n}` })))) : null,
        job.failure ? el("p", { class: "muted", text: `${job.failure.cause}: ${job.failure.details}` }) : null,
        el("dl", { class: "kv" }, el("dt", { text: "set" }), el("dd", { text: job.set }), el("dt", { text: "pipeline" }), el("dd", { text: job.pipeline }),
          el("dt", { text: "worker" }), el("dd", { text: job.worker || "—" }), el("dt", { text: "created" }), el("dd", { text: when(job.created_ms) }),
          el("dt", { text: "finished" }), el("dd", { text: when(job.finished_ms) || "—" })),
        el("div", { class: "row" },
          job.state === "dead" ? el("button", { onclick: async () => { await api(`/v1/jobs/${token}/retry`, { method: "POST" }); render(); } }, "Retry") : null,
          job.state === "queued" || job.state === "running" ? el("button", { class: "plain", onclick: async () => { await api(`/v1/jobs/${token}`, { method: "DELETE" }); render(); } }, "Cancel") : null)));
    return job.state === "queued" || job.state === "running";
  };
  if (await render()) poll(async () => { if (!(await render())) clearTimeout(pollTimer); }, 1000);
}

async function setsView() {
  const { sets } = await api("/v1/sets");
  view.replaceChildren(el("h1", { text: "Sets" }),
    el("table", {}, el("thead", {}, el("tr", {}, ["Set", "Items", "OK", "Failed", "Bytes", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, sets.length ? sets.map((s) => el("tr", {},
        el("td", {}, el("a", { href: `#/sets/${encodeURIComponent(s.set)}`, text: s.set })),
        el("td", { text: s.items }), el("td", { text: s.ok }), el("td", { text: s.failed }), el("td", { text: bytes(s.bytes) }),
        el("td", {}, el("a", { href: `#/sets/${encodeURIComponent(s.set)}/ledger`, text: "ledger" })))) :
        el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No sets yet." })))));
}

function card(set, item) {
  const picture = pictureOf(item);
  const failed = item.status === "failed";
  const href = item.sha256 ? `#/items/${item.sha256}?set=${encodeURIComponent(set)}&url=${encodeURIComponent(item.url)}` : null;
  const thumb = el("div", { class: "thumb" },
    picture ? el("img", { src: picture, loading: "lazy", alt: fileName(item.url) }) : (failed ? "failed" : item.kind || ""));
  const lines = failed ? [el("div", { class: "line cause", text: `${item.failure.cause}: ${item.failure.details}`, title: item.failure.details })]
    : summaryOf(item.steps || {}).slice(0, 2).map((t) => el("div", { class: "line", text: t, title: t }));
  return el(href ? "a" : "div", { class: `card ${failed ? "failed" : ""}`, href, "data-url": item.url },
    thumb, el("div", { class: "meta" }, el("div", { class: "name", text: fileName(item.url), title: item.url }),
      el("div", { class: "row" }, el("span", { class: `state status-${item.status}`, text: item.status }), el("span", { class: "muted", text: item.kind || "" }),
        item.size ? el("span", { class: "muted", text: bytes(item.size) }) : null), lines));
}

async function galleryView(set) {
  const query = hashQuery();
  const filters = { status: query.get("status") || "", kind: query.get("kind") || "", q: query.get("q") || "" };
  let typing = null;
  // The filters as the controls show them now (a select changed while words are being typed
  // keeps the words).
  const go = () => {
    clearTimeout(typing);
    if (!document.getElementById("filter-status")) return;  // another page by now
    const next = { status: document.getElementById("filter-status").value, kind: document.getElementById("filter-kind").value,
      q: document.getElementById("filter-text").value.trim() };
    const params = new URLSearchParams(Object.entries(next).filter(([, v]) => v));
    location.hash = `#/sets/${encodeURIComponent(set)}${params.toString() ? "?" + params : ""}`;
  };
  const grid = el("div", { class: "grid", id: "gallery" });
  const more = el("div", { class: "more", id: "more", text: "Loading…" });
  const counts = el("span", { class: "muted" });
  view.replaceChildren(
    el("div", { class: "row" }, el("h1", {}, "Set ", el("span", { text: set })), counts,
      el("a", { href: `#/sets/${encodeURIComponent(set)}/ledger`, text: "cost ledger" })),
    el("div", { class: "filters" },
      el("select", { "aria-label": "status", id: "filter-status", onchange: go },
        [["", "ok and failed"], ["ok", "ok"], ["failed", "failed"]].map(([v, t]) => el("option", { value: v, selected: v === filters.status, text: t }))),
      el("select", { "aria-label": "kind", id: "filter-kind", onchange: go },
        [["", "every kind"], ["image", "images"], ["video", "videos"], ["audio", "audio"]].map(([v, t]) => el("option", { value: v, selected: v === filters.kind, text: t }))),
      el("input", { type: "search", id: "filter-text", value: filters.q, placeholder: "tag, content type, text in the picture or speech…",
        oninput: () => { clearTimeout(typing); typing = setTimeout(go, 350); } })),
    grid, more);
  let cursor = "";
  let loading = false;
  let shown = 0;
  const load = async () => {
    if (loading || cursor === null) return;
    loading = true;
    const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    params.set("limit", "60");
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/v1/sets/${encodeURIComponent(set)}/items?${params}`);
    grid.append(...page.items.map((item) => card(set, item)));
    shown += page.items.length;
    cursor = page.next_cursor || null;
    more.textContent = cursor ? "Loading more…" : shown ? `${shown} items` : "Nothing matches these filters.";
    loading = false;
    if (cursor && more.getBoundingClientRect().top < window.innerHeight + 600) load();
  };
  api("/v1/sets").then(({ sets }) => {
    const totals = sets.find((s) => s.set === set);
    if (totals) counts.textContent = `${totals.items} items · ${totals.ok} ok · ${totals.failed} failed · ${bytes(totals.bytes)}`;
  }).catch(() => {});
  await load();
  pageObserver = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) load().catch((e) => show(e.message)); }, { rootMargin: "600px" });
  pageObserver.observe(more);
}

function timeline(duration, parts, video) {
  const bar = el("div", { class: "timeline" });
  for (const part of parts) {
    const node = el("div", { class: part.class, title: part.title, style: `left:${(100 * part.start) / duration}%;width:${Math.max(0.4, (100 * (part.end - part.start)) / duration)}%` });
    bar.append(node);
  }
  const cursor = el("div", { class: "cursor" });
  bar.append(cursor);
  bar.addEventListener("click", (e) => {
    const box = bar.getBoundingClientRect();
    video.currentTime = ((e.clientX - box.left) / box.width) * duration;
  });
  video.addEventListener("timeupdate", () => { cursor.style.left = `${(100 * video.currentTime) / duration}%`; });
  return bar;
}

function imageStage(item, steps) {
  const probe = steps["media.probe"] || {};
  const image = el("img", { src: mediaUrl(item.sha256), alt: fileName(item.url), id: "picture" });
  const overlay = svg("svg", { viewBox: `0 0 ${probe.width || 1} ${probe.height || 1}`, preserveAspectRatio: "xMidYMid meet" });
  const words = (steps["ocr.tesseract"] && steps["ocr.tesseract"].words) || [];
  const faces = (steps["image.faces"] && steps["image.faces"].faces) || [];
  for (const w of words) {
    const r = svg("rect", { class: "ocr", x: w.box.x, y: w.box.y, width: w.box.w, height: w.box.h });
    r.append(svg("title", {}));
    r.firstChild.textContent = `${w.text} (${w.confidence})`;
    overlay.append(r);
  }
  for (const f of faces) overlay.append(svg("rect", { class: "face", x: f.x, y: f.y, width: f.w, height: f.h }));
  const stage = el("div", { class: "stage" }, image, overlay);
  const toggles = el("div", { class: "row muted" },
    el("label", {}, el("input", { type: "checkbox", checked: true, onchange: (e) => overlay.querySelectorAll(".ocr").forEach((r) => (r.style.display = e.target.checked ? "" : "none")) }), ` text boxes (${words.length})`),
    el("label", {}, el("input", { type: "checkbox", checked: true, onchange: (e) => overlay.querySelectorAll(".face").forEach((r) => (r.style.display = e.target.checked ? "" : "none")) }), ` faces (${faces.length})`));
  return [stage, toggles];
}

function videoStage(item, steps, artifacts) {
  const video = el("video", { src: mediaUrl(item.sha256), controls: true, preload: "metadata", id: "player" });
  const parts = [el("div", { class: "stage" }, video)];
  const shots = steps["video.shots"];
  const duration = (shots && shots.duration_s) || (steps["media.probe"] && steps["media.probe"].duration_s) || 0;
  if (shots && duration > 0) {
    parts.push(el("h2", { text: `Shots (${shots.shot_count})` }),
      timeline(duration, shots.shots.map((s) => ({ class: "seg", start: s.start_s, end: s.end_s, title: `shot ${s.index + 1}: ${seconds(s.start_s)}–${seconds(s.end_s)} (${s.transition})` })), video));
    const frames = artifacts["video.shots"] || {};
    parts.push(el("div", { class: "clips" }, shots.shots.filter((s) => frames[s.keyframe]).map((s) =>
      el("img", { src: mediaUrl(frames[s.keyframe]), loading: "lazy", alt: `keyframe of shot ${s.index + 1}`, title: `seek to ${seconds(s.start_s)}`, style: "width:100%;cursor:pointer;border-radius:6px",
        onclick: () => { video.currentTime = s.start_s; } }))));
  }
  const defects = steps["video.defects"];
  if (defects && duration > 0) {
    const spans = [];
    for (const kind of ["black", "frozen", "silence", "clipping", "color_bars"])
      for (const s of defects[kind] || []) spans.push({ class: `span ${kind}`, start: s.start_s, end: s.end_s, title: `${kind} ${seconds(s.start_s)}–${seconds(s.end_s)}` });
    const loud = defects.loudness || {};
    parts.push(el("h2", { text: `Defects (${spans.length})` }), timeline(duration, spans, video),
      el("p", { class: "muted", text: `${spans.length ? spans.map((s) => s.title).join(" · ") : "no black, frozen or silent spans"}; loudness ${loud.integrated_lufs ?? "?"} LUFS, true peak ${loud.true_peak_dbtp ?? "?"} dBTP` }));
  }
  const transcript = steps["audio.transcript"];
  if (transcript && transcript.segments) {
    const lines = transcript.segments.map((s) => el("p", { "data-start": s.start_s, onclick: () => { video.currentTime = s.start_s; video.play().catch(() => {}); } },
      el("time", { text: seconds(s.start_s) }), s.text));
    video.addEventListener("timeupdate", () => {
      for (const line of lines) line.classList.toggle("now", video.currentTime >= +line.dataset.start &&
        video.currentTime < (line.nextSibling ? +line.nextSibling.dataset.start : Infinity));
    });
    parts.push(el("h2", { text: "Transcript" }), el("div", { class: "transcript panel", id: "transcript" }, lines));
  }
  const clips = steps["video.clips"];
  const made = artifacts["video.clips"] || {};
  if (clips && clips.clips && clips.clips.length) {
    parts.push(el("h2", { text: `Clips (${clips.clips.length})` }), el("div", { class: "clips", id: "clips" }, clips.clips.filter((c) => made[c.clip]).map((c) =>
      el("figure", { style: "margin:0" }, el("video", { src: mediaUrl(made[c.clip]), poster: made[c.poster] ? mediaUrl(made[c.poster]) : null, controls: true, preload: "metadata" }),
        el("figcaption", { class: "muted", text: `${c.title} · ${seconds(c.start_s)}–${seconds(c.end_s)} (${c.cut})` })))));
  }
  return parts;
}

async function itemView(sha) {
  const query = hashQuery();
  const content = await api(`/v1/items/${sha}`);
  const holder = content.items.find((i) => i.set === query.get("set") && i.url === query.get("url")) || content.items[0];
  const steps = holder.steps || {};
  const artifacts = holder.artifacts || {};
  const media = content.kind === "video" || content.kind === "audio" ? videoStage(holder, steps, artifacts) : imageStage(holder, steps);
  const similar = el("div", { id: "similar" });
  const palette = steps["image.colors"] && steps["image.colors"].palette;
  const safety = steps["image.safety"];
  const tags = steps["llm.tags"] && steps["llm.tags"].tags;
  view.replaceChildren(
    el("div", { class: "row" }, el("a", { href: `#/sets/${encodeURIComponent(holder.set)}`, text: `← ${holder.set}` })),
    el("h1", { text: fileName(holder.url) }),
    el("div", { class: "item" },
      el("div", {}, media),
      el("div", {},
        el("div", { class: "panel" }, el("h3", { text: "Content" }), el("dl", { class: "kv" },
          el("dt", { text: "type" }), el("dd", { text: `${content.mime} (${content.kind})` }),
          el("dt", { text: "size" }), el("dd", { text: bytes(content.size) }),
          steps["media.probe"] && steps["media.probe"].width ? [el("dt", { text: "pixels" }), el("dd", { text: `${steps["media.probe"].width} × ${steps["media.probe"].height}` })] : null,
          el("dt", { text: "sha256" }), el("dd", {}, el("a", { href: mediaUrl(content.sha256), text: content.sha256 })),
          steps["llm.seo_filename"] && steps["llm.seo_filename"].filename ? [el("dt", { text: "SEO name" }), el("dd", { text: steps["llm.seo_filename"].filename })] : null,
          steps["llm.content_type"] ? [el("dt", { text: "content type" }), el("dd", { text: steps["llm.content_type"].content_type })] : null,
          safety ? [el("dt", { text: "safety" }), el("dd", { text: `${safety.top} (unsafe ${safety.unsafe})` })] : null)),
        Array.isArray(tags) ? el("div", { class: "panel" }, el("h3", { text: "Tags" }), tags.map((t) => el("span", { class: "tag", text: typeof t === "string" ? t : t.tag || t.name }))) : null,
        steps["ocr.tesseract"] && steps["ocr.tesseract"].text ? el("div", { class: "panel" }, el("h3", { text: "Text in the picture" }), el("div", { id: "ocr-text", style: "white-space:pre-wrap", text: steps["ocr.tesseract"].text })) : null,
        palette ? el("div", { class: "panel" }, el("h3", { text: "Palette" }), palette.map((c) => el("span", { class: "swatch", title: `${c.hex} ${Math.round(c.share * 100)}%`, style: `background:${c.hex}` }))) : null,
        el("div", { class: "panel" }, el("h3", { text: `Where it was found (${content.items.length})` }), el("ul", {}, content.items.map((i) =>
          el("li", {}, el("a", { href: `#/sets/${encodeURIComponent(i.set)}`, text: i.set }), " ", el("span", { class: "muted", text: i.url }))))),
        el("div", { class: "panel" }, el("h3", { text: "Every result" }), Object.entries(steps).map(([method, output]) =>
          el("details", {}, el("summary", { text: method + (output && output.failure ? ` — failed: ${output.failure.cause}` : "") }), el("pre", { text: JSON.stringify(output, null, 2) })))))),
    el("h2", { text: "More like this" }),
    el("button", { id: "more-like-this", onclick: () => moreLikeThis(content.sha256, similar) }, "Find look-alikes"), similar);
}

// A search hit as a card: its picture, the first item holding it, its score and set.
function hitCard(h) {
  const item = h.items[0] || {};
  return el("a", { class: "card", href: `#/items/${h.sha256}`, "data-score": h.score },
    el("div", { class: "thumb" }, item.kind === "image" ? el("img", { src: mediaUrl(h.sha256), loading: "lazy", alt: "" }) : item.kind || ""),
    el("div", { class: "meta" }, el("div", { class: "name", text: fileName(item.url || h.sha256) }), el("div", { class: "line", text: `score ${h.score} · ${item.set || ""}` })));
}

async function moreLikeThis(sha, box) {
  box.replaceChildren(el("p", { class: "muted", text: "Searching…" }));
  try {
    const answer = await api(`/v1/search?like=${sha}&k=13`);
    const hits = answer.hits.filter((h) => h.sha256 !== sha);
    box.replaceChildren(hits.length ? el("div", { class: "grid" }, hits.map(hitCard))
      : el("p", { class: "muted", text: "Nothing else in the index looks like it." }));
  } catch (e) {
    box.replaceChildren(el("p", { class: "muted", text: e.message }));
  }
}

async function ledgerView(set) {
  let ledger = null;
  try { ledger = await api(`/v1/sets/${encodeURIComponent(set)}/ledger`); }
  catch (e) { if (e.status !== 404) throw e; }
  // One table per grouping: a row per method (or provider), a column per measure.
  const table = (title, rows) => {
    const columns = [...new Set(rows.flatMap(([, costs]) => Object.keys(costs)))];
    return [el("h2", { text: title }), rows.length ? el("table", { class: "ledger" },
      el("thead", {}, el("tr", {}, el("th", { text: "" }), columns.map((c) => el("th", { text: c.replace(/_/g, " ") })))),
      el("tbody", {}, rows.map(([name, costs]) => el("tr", {}, el("td", { text: name }), columns.map((c) => el("td", { text: typeof costs[c] === "number" && !Number.isInteger(costs[c]) ? costs[c].toFixed(1) : costs[c] ?? 0 }))))))
      : el("p", { class: "muted", text: "No remote calls: every method of this set ran on this machine." })];
  };
  view.replaceChildren(el("div", { class: "row" }, el("a", { href: `#/sets/${encodeURIComponent(set)}`, text: `← ${set}` })),
    el("h1", { text: `Cost ledger of ${set}` }),
    !ledger ? el("p", { class: "muted", text: "This set has no ledger yet: it has not been analysed." }) :
      el("div", {}, table("Total", [["all methods", ledger.total || {}]]),
        table("By method", Object.entries(ledger.by_method || {})),
        table("By provider", Object.entries(ledger.by_provider || {}))));
}

function submitView() {
  const form = el("form", { class: "panel", id: "submit-form" },
    el("div", { class: "row" },
      el("label", {}, "Set ", el("input", { name: "set", required: true, pattern: "[A-Za-z0-9._-]{1,100}", placeholder: "brand-a" })),
      el("label", {}, "Pipeline ", el("select", { name: "pipeline" }, ["default", "video", "defects"].map((p) => el("option", { value: p, text: p })))),
      el("label", {}, "Priority ", el("input", { name: "priority", type: "number", value: "0", style: "width:80px" }))),
    el("p", {}, el("label", {}, "URLs, one per line", el("textarea", { name: "urls", required: true, placeholder: "https://example.com/ad.jpg" }))),
    el("button", { type: "submit" }, "Submit"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const urls = String(data.get("urls")).split(/\s+/).map((u) => u.trim()).filter((u) => u && !u.startsWith("#"));
    try {
      const job = await api("/v1/jobs", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ set: data.get("set"), urls, pipeline: data.get("pipeline"), priority: Number(data.get("priority")) || 0 }) });
      location.hash = `#/jobs/${job.token}`;
    } catch (err) { show(err.message); }
  });
  view.replaceChildren(el("h1", { text: "Submit a list" }), form);
}

function searchView() {
  const results = el("div", { id: "search-results" });
  const form = el("form", { class: "filters" }, el("input", { type: "search", name: "text", placeholder: "words (a multimodal model) — or pick a picture", style: "width:360px" }),
    el("input", { type: "file", name: "picture", accept: "image/*" }), el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const picture = data.get("picture");
    try {
      const answer = picture && picture.size ? await api("/v1/search?k=24", { method: "POST", body: picture })
        : await api(`/v1/search?k=24&method=embed.image&text=${encodeURIComponent(data.get("text"))}`);
      results.replaceChildren(el("div", { class: "grid" }, answer.hits.map(hitCard)));
    } catch (err) { results.replaceChildren(el("p", { class: "muted", text: err.message })); }
  });
  view.replaceChildren(el("h1", { text: "Search" }), form, results);
}

// ---- routing ---------------------------------------------------------------------------

const routes = [
  [/^\/jobs$/, jobsView, "jobs"],
  [/^\/jobs\/([^/]+)$/, jobView, "jobs"],
  [/^\/sets$/, setsView, "sets"],
  [/^\/sets\/([^/]+)\/ledger$/, ledgerView, "sets"],
  [/^\/sets\/([^/]+)$/, galleryView, "sets"],
  [/^\/items\/([0-9a-f]{64})$/, itemView, "sets"],
  [/^\/submit$/, submitView, "submit"],
  [/^\/search$/, searchView, "search"],
];

async function navigate() {
  clearTimeout(pollTimer);
  if (pageObserver) pageObserver.disconnect();
  pageObserver = null;
  show("");
  const path = location.hash.slice(1).split("?")[0] || "/jobs";
  for (const [pattern, render, nav] of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    try {
      await render(...match.slice(1).map(decodeURIComponent));
    } catch (e) {
      show(e.message);
    }
    return;
  }
  show(`Nothing here: ${path}`);
}

keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  setKey(keyInput.value.trim());
  keyForm.hidden = true;
  navigate();
});
if (apiKey()) setKey(apiKey());
window.addEventListener("hashchange", navigate);
navigate();
