// trellis topology page: polls the daemon's JSON once a second and draws
// each visible slice's routers and links (plain DOM and SVG, no library).
// The bearer token, if any, comes from the page address: #token=SECRET.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const W = 600, H = 360;
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get('token');
const headers = token ? { Authorization: 'Bearer ' + token } : {};
const prev = new Map();	// "slice|link|router:ifname" -> {bytes, t}
const drawn = new Map();	// slice -> {section, key}

function el(tag, attrs, parent) {
  const e = document.createElementNS(tag === 'section' || tag === 'h2' || tag === 'span' || tag === 'p' ? 'http://www.w3.org/1999/xhtml' : SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

async function get(path) {
  const r = await fetch(path, { headers, cache: 'no-store' });
  if (!r.ok) {
    const msg = (await r.text()).trim();
    throw new Error(path + ': ' + r.status + ' ' + msg);
  }
  return r.json();
}

function rate(bps) {
  if (bps >= 1e9) return (bps / 1e9).toFixed(2) + ' Gbit/s';
  if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mbit/s';
  if (bps >= 1e3) return (bps / 1e3).toFixed(1) + ' kbit/s';
  return Math.round(bps) + ' bit/s';
}

function size(b) {
  if (!b) return 'none';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (Math.round(b * 10) / 10) + ' ' + u[i];
}

// Routers on a circle (one in the middle); the same for every refresh.
function layout(routers) {
  const pos = new Map(), n = routers.length, r = Math.min(W, H) / 2 - 40;
  routers.forEach((rt, i) => {
    const a = n === 1 ? 0 : (2 * Math.PI * i) / n - Math.PI / 2;
    pos.set(rt.name, n === 1 ? [W / 2, H / 2] : [W / 2 + r * Math.cos(a), H / 2 + r * Math.sin(a)]);
  });
  return pos;
}

function routerText(rt, usage) {
  const l = rt.limits || {};
  let s = `router ${rt.name} (${rt.state})\nnode ${rt.node}, template ${rt.template}\n` +
    `limits: cpu ${l.cpu || 'none'}, memory ${size(l.memory)}, pids ${l.pids || 'none'}, disk ${size(l.disk)}\n`;
  if (usage) s += `usage: cpu ${(usage.cpu_ns / 1e9).toFixed(1)} s, memory ${size(usage.memory)}, pids ${usage.pids}, oom kills ${usage.oom_kills}\n`;
  for (const i of rt.interfaces || []) s += `${i.name}: ${(i.addresses || []).join(' ')} (${i.link})\n`;
  return s;
}

function showInfo(text) {
  document.getElementById('info-text').textContent = text;
  document.getElementById('info').hidden = false;
}

function build(name, show) {
  const sec = el('section', { class: 'slice', 'data-slice': name });
  const h = el('h2', {}, sec);
  h.textContent = name;
  el('span', { class: 'state' }, h);
  const svg = el('svg', { class: 'topology', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'topology of ' + name }, sec);
  const pos = layout(show.routers);
  for (const lk of show.links) {
    const [a, b] = lk.endpoints.map((e) => pos.get(e.split(':')[0]));
    if (!a || !b) continue;
    const g = el('g', { class: 'linkg', 'data-link': lk.name }, svg);
    el('line', { class: 'link', x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, g);
    el('title', {}, g).textContent = lk.name;
    const hit = el('line', { class: 'hit', x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, g);
    hit.addEventListener('click', () => showInfo(g.dataset.info || lk.name));
    const t = el('text', { class: 'rate', x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 - 6 }, g);
    t.textContent = '';
  }
  for (const rt of show.routers) {
    const [x, y] = pos.get(rt.name);
    const g = el('g', { class: 'router', 'data-router': rt.name, tabindex: '0' }, svg);
    el('circle', { cx: x, cy: y, r: 22 }, g);
    el('text', { x, y }, g).textContent = rt.name;
    el('title', {}, g);
    g.addEventListener('click', () => showInfo(g.dataset.info || rt.name));
    g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') showInfo(g.dataset.info || rt.name); });
  }
  return sec;
}

function update(name, sec, show, stats, now) {
  sec.className = 'slice ' + show.state;
  sec.querySelector('h2 .state').textContent = `${show.state}, owner ${show.owner}`;
  const usage = new Map((stats.routers || []).map((r) => [r.name, r.usage]));
  for (const rt of show.routers) {
    const g = sec.querySelector(`g.router[data-router="${CSS.escape(rt.name)}"]`);
    if (!g) continue;
    g.setAttribute('class', 'router ' + rt.state);
    g.dataset.info = routerText(rt, usage.get(rt.name));
    g.querySelector('title').textContent = g.dataset.info;
  }
  const st = new Map((stats.links || []).map((l) => [l.name, l]));
  for (const lk of show.links) {
    const g = sec.querySelector(`g.linkg[data-link="${CSS.escape(lk.name)}"]`);
    if (!g) continue;
    const state = lk.state === 'up' ? 'up' : lk.state === 'remote' ? 'remote' : 'down';
    g.dataset.state = lk.state;
    g.querySelector('line.link').setAttribute('class', 'link ' + state);
    const parts = [];
    for (const p of (st.get(lk.name) || {}).ports || []) {
      const key = `${name}|${lk.name}|${p.router}:${p.ifname}`, old = prev.get(key);
      if (typeof p.bytes !== 'number') continue;
      if (old && now > old.t && p.bytes >= old.bytes) parts.push(`${p.router}→ ${rate(((p.bytes - old.bytes) * 8 * 1000) / (now - old.t))}`);
      prev.set(key, { bytes: p.bytes, t: now });
    }
    g.querySelector('text.rate').textContent = state === 'down' ? lk.state : parts.join(' · ');
    g.dataset.info = `link ${lk.name} (${lk.state}, ${lk.kind})\nrate ${lk.rate ? rate(lk.rate) : 'unshaped'}\n` + parts.join('\n');
  }
}

let busy = false;

async function tick() {
  const status = document.getElementById('status');
  if (busy) return;	// a slow answer: skip a beat rather than pile up requests
  busy = true;
  try {
    const list = (await get('api/slices')).slices;
    const main = document.getElementById('slices');
    const seen = new Set();
    const docs = await Promise.all(list.map((s) => get('api/slice/' + encodeURIComponent(s.name)).catch(() => null)));
    const now = Date.now();
    list.forEach((s, i) => {
      const d = docs[i];
      if (!d) return;
      seen.add(s.name);
      const key = JSON.stringify([d.show.routers.map((r) => r.name), d.show.links.map((l) => [l.name, l.endpoints])]);
      let cur = drawn.get(s.name);
      if (!cur || cur.key !== key) {
        const sec = build(s.name, d.show);
        if (cur) main.replaceChild(sec, cur.section); else main.appendChild(sec);
        cur = { section: sec, key };
        drawn.set(s.name, cur);
      }
      update(s.name, cur.section, d.show, d.stats, now);
    });
    for (const [n, cur] of drawn) if (!seen.has(n)) { cur.section.remove(); drawn.delete(n); }
    let empty = main.querySelector('p.empty');
    if (!list.length && !empty) { empty = el('p', { class: 'empty' }, main); empty.textContent = 'no slices'; }
    if (list.length && empty) empty.remove();
    status.className = '';
    status.textContent = `${list.length} slice${list.length === 1 ? '' : 's'}, updated ${new Date(now).toLocaleTimeString()}`;
    document.body.dataset.updated = String(now);
  } catch (e) {
    status.className = 'error';
    status.textContent = String(e.message || e);
  } finally {
    busy = false;
  }
}

async function start() {
  document.getElementById('info-close').addEventListener('click', () => { document.getElementById('info').hidden = true; });
  try {
    const n = await get('api/node');
    document.getElementById('node').textContent = 'node ' + n.name;
    document.title = 'trellis: ' + n.name;
  } catch (e) { /* tick() reports it */ }
  await tick();
  setInterval(tick, 1000);
}

start();
