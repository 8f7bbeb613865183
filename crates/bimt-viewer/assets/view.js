// bimt viewer: the run's graph, timeline and knock-outs, from the data embedded in this page.
// No network, no libraries: plain DOM and SVG.
"use strict";

const D = JSON.parse(document.getElementById("bimt-data").textContent);
const M = D.model;
const LAYERS = M.neuron_layers;
const CONNS = M.connections;
const SVGNS = "http://www.w3.org/2000/svg";
const BLUE = "rgb(0,0,255)";
const RED = "rgb(255,0,0)";
const MIN_LINE_WIDTH = 0.05;

const state = {
  frame: D.frames.length - 1,
  threshold: 0,
  knocked: new Set(), // "layer:neuron"
  zoom: { k: 1, x: 0, y: 0 },
};

// ---------- model structure (as bimt_format::ModelFile reads it) ----------

function roles() {
  let input = 0, output = 0;
  LAYERS.forEach((l, i) => {
    if (l.depth < LAYERS[input].depth) input = i;
    if (l.depth > LAYERS[output].depth) output = i;
  });
  return LAYERS.map((l, i) => l.role || (i === input ? "input" : i === output ? "output" : "hidden"));
}
const ROLES = roles();

function features(l) {
  if (LAYERS[l].features) return LAYERS[l].features;
  if (ROLES[l] === "input") return M.input_features || [];
  if (ROLES[l] === "output") return M.output_features || [];
  return [];
}

function layerActivation(l) {
  const layer = LAYERS[l];
  if (layer.activation) return layer.activation;
  if (ROLES[l] === "input") return "identity";
  const c = CONNS.find((c) => c.to === l);
  if (c && c.activation) return c.activation;
  return ROLES[l] === "output" && (M.format || 1) >= 2 ? "identity" : M.activation;
}

function tokenPositions() {
  if (!M.token_embedding) return 0;
  if (M.token_positions) return M.token_positions;
  let fold = 1;
  CONNS.forEach((c) => { if (ROLES[c.from] === "input") fold = Math.max(fold, c.in_fold || 1); });
  return fold;
}

function topologicalOrder() {
  const indegree = LAYERS.map(() => 0);
  CONNS.forEach((c) => indegree[c.to]++);
  const order = [], ready = [];
  indegree.forEach((d, l) => { if (d === 0) ready.push(l); });
  while (ready.length) {
    const l = ready.shift();
    order.push(l);
    CONNS.forEach((c) => { if (c.from === l && --indegree[c.to] === 0) ready.push(c.to); });
  }
  return order;
}
const ORDER = topologicalOrder();

// ---------- evaluation (a port of bimt_analysis::forward_sequence, in f64) ----------

function erf(x) {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x < 0 ? -y : y;
}

function activate(name, x) {
  switch (name) {
    case "silu": return x / (1 + Math.exp(-x));
    case "gelu": return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "relu": return Math.max(x, 0);
    case "tanh": return Math.tanh(x);
    default: return x;
  }
}

function linear(c, weight, from) {
  const out = new Array(weight.length);
  for (let o = 0; o < weight.length; o++) {
    const row = weight[o];
    let s = 0;
    for (let i = 0; i < row.length && i < from.length; i++) s += row[i] * from[i];
    out[o] = s + (c.bias ? c.bias[o] : 0);
  }
  return out;
}

function outputSide(window, n) {
  const m = n + 2 * window.padding - window.kernel;
  return m < 0 ? null : Math.floor(m / window.stride) + 1;
}

function taps(window, [h, w], y, x) {
  const out = [];
  for (let t = 0; t < window.kernel * window.kernel; t++) {
    const iy = y * window.stride + Math.floor(t / window.kernel) - window.padding;
    const ix = x * window.stride + (t % window.kernel) - window.padding;
    out.push(iy >= 0 && ix >= 0 && iy < h && ix < w ? iy * w + ix : null);
  }
  return out;
}

function convolve(c, weight, window, from, shape) {
  const channels = from.length / (shape[0] * shape[1]);
  const oh = outputSide(window, shape[0]), ow = outputSide(window, shape[1]);
  const outputs = weight.length;
  const values = [];
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const sum = c.bias ? c.bias.slice() : new Array(outputs).fill(0);
      taps(window, shape, y, x).forEach((p, t) => {
        if (p === null) return;
        for (let i = 0; i < channels; i++) {
          const v = from[p * channels + i];
          for (let o = 0; o < outputs; o++) sum[o] += weight[o][t * channels + i] * v;
        }
      });
      values.push(...sum);
    }
  }
  return values;
}

function pool(window, from, channels, shape) {
  const oh = outputSide(window, shape[0]), ow = outputSide(window, shape[1]);
  const max = window.pool === "max";
  const values = [];
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const pixels = taps(window, shape, y, x).filter((p) => p !== null);
      for (let ch = 0; ch < channels; ch++) {
        let v = max ? -Infinity : 0;
        for (const p of pixels) v = max ? Math.max(v, from[p * channels + ch]) : v + from[p * channels + ch];
        values.push(max ? v : v / (window.kernel * window.kernel));
      }
    }
  }
  return values;
}

function addPositions(layer, values) {
  if (!layer.learned_positions) return;
  values.forEach((value, t) => value.forEach((_, q) => { value[q] += layer.learned_positions[t][q]; }));
}

function attend(qkv, size, heads, causal) {
  const d = size / heads;
  const part = (p, kind, h) => qkv[p].slice(kind * size + h * d, kind * size + (h + 1) * d);
  const out = qkv.map(() => new Array(size).fill(0));
  for (let h = 0; h < heads; h++) {
    out.forEach((row, t) => {
      const seen = causal ? t + 1 : qkv.length;
      const q = part(t, 0, h);
      const scores = [];
      for (let s = 0; s < seen; s++) {
        const k = part(s, 1, h);
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[i] * k[i];
        scores.push(dot / Math.sqrt(d));
      }
      const top = Math.max(...scores);
      const weights = scores.map((x) => Math.exp(x - top));
      const total = weights.reduce((a, b) => a + b, 0);
      weights.forEach((w, s) => part(s, 2, h).forEach((v, i) => { row[h * d + i] += (w / total) * v; }));
    });
  }
  return out;
}

// Every layer's values at every position of one sequence xs (rows of data columns).
function forward(weights, xs) {
  const values = LAYERS.map(() => null);
  for (const l of ORDER) {
    const layer = LAYERS[l];
    if (ROLES[l] === "input") {
      const f = features(l), n = f.length;
      let fold = 1;
      CONNS.forEach((c) => { if (c.from === l) fold = Math.max(fold, c.in_fold || 1); });
      if (layer.shape) {
        const pixels = layer.shape[0] * layer.shape[1];
        values[l] = xs.map((x) => {
          const v = new Array(pixels * n);
          for (let i = 0; i < pixels * n; i++) v[i] = x[f[i % n] * pixels + Math.floor(i / n)];
          return v;
        });
        continue;
      }
      values[l] = xs.map((x) => {
        if (M.token_embedding) {
          const P = tokenPositions(), v = new Array(n * P);
          for (let i = 0; i < n * P; i++) v[i] = M.token_embedding[x[Math.floor(i / n)]][i % n];
          return v;
        }
        const v = new Array(n * fold);
        for (let i = 0; i < n * fold; i++) v[i] = x[i - (i % n) + f[i % n]];
        return v;
      });
      addPositions(layer, values[l]);
      continue;
    }
    if (layer.attention) {
      const ci = CONNS.findIndex((c) => c.to === l);
      const qkv = values[CONNS[ci].from].map((v) => linear(CONNS[ci], weights[ci], v));
      values[l] = attend(qkv, layer.size, layer.attention.heads, layer.attention.causal);
      continue;
    }
    const sums = xs.map(() => null);
    CONNS.forEach((c, ci) => {
      if (c.to !== l) return;
      values[c.from].forEach((from, p) => {
        let term;
        if (c.kind === "identity") term = from.slice();
        else if (c.kind === "pool") term = pool(c.window, from, layer.size, LAYERS[c.from].shape);
        else if (c.window) term = convolve(c, weights[ci], c.window, from, LAYERS[c.from].shape);
        else term = linear(c, weights[ci], from);
        if (sums[p] === null) sums[p] = term;
        else term.forEach((t, q) => { sums[p][q] += t; });
      });
    });
    addPositions(layer, sums);
    const a = layerActivation(l);
    values[l] = sums.map((sum) => sum.map((v) => activate(a, v)));
  }
  return values;
}

// The outputs in the original target order, at every position.
function predict(weights, xs) {
  const values = forward(weights, xs);
  const width = Math.max(1, (M.output_features || []).length);
  const outs = xs.map(() => new Array(width).fill(0));
  LAYERS.forEach((_, l) => {
    if (ROLES[l] !== "output") return;
    const f = features(l);
    values[l].forEach((value, p) => value.forEach((v, q) => { outs[p][f[q] !== undefined ? f[q] : q] = v; }));
  });
  return outs;
}

// The weights with everything leaving a knocked-out neuron set to zero (bimt_analysis::knock_out).
function knockedWeights() {
  return CONNS.map((c) => {
    const w = c.weight || [];
    if (!state.knocked.size) return w;
    const n = LAYERS[c.from].size;
    return w.map((row) => row.map((v, i) => (state.knocked.has(c.from + ":" + (i % n)) ? 0 : v)));
  });
}

// The sample's test figure: accuracy (the last largest output is the guess, as Rust's
// max_by picks it) or the mean squared error over outputs and rows.
// The sample's rows as the model reads them (bytes over `scale` divided back in f32).
const SAMPLE_INPUTS = D.sample ? D.sample.inputs.map((row) => (D.sample.scale ? row.map((b) => Math.fround(b / D.sample.scale)) : row)) : [];

function testFigure() {
  const S = D.sample;
  if (!S) return null;
  const weights = knockedWeights();
  let total = 0;
  SAMPLE_INPUTS.forEach((x, r) => {
    if (S.measure === "query_mse") {
      const tokens = [];
      for (let p = 0; p < S.positions; p++) tokens.push(x.slice(p * S.token_dim, (p + 1) * S.token_dim));
      total += (predict(weights, tokens)[S.positions - 1][0] - S.targets[r]) ** 2;
      return;
    }
    const out = predict(weights, [x])[0];
    if (S.measure === "accuracy") {
      let best = 0;
      out.forEach((v, k) => { if (v >= out[best]) best = k; });
      if (best === S.labels[r]) total += 1;
    } else {
      let s = 0;
      out.forEach((v, k) => { s += (v - S.targets[r][k]) ** 2; });
      total += s / out.length;
    }
  });
  return { measure: S.measure, value: total / Math.max(1, SAMPLE_INPUTS.length), rows: SAMPLE_INPUTS.length };
}

function showFigure() {
  const f = testFigure();
  const el = document.getElementById("figure");
  if (!f) { el.textContent = "no test sample in this run"; return; }
  el.dataset.value = String(f.value);
  el.dataset.measure = f.measure;
  const text = f.measure === "accuracy" ? `test accuracy ${(100 * f.value).toFixed(2)} %` : `${f.measure === "query_mse" ? "query" : "test"} MSE ${f.value.toExponential(3)}`;
  el.textContent = `${text} on ${f.rows} test rows` + (state.knocked.size ? ` with ${state.knocked.size} neurons knocked out` : "");
}

// ---------- modules (bimt_analysis::modules, listed by the payload) ----------

const MODULES = D.modules;
const MODULE_OF = new Map();
MODULES.forEach((m, k) => m.forEach(([l, n]) => MODULE_OF.set(l + ":" + n, k)));

// ---------- drawing ----------

const svg = document.getElementById("graph");
const el = (name, attrs) => {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

function position(frame, l, copy, n) {
  const copies = frame.positions[l];
  if (!copies || !copies.length) return null;
  const p = copies[Math.min(copy, copies.length - 1)][n];
  return p || null;
}

// The frame's lines as objects: connection, output and input index, size relative to the
// matrix's largest (signed by the weight's sign).
function frameLines(frame) {
  const flat = frame.lines, out = [];
  for (let k = 0; k + 3 < flat.length; k += 4) out.push({ c: flat[k], o: flat[k + 1], i: flat[k + 2], q: flat[k + 3] / 1000 });
  return out;
}

function drawHeads(frame) {
  const g = document.getElementById("heads");
  g.replaceChildren();
  LAYERS.forEach((layer, l) => {
    const heads = layer.attention && layer.attention.heads;
    if (!heads || heads < 2 || layer.size % heads) return;
    const d = layer.size / heads, r = D.dots[l].radius;
    frame.positions[l].forEach((copy) => {
      for (let h = 0; h < heads; h++) {
        const pts = copy.slice(h * d, (h + 1) * d).filter((p) => p);
        if (!pts.length) continue;
        const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
        const x0 = Math.min(...xs) - r - 1.5, y0 = Math.min(...ys) - r - 2;
        g.appendChild(el("rect", { x: x0, y: y0, width: Math.max(...xs) + r + 1.5 - x0, height: Math.max(...ys) + r + 2 - y0, fill: h % 2 ? "none" : "rgba(0,0,0,0.11)", stroke: "rgb(140,140,140)", "stroke-width": 0.8 }));
      }
    });
  });
}

function drawIdentities(frame) {
  const g = document.getElementById("identities");
  g.replaceChildren();
  CONNS.forEach((c) => {
    if (c.kind !== "identity" && c.kind !== "pool") return;
    for (let n = 0; n < Math.min(LAYERS[c.from].size, LAYERS[c.to].size); n++) {
      const a = position(frame, c.from, 0, n), b = position(frame, c.to, 0, n);
      if (a && b) g.appendChild(el("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: "rgb(150,150,150)", "stroke-width": 0.8 }));
    }
  });
}

let drawnLines = [];
function drawWeights(frame) {
  const g = document.getElementById("weights");
  g.replaceChildren();
  const lines = frameLines(frame).filter((line) => Math.abs(line.q) >= state.threshold && D.max_line_width * Math.abs(line.q) >= MIN_LINE_WIDTH);
  lines.sort((a, b) => Math.abs(a.q) - Math.abs(b.q));
  drawnLines = [];
  const fragment = document.createDocumentFragment();
  for (const line of lines) {
    const c = CONNS[line.c];
    const nf = LAYERS[c.from].size, nt = LAYERS[c.to].size;
    const a = position(frame, c.from, Math.floor(line.i / nf), line.i % nf);
    const b = position(frame, c.to, Math.floor(line.o / nt), line.o % nt);
    if (!a || !b) continue;
    const e = el("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: line.q > 0 ? BLUE : RED, "stroke-width": D.max_line_width * Math.abs(line.q), class: "weight" });
    e.dataset.index = String(drawnLines.length);
    if (state.knocked.has(c.from + ":" + (line.i % nf))) e.classList.add("faded");
    drawnLines.push(line);
    fragment.appendChild(e);
  }
  g.appendChild(fragment);
  const counts = document.getElementById("counts");
  const capped = frame.candidates > frame.lines.length / 4 ? ` (the ${frame.lines.length / 4} strongest of ${frame.candidates} kept)` : "";
  counts.textContent = `${LAYERS.reduce((s, l) => s + l.size, 0)} neurons, ${drawnLines.length} weights drawn${capped}`;
  counts.dataset.weights = String(drawnLines.length);
  counts.dataset.lines = String(frame.candidates);
}

// Whether a neuron sits elsewhere than at the frame before (a swap moved it in between).
function moved(l, k, n, p) {
  if (state.frame === 0) return false;
  const before = D.frames[state.frame - 1].positions[l];
  const q = before && before[k] && before[k][n];
  return !!q && (Math.abs(q[0] - p[0]) > 0.5 || Math.abs(q[1] - p[1]) > 0.5);
}

function drawNeurons(frame) {
  const g = document.getElementById("neurons");
  g.replaceChildren();
  const fragment = document.createDocumentFragment();
  let swapped = 0;
  LAYERS.forEach((layer, l) => {
    frame.positions[l].forEach((copy, k) => copy.forEach((p, n) => {
      if (!p) return;
      const e = el("circle", { cx: p[0], cy: p[1], r: Math.max(D.dots[l].radius, 1), fill: D.dots[l].colour, class: "neuron" });
      e.dataset.layer = String(l);
      e.dataset.neuron = String(n);
      e.dataset.copy = String(k);
      if (state.knocked.has(l + ":" + n)) e.classList.add("out");
      if (moved(l, k, n, p)) { e.classList.add("moved"); swapped += k === 0 ? 1 : 0; }
      fragment.appendChild(e);
    }));
  });
  g.appendChild(fragment);
  const note = document.getElementById("moved");
  note.textContent = state.frame ? `${swapped} neurons moved since the frame before (ringed)` : "";
  note.dataset.moved = String(swapped);
}

function draw() {
  const frame = D.frames[state.frame];
  drawHeads(frame);
  drawIdentities(frame);
  drawWeights(frame);
  drawNeurons(frame);
  const label = document.getElementById("timeline-value");
  label.textContent = `${frame.step} (${state.frame + 1} of ${D.frames.length})`;
  drawMarker(frame.step);
}

// ---------- details under the pointer ----------

function coordsText(l, n) {
  const c = LAYERS[l].coords[n];
  return c ? "(" + c.map((v) => v.toFixed(3)).join(", ") + ")" : "";
}

function neuronName(l, n) {
  const f = features(l);
  const names = ROLES[l] === "input" ? M.input_names : ROLES[l] === "output" ? M.output_names : null;
  const feature = f[n] !== undefined && names && names[f[n]] !== undefined ? ` · ${names[f[n]]}` : "";
  return `${LAYERS[l].name}[${n}]${feature}`;
}

// The distance a weight spans under the run's cost (bimt_analysis::connection_cost's).
function distance(c, o, i) {
  const spec = M.cost, from = LAYERS[c.from], to = LAYERS[c.to];
  const a = from.coords[i % from.size], b = to.coords[o % to.size];
  if (!a || !b || (spec.metric !== "l1" && spec.metric !== "l2")) return null;
  const local = spec.last_layer_distance || ROLES[c.to] !== "output";
  const dz = spec.y_star * Math.abs(to.depth - from.depth);
  const dx = a.map((p, k) => (local ? spec.a * (b[k] - p) : 0));
  return spec.metric === "l2" ? Math.sqrt(dx.reduce((s, v) => s + v * v, 0) + dz * dz) : dx.reduce((s, v) => s + Math.abs(v), 0) + dz;
}

function metricsAbout(l, n) {
  const s = D.metrics && D.metrics.structure;
  if (!s) return [];
  const name = LAYERS[l].name, out = [];
  // Any list in the structure report naming this neuron ("layer[n]" or {layer, neuron}).
  const visit = (v, path) => {
    if (Array.isArray(v)) v.forEach((x, k) => visit(x, path + "[" + k + "]"));
    else if (v && typeof v === "object") {
      if ((v.layer === name || v.layer === l) && v.neuron === n) out.push(path + ": " + JSON.stringify(v));
      else Object.entries(v).forEach(([k, x]) => visit(x, path ? path + "." + k : k));
    } else if (typeof v === "string" && v === `${name}[${n}]`) out.push(path);
  };
  visit(s, "");
  return out.slice(0, 8);
}

function showNeuron(l, n) {
  const incoming = [], outgoing = [];
  CONNS.forEach((c, ci) => {
    if (c.kind !== "linear" || !c.weight) return;
    const nf = LAYERS[c.from].size, nt = LAYERS[c.to].size;
    if (c.to === l) c.weight.forEach((row, o) => { if (o % nt === n) row.forEach((w, i) => { if (w) incoming.push([neuronName(c.from, i % nf), w]); }); });
    if (c.from === l) c.weight.forEach((row, o) => row.forEach((w, i) => { if (i % nf === n && w) outgoing.push([neuronName(c.to, o % nt), w]); }));
  });
  const top = (list) => list.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 12).map(([who, w]) => `<tr><td>${who}</td><td>${w.toExponential(2)}</td></tr>`).join("");
  const module = MODULE_OF.has(l + ":" + n) ? `module ${MODULE_OF.get(l + ":" + n) + 1} of ${MODULES.length}` : "in no module";
  const about = metricsAbout(l, n).map((t) => `<li>${escapeHtml(t)}</li>`).join("");
  document.getElementById("info").innerHTML =
    `<p><b>${escapeHtml(neuronName(l, n))}</b><br>layer ${escapeHtml(LAYERS[l].name)} (${ROLES[l]}), neuron ${n}, at ${coordsText(l, n)}, depth ${LAYERS[l].depth}<br>${module}</p>` +
    `<h3>incoming weights (${incoming.length})</h3><table class="incoming">${top(incoming)}</table>` +
    `<h3>outgoing weights (${outgoing.length})</h3><table class="outgoing">${top(outgoing)}</table>` +
    (about ? `<h3>in metrics.json</h3><ul>${about}</ul>` : "");
  document.getElementById("info").dataset.incoming = String(incoming.length);
}

function showWeight(line) {
  const c = CONNS[line.c];
  const nf = LAYERS[c.from].size, nt = LAYERS[c.to].size;
  const maps = LAYERS[c.from].shape;
  let value;
  if (maps) {
    let s = 0, a = 0, taps = 0;
    c.weight[line.o].forEach((w, i) => { if (i % nf === line.i) { s += w; a += Math.abs(w); taps++; } });
    value = `Σw ${s.toExponential(3)}, Σ|w| ${a.toExponential(3)} over ${taps} taps`;
  } else value = `w ${c.weight[line.o][line.i].toExponential(3)}`;
  const d = distance(c, line.o, line.i % nf);
  document.getElementById("info").innerHTML =
    `<p><b>${escapeHtml(neuronName(c.from, line.i % nf))} → ${escapeHtml(neuronName(c.to, line.o % nt))}</b><br>${value} (final model)<br>` +
    `${(100 * Math.abs(line.q)).toFixed(1)} % of its matrix's largest at this step<br>` +
    (d === null ? "" : `distance spanned ${d.toFixed(4)}`) + "</p>";
}

function escapeHtml(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

let hovered = null;
svg.addEventListener("mouseover", (ev) => {
  const t = ev.target;
  if (hovered) hovered.classList.remove("hover");
  hovered = null;
  if (t.classList.contains("neuron")) { showNeuron(+t.dataset.layer, +t.dataset.neuron); hovered = t; }
  else if (t.classList.contains("weight")) { showWeight(drawnLines[+t.dataset.index]); hovered = t; }
  if (hovered) hovered.classList.add("hover");
});

svg.addEventListener("click", (ev) => {
  const t = ev.target;
  if (!t.classList.contains("neuron") || dragged) return;
  const key = t.dataset.layer + ":" + t.dataset.neuron;
  if (state.knocked.has(key)) state.knocked.delete(key); else state.knocked.add(key);
  knockoutsChanged();
});

// ---------- knock-outs ----------

function knockoutsChanged() {
  document.querySelectorAll("#modules button").forEach((b, k) => {
    b.classList.toggle("out", MODULES[k].every(([l, n]) => state.knocked.has(l + ":" + n)));
  });
  draw();
  showFigure();
}

function buildModules() {
  const box = document.getElementById("modules");
  if (!MODULES.length) box.textContent = "No modules at the visibility threshold.";
  MODULES.forEach((m, k) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `module ${k + 1} (${m.length} neurons)`;
    b.dataset.module = String(k);
    b.addEventListener("click", () => {
      const all = m.every(([l, n]) => state.knocked.has(l + ":" + n));
      m.forEach(([l, n]) => (all ? state.knocked.delete(l + ":" + n) : state.knocked.add(l + ":" + n)));
      knockoutsChanged();
    });
    box.appendChild(b);
  });
  document.getElementById("clear-knockouts").addEventListener("click", () => { state.knocked.clear(); knockoutsChanged(); });
}

// ---------- zoom and pan ----------

let drag = null, dragged = false;
function applyZoom() {
  const z = state.zoom;
  document.getElementById("viewport").setAttribute("transform", `translate(${z.x},${z.y}) scale(${z.k})`);
}
svg.setAttribute("viewBox", `0 0 ${D.width} ${D.height}`);
svg.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  const box = svg.getBoundingClientRect();
  const scale = Math.min(box.width / D.width, box.height / D.height);
  const px = (ev.clientX - box.left - (box.width - D.width * scale) / 2) / scale;
  const py = (ev.clientY - box.top - (box.height - D.height * scale) / 2) / scale;
  const f = Math.exp(-ev.deltaY * 0.0015), z = state.zoom;
  const k = Math.min(40, Math.max(0.5, z.k * f));
  z.x = px - ((px - z.x) * k) / z.k;
  z.y = py - ((py - z.y) * k) / z.k;
  z.k = k;
  applyZoom();
}, { passive: false });
svg.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, zx: state.zoom.x, zy: state.zoom.y }; dragged = false; });
window.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  const box = svg.getBoundingClientRect();
  const scale = Math.min(box.width / D.width, box.height / D.height);
  const dx = (ev.clientX - drag.x) / scale, dy = (ev.clientY - drag.y) / scale;
  if (Math.abs(dx) + Math.abs(dy) > 3) { dragged = true; svg.classList.add("dragging"); }
  if (dragged) { state.zoom.x = drag.zx + dx; state.zoom.y = drag.zy + dy; applyZoom(); }
});
window.addEventListener("pointerup", () => { drag = null; svg.classList.remove("dragging"); setTimeout(() => { dragged = false; }, 0); });
document.getElementById("reset-view").addEventListener("click", () => { state.zoom = { k: 1, x: 0, y: 0 }; applyZoom(); });

// ---------- curves and timeline ----------

const curves = document.getElementById("curves");
let xOf = null;
function drawCurves() {
  const log = D.log || [];
  if (!log.length) return;
  const W = 1000, H = 120, pad = 30;
  curves.setAttribute("viewBox", `0 0 ${W} ${H}`);
  curves.setAttribute("preserveAspectRatio", "none");
  const steps = log.map((e) => e.step);
  const last = Math.max(...steps, ...D.frames.map((f) => f.step), 1);
  xOf = (s) => pad + ((W - 2 * pad) * s) / last;
  const series = [["train_loss", "#1f77b4"], ["test_loss", "#ff7f0e"], ["connection_cost", "#2ca02c"]];
  series.forEach(([key, colour], k) => {
    const pts = log.filter((e) => e[key] > 0).map((e) => [e.step, Math.log10(e[key])]);
    if (!pts.length) return;
    const lo = Math.min(...pts.map((p) => p[1])), hi = Math.max(...pts.map((p) => p[1]));
    const yOf = (v) => H - 12 - ((H - 24) * (v - lo)) / Math.max(hi - lo, 1e-9);
    curves.appendChild(el("polyline", { class: "curve", stroke: colour, points: pts.map(([s, v]) => `${xOf(s)},${yOf(v)}`).join(" ") }));
    const t = el("text", { x: pad + 160 * k, y: 10, "font-size": 10, fill: colour });
    t.textContent = key.replace(/_/g, " ") + " (log, own scale)";
    curves.appendChild(t);
  });
  curves.appendChild(el("line", { id: "marker", class: "marker", x1: 0, x2: 0, y1: 12, y2: H }));
}
function drawMarker(step) {
  const m = document.getElementById("marker");
  if (m && xOf) { m.setAttribute("x1", xOf(step)); m.setAttribute("x2", xOf(step)); }
}

const timeline = document.getElementById("timeline");
timeline.max = String(D.frames.length - 1);
timeline.value = String(state.frame);
timeline.addEventListener("input", () => { state.frame = +timeline.value; draw(); });
const threshold = document.getElementById("threshold");
const thresholdLabel = () => { document.getElementById("threshold-value").textContent = `${(100 * state.threshold).toFixed(1)} %`; };
threshold.addEventListener("input", () => { state.threshold = +threshold.value; thresholdLabel(); drawWeights(D.frames[state.frame]); });

// ---------- start ----------

document.getElementById("title").textContent = D.title;
document.getElementById("background").innerHTML = D.background;
drawCurves();
buildModules();
thresholdLabel();
draw();
showFigure();
document.body.dataset.ready = "true";
