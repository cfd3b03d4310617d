// The dashboard's page: polls /api/state, keeps the samples, draws the chart.
// Nothing here comes from the network but the dashboard's own answers.
'use strict';

const LEFT = 70, RIGHT = 20, TOP = 56, BOTTOM = 40;
const WINDOW = 60; // seconds of the story the chart shows at most
let seq = 0, chapter = '', samples = [], markers = [], busy = false;

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function nice(v) {
  let p = 1;
  while (p * 10 <= v) p *= 10;
  const m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function draw() {
  const svg = $('chart');
  svg.replaceChildren();
  // One unit of the drawing is one pixel of the screen, at any window size:
  // text is never stretched.
  const W = svg.clientWidth, H = svg.clientHeight;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  if (samples.length === 0) return;
  const tEnd = samples[samples.length - 1][0];
  const tStart = Math.max(0, tEnd - WINDOW);
  const shown = samples.filter((s) => s[0] >= tStart);
  let ymax = 10;
  for (const s of shown) ymax = Math.max(ymax, s[1], s[2]);
  const ystep = nice(ymax / 4);
  ymax = Math.ceil(ymax / ystep) * ystep;
  const span = Math.max(tEnd - tStart, 10);
  const x = (t) => LEFT + (t - tStart) / span * (W - LEFT - RIGHT);
  const y = (v) => H - BOTTOM - v / ymax * (H - TOP - BOTTOM);
  for (let v = 0; v <= ymax; v += ystep) {
    svg.append(el('line', { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), stroke: '#ddd' }));
    svg.append(el('text', { x: LEFT - 8, y: y(v) + 7, 'text-anchor': 'end' }, v));
  }
  const tstep = nice(span / 8);
  for (let t = Math.ceil(tStart / tstep) * tstep; t <= tStart + span; t += tstep)
    svg.append(el('text', { x: x(t), y: H - 12, 'text-anchor': 'middle' }, t + ' s'));
  let row = 0; // successive labels alternate between two lines, so that close ones stay legible
  for (const m of markers) {
    if (m.t < tStart || m.t > tStart + span) continue;
    svg.append(el('line', { x1: x(m.t), x2: x(m.t), y1: TOP - 4, y2: H - BOTTOM,
                            stroke: '#333', 'stroke-dasharray': '3 5', 'stroke-width': 2 }));
    // near the right edge a label ends at its line instead of running off
    const right = x(m.t) > W - 200;
    svg.append(el('text', { x: x(m.t) + (right ? -4 : 4), y: 22 + (row++ % 2) * 24,
                            'text-anchor': right ? 'end' : 'start', class: 'marker' }, m.label));
  }
  const pts = (k) => shown.map((s) => x(s[0]).toFixed(1) + ',' + y(s[k]).toFixed(1)).join(' ');
  // Leaky wide and solid under, fixed narrower and dashed over: where they
  // overlap both stay visible.
  svg.append(el('polyline', { points: pts(1), fill: 'none', stroke: '#c62828', 'stroke-width': 6,
                              id: 'leaky-line' }));
  svg.append(el('polyline', { points: pts(2), fill: 'none', stroke: '#1b7f3b', 'stroke-width': 4,
                              'stroke-dasharray': '14 8', id: 'fixed-line' }));
}

// A dump as one element a line, so that each wraps under its own indent.
function dump(box, text) {
  if (box.dataset.text === text) return;
  box.dataset.text = text;
  box.replaceChildren(...text.replace(/\n$/, '').split('\n').map((line) => {
    const d = document.createElement('div');
    d.textContent = line;
    return d;
  }));
}

function show(state) {
  if (state.chapter !== chapter) {
    chapter = state.chapter;
    samples = [];
    $('chapter').value = chapter.slice(0, 2);
  }
  // The same chapter started again: its clock starts again too.
  if (state.samples.length && samples.length && state.samples[0][0] < samples[samples.length - 1][0])
    samples = [];
  samples.push(...state.samples);
  if (samples.length > 6000) samples.splice(0, samples.length - 6000);
  markers = state.markers;
  seq = state.seq;
  $('scale').textContent = state.scale;
  const last = samples[samples.length - 1];
  if (last) {
    $('leaky-threads').textContent = last[1];
    $('fixed-threads').textContent = last[2];
    $('leaky-cpu').textContent = last[3] + '%';
    $('fixed-cpu').textContent = last[4] + '%';
    $('leaky-rss').textContent = (last[5] / 1024).toFixed(1) + ' MiB';
    $('fixed-rss').textContent = (last[6] / 1024).toFixed(1) + ' MiB';
  }
  dump($('leaky-dump'), state.dumps[0]);
  dump($('fixed-dump'), state.dumps[1]);
  for (const name of ['burst', 'patient', 'incident'])
    $(name).disabled = state[name].running || !state.up;
  const lines = [];
  for (const name of ['burst', 'patient', 'incident']) {
    const a = state[name];
    if (a.running) lines.push(name + ': running…');
    else if (a.result) lines.push(name + ': ' + a.result);
  }
  $('results').textContent = lines.join('\n');
  if (Date.now() > refusedUntil) $('status').textContent = state.switching ? 'starting ' + state.chapter + '…'
    : state.error ? state.error : state.up ? chapter + ' · live' : 'servers down';
  draw();
}

async function poll() {
  try {
    const r = await fetch('/api/state?since=' + seq, { cache: 'no-store' });
    if (r.ok) show(await r.json());
    else $('status').textContent = 'dashboard answered ' + r.status;
  } catch (e) {
    $('status').textContent = 'dashboard not answering';
  }
  setTimeout(poll, 250);
}

// Presses a button; a refusal stays on the page for a few seconds.
let refusedUntil = 0;
async function press(path) {
  const r = await fetch(path, { method: 'POST' });
  if (!r.ok) {
    $('status').textContent = (await r.json()).error;
    refusedUntil = Date.now() + 4000;
  }
  return r.ok;
}

$('burst').onclick = () => press('/api/burst');
$('patient').onclick = () => press('/api/patient');
$('incident').onclick = () => press('/api/incident');
// A refused switch (a button's load still runs) puts the menu back.
$('chapter').onchange = async (e) => {
  if (await press('/api/chapter?nn=' + e.target.value)) return;
  $('chapter').value = chapter.slice(0, 2);
};
poll();
