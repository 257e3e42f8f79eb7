// tagmap's map page (served by `tagmap serve` at /; docs/map.md). Plain ES module over
// deck.gl's standalone bundle (global `deck`, loaded by index.html from this folder) and
// the JSON API of docs/api.md. Points go to the GPU as binary attributes (Float32Array
// positions, Uint8Array colours, a Float32Array visibility filter): no per-point objects
// or DOM, and picking is deck.gl's GPU picking by index.
import * as core from './mapcore.js';
import * as curves from './curves.js';

const deckgl_ns = window.deck;
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style') e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
};

// ---------------------------------------------------------------------------------------
// API access: every failure becomes an ApiError carrying the server's {"error","detail"}.

class ApiError extends Error {
  constructor(status, code, detail) {
    super(`${code}: ${detail}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

async function api(path, init) {
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the tagmap server (${e.message})`);
  }
  if (res.status >= 400) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}`,
      (body && body.detail) || res.statusText || 'request failed');
  }
  return res;
}
const apiJson = async (path) => (await api(path)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function showError(err, context) {
  const text = err instanceof ApiError
    ? `${context ? context + ': ' : ''}${err.detail} (${err.code}${err.status ? ', HTTP ' + err.status : ''})`
    : `${context ? context + ': ' : ''}${err && err.message ? err.message : err}`;
  $('#error-text').textContent = text;
  $('#error').hidden = false;
  tagmap.errors.push(text);
}
$('#error-close').addEventListener('click', () => { $('#error').hidden = true; });

function setStatus(text) {
  $('#status').hidden = !text;
  $('#status').textContent = text || '';
}

// ---------------------------------------------------------------------------------------
// State

const S = core.parseState(location.hash);   // what the URL holds
let palette = { categorical: ['#4e79a7'], unlabeled: '#c0c0c0' };
let routes = [];                              // /api/v1/ route list (feature detection)
let models = [];                              // /api/v1/models
const trackCache = new Map();                 // model -> { byId: Map, total, done }
let busy = 0;                                 // loads in flight (tests wait for 0)
let generation = 0;                           // bumps on every map change
let viewState = null;
let lassoMode = false;
let cardFor = -1;                             // the hovered point (card, highlight)
let frames = 0, renderedSinceChange = false, coloredPending = false;
// Maps of more than LOD.threshold points load an overview and refine the view (below).
const LOD = core.lodOptions(location.search);
const detailCache = new Map();                // model -> Map(id -> track): large maps' loaded points

const data = {                                // the map on screen
  key: '', n: 0, dims: 2,
  ids: new Float64Array(0), index: new Map(),
  positions: new Float32Array(0),             // n x 3 (z = 0 in 2D)
  bounds: null,
  tracks: [],                                 // aligned with the points (or null)
  colors: new Uint8Array(0), filter: new Float32Array(0), cat: new Int32Array(0),
  legend: [], clusters: null, scale: null,
  pointData: null,
  selection: [],                              // lasso: point indices
  selectionData: null,
  lod: null,                                  // large maps: { overview, refine, extra, ... }
};
const player = { id: null, history: [], pos: -1, neighbors: [], chunks: null, chunkIndex: -1 };

// Test and benchmark hooks (read-only views of the page's state).
const tagmap = {
  errors: [],
  timings: {},
  lastCard: null,
  get state() { return JSON.parse(JSON.stringify(S)); },
  get viewState() { return viewState && JSON.parse(JSON.stringify(viewState)); },
  get frames() { return frames; },
  get busy() { return busy; },
  get mapKey() { return data.key; },
  get count() { return data.n; },
  /** Large maps: the whole map's size, what is loaded and the last refined box. */
  get lod() {
    const l = data.lod;
    return l && { total: l.total, overview: l.overview.n, refined: l.refine ? l.refine.n : 0,
      shown: l.refineShown ? l.refineShown.n : 0, view: l.fadeView, margin: REFINE_MARGIN,
      extra: l.extra.reduce((a, x) => a + x.n, 0), loaded: data.n, box: l.box, complete: l.complete, refines: l.refines };
  },
  get legend() { return data.legend.map(({ key, label, count }) => ({ key, label, count })); },
  get selection() { return data.selection.map((i) => data.ids[i]); },
  get playing() { return player.id; },
  get chunkIndex() { return player.chunkIndex; },
  get chunkStarts() { return player.chunks ? player.chunks.list.map((c) => c.start) : []; },
  positionOf(id) {
    const i = data.index.get(id);
    return i == null ? null : Array.from(data.positions.subarray(i * 3, i * 3 + 3));
  },
  /** Client (page) coordinates of a track's point, through deck.gl's viewport. */
  screenOf(id) {
    const p = this.positionOf(id);
    const vp = deckgl && deckgl.getViewports()[0];
    if (!p || !vp) return null;
    const [x, y] = vp.project(p);
    const r = $('#map').getBoundingClientRect();
    return { x: r.left + x, y: r.top + y };
  },
  /** Client coordinates of the drawn chunk path's points (it is drawn over the map's points). */
  chunkPathOnScreen() {
    const vp = deckgl && deckgl.getViewports()[0];
    const ch = player.chunks;
    if (!vp || !ch || ch.trackId !== player.id) return [];
    const r = $('#map').getBoundingClientRect();
    return ch.path.map((p) => { const [x, y] = vp.project(p); return { x: r.left + x, y: r.top + y }; });
  },
  layerIds() { return deckgl.props.layers.map((l) => l.id); },
  select(id) { return selectTrack(id); },
  allPositions() {
    const o = {};
    data.ids.forEach((id, i) => { o[id] = Array.from(data.positions.subarray(i * 3, i * 3 + 3)); });
    return o;
  },
  canvasRect() { const r = $('#map').getBoundingClientRect(); return { left: r.left, top: r.top, width: r.width, height: r.height }; },
  /** The map canvas's CSS size and drawing-buffer size (a layout shift changes them). */
  canvasSize() { const c = mapCanvas(); return { width: c.clientWidth, height: c.clientHeight, bufferWidth: c.width, bufferHeight: c.height }; },
  /** How many loaded, shown points have their centre inside the map's canvas. */
  visibleCount() {
    const vp = deckgl && deckgl.getViewports()[0];
    if (!vp) return 0;
    const [w, h] = canvasSize();
    let k = 0;
    for (let i = 0; i < data.n; ++i) {
      if (!(data.filter[i] > 0)) continue;
      const [x, y] = vp.project(data.positions.subarray(i * 3, i * 3 + 3));
      if (x >= 0 && x < w && y >= 0 && y < h) ++k;
    }
    return k;
  },
  pointRadius() { return pointRadius(); },
  /** Resolves when no load is in flight and a frame was drawn after the last change. */
  async idle(timeoutMs = 30000) {
    const t0 = performance.now();
    const settled = () => busy === 0 && (renderedSinceChange ||
      // a render() whose layers changed nothing draws no frame
      (performance.now() - lastRender > 200 && !deckgl.needsRedraw({ clearRedrawFlags: false })));
    while (!settled()) {
      if (performance.now() - t0 > timeoutMs) throw new Error('page did not settle');
      await sleep(25);
    }
  },
};
window.tagmap = tagmap;

let urlTimer = null;
let lastHash = '';
function writeUrl(now = false) {
  clearTimeout(urlTimer);
  const go = () => {
    S.cam = viewState ? core.camFromViewState(viewState, S.dims) : null;
    lastHash = core.formatState(S);
    history.replaceState(null, '', '#' + lastHash);
  };
  if (now) go(); else urlTimer = setTimeout(go, 250);
}

// ---------------------------------------------------------------------------------------
// deck.gl: one Deck, one code path for both views. 2D = OrthographicView (y up),
// 3D = OrbitView; positions are always x, y, z (z = 0 in 2D).

function makeView(dims, controller) {
  return dims === 3
    ? new deckgl_ns.OrbitView({ id: 'map', orbitAxis: 'Z', fovy: 50, controller })
    : new deckgl_ns.OrthographicView({ id: 'map', flipY: false, controller });
}

// One Deck, one canvas. The points layer keeps its props (binary attributes) between frames:
// hover, selection, chunk path and labels are small layers of their own, so a hover
// changes a one-point layer and never re-uploads the points. (Drawing the points on a
// canvas of their own and the marks on a second one was tried: under software WebGL the
// second context made the first frame of 100k points three times slower.)
let pointsDirty = false, overlayDirty = false;
const settleFrame = () => { renderedSinceChange = !pointsDirty && !overlayDirty; };
let pointsFrameWaiters = [];
/** Resolves after the next frame that draws the points (at once when none is pending). */
function pointsFrame() {
  if (!pointsDirty) return Promise.resolve();
  return new Promise((resolve) => pointsFrameWaiters.push(resolve));
}
const deckgl = new deckgl_ns.Deck({
  parent: $('#map'),
  views: makeView(S.dims, true),
  viewState: { target: [0, 0, 0], zoom: 0 },
  layers: [],
  onViewStateChange: ({ viewState: vs }) => { setViewState(vs); },
  onAfterRender: () => {
    ++frames;
    pointsDirty = overlayDirty = false;
    settleFrame();
    const waiters = pointsFrameWaiters;
    pointsFrameWaiters = [];
    waiters.forEach((w) => w());
    if (data.n && tagmap.timings.firstPoints == null) tagmap.timings.firstPoints = performance.now();
    if (data.n && coloredPending) { coloredPending = false; tagmap.timings.colored = performance.now(); }
  },
  onError: (e) => showError(e, 'rendering'),
  getCursor: ({ isDragging }) => (isDragging ? 'grabbing' : cardFor >= 0 ? 'pointer' : 'grab'),
});
// The canvas sits below the page's overlays (lasso, card, status).
// (deck.gl's canvas, a child of #map; the curves' canvases are deeper inside it.)
const mapCanvas = () => $('#map > canvas');
$('#map').prepend(mapCanvas());
function setViews(dims) {
  deckgl.setProps({ views: makeView(dims, true) });
}

function setViewState(vs) {
  viewState = vs;
  deckgl.setProps({ viewState: vs });
  pointsDirty = overlayDirty = true;
  renderedSinceChange = false;
  if (!(vs.transitionDuration > 0)) writeUrl();
  hideCard();
  scheduleRefine();
}

function canvasSize() {
  const m = $('#map');
  return [m.clientWidth || 800, m.clientHeight || 600];
}

function fitView(animate = false) {
  if (!data.n) return;
  const [w, h] = canvasSize();
  const vs = core.fitViewState(data.bounds, S.dims, w, h);
  setViewState(animate
    ? { ...vs, transitionDuration: 500, transitionInterpolator: new deckgl_ns.LinearInterpolator(['target', 'zoom']) }
    : vs);
}

function pointRadius() {
  const n = data.n;
  return n <= 50 ? 7 : n <= 2000 ? 4 : n <= 20000 ? 2.5 : 1.6;
}

/** 3D: the map's bounding box as a light wireframe (depth cue while orbiting). */
function boxLayer() {
  const { min: a, max: b } = data.bounds;
  const c = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => [k & 1 ? b[0] : a[0], k & 2 ? b[1] : a[1], k & 4 ? b[2] : a[2]]);
  const edges = [[0, 1], [2, 3], [4, 5], [6, 7], [0, 2], [1, 3], [4, 6], [5, 7], [0, 4], [1, 5], [2, 6], [3, 7]];
  return new deckgl_ns.LineLayer({
    id: 'box', data: edges, getSourcePosition: (e) => c[e[0]], getTargetPosition: (e) => c[e[1]],
    getColor: [0, 0, 0, 40], widthUnits: 'pixels', getWidth: 1, updateTriggers: { getSourcePosition: data.key, getTargetPosition: data.key },
  });
}

let lastRender = 0;
let pointsDrawn = null;   // the pointData (and dims) of pointsLayers
let pointsLayers = [];    // the box (3D) and the points: rebuilt only when they change
function render() {
  renderedSinceChange = false;
  lastRender = performance.now();
  const layers = [];
  const three = S.dims === 3;
  const overlay = { depthCompare: 'always' };  // drawn over the points in 3D too
  if (pointsDrawn !== data.pointData || (pointsDrawn && pointsDrawn.dims !== data.dims)) {
    const base = [];
    if (three && data.n) base.push(boxLayer());
    if (data.n) {
      base.push(new deckgl_ns.ScatterplotLayer({
        id: 'points',
        data: data.pointData,
        radiusUnits: 'pixels',
        getRadius: 1,
        radiusScale: pointRadius(),
        billboard: three,
        pickable: false,   // picked on the CPU (pickAt)
        extensions: [new deckgl_ns.DataFilterExtension({ filterSize: 1 })],
        filterRange: [0.5, 1.5],
      }));
    }
    pointsDrawn = data.pointData;
    if (pointsDrawn) pointsDrawn.dims = data.dims;
    pointsDirty = true;
    pointsLayers = base;
  }
  if (cardFor >= 0 && cardFor < data.n) {
    layers.push(new deckgl_ns.ScatterplotLayer({
      id: 'hover', data: [cardFor], getPosition: (i) => data.positions.subarray(i * 3, i * 3 + 3),
      radiusUnits: 'pixels', getRadius: pointRadius() + 2.5, stroked: true, filled: true,
      getFillColor: [0, 0, 0, 110], lineWidthUnits: 'pixels', getLineWidth: 1.5,
      getLineColor: [0, 0, 0, 230], billboard: three, parameters: overlay,
      updateTriggers: { getPosition: [data.key, cardFor] },
    }));
  }
  if (data.selectionData) {
    layers.push(new deckgl_ns.ScatterplotLayer({
      id: 'lasso-selection', data: data.selectionData, radiusUnits: 'pixels', getRadius: 1,
      radiusScale: pointRadius() + 2.5, stroked: true, filled: false, lineWidthUnits: 'pixels',
      getLineWidth: 1.5, getLineColor: [20, 20, 20, 220], billboard: three, parameters: overlay,
    }));
  }
  if (player.chunks && player.chunks.trackId === player.id && player.chunks.path.length) {
    const ch = player.chunks;
    layers.push(new deckgl_ns.PathLayer({
      id: 'chunk-path', data: [{ path: ch.path }], getPath: (d) => d.path,
      getColor: [40, 40, 40, 200], widthUnits: 'pixels', getWidth: 2, billboard: three,
      jointRounded: true, capRounded: true, parameters: overlay,
    }));
    layers.push(new deckgl_ns.ScatterplotLayer({
      id: 'chunk-points', data: ch.path, getPosition: (p) => p, radiusUnits: 'pixels',
      getRadius: 2.5, getFillColor: [40, 40, 40, 220], billboard: three, parameters: overlay,
    }));
    if (player.chunkIndex >= 0 && ch.path[player.chunkIndex]) {
      layers.push(new deckgl_ns.ScatterplotLayer({
        id: 'chunk-now', data: [ch.path[player.chunkIndex]], getPosition: (p) => p,
        radiusUnits: 'pixels', getRadius: 7, getFillColor: [255, 255, 255, 255], stroked: true,
        lineWidthUnits: 'pixels', getLineWidth: 3, getLineColor: [225, 87, 89, 255],
        billboard: three, parameters: overlay,
        updateTriggers: { getPosition: player.chunkIndex },
      }));
    }
  }
  const sel = S.track != null ? data.index.get(S.track) : undefined;
  if (sel != null) {
    layers.push(new deckgl_ns.ScatterplotLayer({
      id: 'selected', data: [sel], getPosition: (i) => data.positions.subarray(i * 3, i * 3 + 3),
      radiusUnits: 'pixels', getRadius: pointRadius() + 5, stroked: true, filled: false,
      lineWidthUnits: 'pixels', getLineWidth: 3, getLineColor: [20, 20, 20, 255],
      billboard: three, parameters: overlay, updateTriggers: { getPosition: data.key },
    }));
  }
  if (S.color === 'cluster' && data.clusters) {
    layers.push(new deckgl_ns.TextLayer({
      id: 'cluster-labels', data: data.clusters.labels, getPosition: (d) => d.position,
      getText: (d) => d.text, getSize: 12, sizeUnits: 'pixels', getColor: [30, 30, 30, 255],
      background: true, getBackgroundColor: [255, 255, 255, 215], backgroundPadding: [4, 2],
      fontFamily: 'DejaVu Sans, system-ui, sans-serif', characterSet: 'auto',
      getTextAnchor: 'middle', getAlignmentBaseline: 'center', billboard: true, parameters: overlay,
      updateTriggers: { getText: data.clusters.version },
    }));
  }
  overlayDirty = true;
  deckgl.setProps({ layers: [...pointsLayers, ...layers] });
}

// ---------------------------------------------------------------------------------------
// Loading: models, tracks (paged, per model: the top tags are the model's), maps (f32).

async function loadTracks(model) {
  let entry = trackCache.get(model);
  if (entry) return entry.promise;
  entry = { byId: new Map(), total: 0, done: false };
  trackCache.set(model, entry);
  if (routes.includes('summary')) {
    // One request for the whole library (names, genres, top tags in columns); a track's
    // other details are fetched when it is selected (entries are `partial`).
    entry.promise = (async () => {
      ++busy;
      try {
        const j = await apiJson(`/api/v1/summary?model=${encodeURIComponent(model)}`);
        const k = j.n;
        for (let i = 0; i < j.count; ++i) {
          const top = [];
          for (let r = 0; r < k; ++r) {
            const ti = j.top_tags[i * k + r];
            if (ti >= 0) top.push({ tag: j.tag_names[ti] ?? `tag${ti}`, score: j.top_scores[i * k + r] });
          }
          const g = j.genre[i];
          entry.byId.set(j.ids[i], { id: j.ids[i], name: j.names[i], genre: g >= 0 ? j.genres[g] : null, top_tags: top, partial: true });
        }
        entry.total = j.count;
        entry.done = true;
        if (S.model === model) { recolor(); updateInfo(); }
      } catch (e) {
        trackCache.delete(model);
        throw e;
      } finally {
        --busy;
      }
      return entry;
    })();
    return entry.promise;
  }
  const page = 1000;
  const fetchPage = async (offset) => {
    const j = await apiJson(`/api/v1/tracks?model=${encodeURIComponent(model)}&offset=${offset}&limit=${page}`);
    for (const t of j.tracks) entry.byId.set(t.id, t);
    entry.total = j.total;
    // Large maps are recoloured once, when the list is complete: every recolouring
    // re-uploads the colours and redraws, which software WebGL pays for in seconds.
    if (S.model === model && entry.byId.size < entry.total && data.n <= 20000) scheduleRecolor();
    if (S.model === model && entry.byId.size < entry.total)
      $('#info').textContent = `track details ${entry.byId.size.toLocaleString('en')} / ${entry.total.toLocaleString('en')}…`;
    return j;
  };
  entry.promise = (async () => {
    ++busy;
    try {
      const first = await fetchPage(0);
      const offsets = [];
      for (let o = page; o < first.total; o += page) offsets.push(o);
      const workers = Array.from({ length: Math.min(4, offsets.length) }, async () => {
        while (offsets.length) await fetchPage(offsets.shift());
      });
      await Promise.all(workers);
      entry.done = true;
      if (S.model === model) { clearTimeout(recolorTimer); recolorTimer = null; recolor(); updateInfo(); }
    } catch (e) {
      trackCache.delete(model);
      throw e;
    } finally {
      --busy;
    }
    return entry;
  })();
  return entry.promise;
}

function mapKey() {
  return `${S.model}/${S.source}/${S.method}/${S.dims}`;
}

/** GET a map route, waiting while the server computes the map (202); null if the map changed. */
async function mapResponse(path, gen) {
  for (;;) {
    const res = await api(path);
    if (gen !== generation) return null;
    if (res.status === 202) {
      const j = await res.json();
      const p = j.progress || {};
      setStatus(`Computing the ${S.method === 'tsne' ? 't-SNE' : 'UMAP'} ${S.dims}D map of ${S.model} ${S.source}s` +
        ` (${p.state || 'queued'}${p.elapsed_seconds ? ', ' + Math.round(p.elapsed_seconds) + ' s' : ''})…`);
      await sleep(1000 * Math.min(5, Math.max(0.5, j.retry_after_seconds || 1)));
      if (gen !== generation) return null;
      continue;
    }
    return res;
  }
}

/** Large maps: a slice of the level-of-detail order (/api/v1/maps/points, binary). */
async function fetchPoints(gen, params) {
  const q = new URLSearchParams({ model: S.model, source: S.source, method: S.method, dims: String(S.dims), ...params });
  const res = await mapResponse(`/api/v1/maps/points?${q}`, gen);
  if (!res) return null;
  const p = core.decodePoints(await res.arrayBuffer(), res.headers.get('X-Tagmap-Layout'), S.dims);
  p.total = Number(res.headers.get('X-Tagmap-Total'));
  p.bounds = core.parseBounds(res.headers.get('X-Tagmap-Bounds'), S.dims);
  p.inBox = res.headers.has('X-Tagmap-In-Box') ? Number(res.headers.get('X-Tagmap-In-Box')) : null;
  if (gen !== generation) return null;
  return p;
}

async function fetchMap(gen) {
  const q = new URLSearchParams({ model: S.model, source: S.source, method: S.method, dims: String(S.dims), format: 'f32' });
  const res = await mapResponse(`/api/v1/maps?${q}`, gen);
  if (!res) return null;
  const buf = await res.arrayBuffer();
  const dims = S.dims;
  const shape = (res.headers.get('X-Tagmap-Shape') || '').split(',').map(Number);
  const n = shape.length === 2 && Number.isFinite(shape[0]) ? shape[0] : buf.byteLength / (8 + 4 * dims);
  if (!Number.isInteger(n) || buf.byteLength !== n * (8 + 4 * dims))
    throw new Error(`the map's binary form has ${buf.byteLength} bytes, not ${n} x (8 + 4 x ${dims})`);
  const ids64 = new BigInt64Array(buf, 0, n);
  const coords = new Float32Array(buf, n * 8, n * dims);
  return { n, dims, ids: Float64Array.from(ids64, Number), coords };
}

/** Loads the map of the current selectors. keepView: keep the camera (a reload after an upload). */
async function loadMap({ keepView = false, cam = null } = {}) {
  const gen = ++generation;
  const key = mapKey();
  ++busy;
  renderedSinceChange = false;
  try {
    setStatus('Loading the map…');
    // Large maps: the track details (a summary of every track: megabytes of JSON to parse)
    // are fetched once the points are on screen, so they do not delay the first frame.
    let tracksPromise = null;
    const startTracks = () => {
      tracksPromise = tracksPromise || loadTracks(S.model).catch((e) => { showError(e, 'track list'); });
      return tracksPromise;
    };
    if (trackCache.has(S.model)) startTracks();   // already loaded, or loading
    if (routes.includes('maps/points')) {
      // How big is it? Over LOD.threshold points the page loads an overview and refines.
      const probe = await fetchPoints(gen, { limit: '0' });
      if (!probe) return;
      if (probe.total > LOD.threshold) { await loadLargeMap(gen, key, { keepView, cam }); return; }
    }
    const m = await fetchMap(gen);
    if (!m) return;
    data.lod = null;
    if (m.n <= 20000) startTracks();
    const pos = new Float32Array(m.n * 3);
    for (let i = 0; i < m.n; ++i)
      for (let d = 0; d < m.dims; ++d) pos[i * 3 + d] = m.coords[i * m.dims + d];
    const dimsChanged = data.dims !== m.dims;
    data.key = key;
    data.n = m.n;
    data.dims = m.dims;
    data.ids = m.ids;
    data.index = new Map();
    m.ids.forEach((id, i) => data.index.set(id, i));
    data.positions = pos;
    data.bounds = core.bounds(pos, m.n);
    data.clusters = null;
    clearSelection(false);
    if (dimsChanged) setViews(m.dims);
    const restored = cam && core.viewStateFromCam(cam, m.dims);
    if (restored) setViewState(restored);
    else if (!keepView || dimsChanged || !viewState) fitView();
    recolor();
    setStatus(m.n ? '' : 'This map has no points yet.');
    updateInfo();
    if (player.id != null) loadChunks(player.id);
    if (!tracksPromise) {
      await pointsFrame();
      if (gen !== generation) return;
    }
    await startTracks();
  } catch (e) {
    if (gen === generation) { setStatus(''); showError(e, 'map'); }
  } finally {
    --busy;
    if (!data.n) renderedSinceChange = true;
  }
}

/**
 * A map of more than LOD.threshold points: the first LOD.overview points of the server's
 * level-of-detail order (a spatially stratified sample) at once, their details (names,
 * genres, top tags) after the first frame; the 2D view is refined by box queries as the
 * user zooms and pans (refine()). Points fetched by search or fly-to stay loaded.
 */
async function loadLargeMap(gen, key, { keepView, cam }) {
  const ov = await fetchPoints(gen, { limit: String(LOD.overview) });
  if (!ov) return;
  clearTimeout(refineTimer);
  const dimsChanged = data.dims !== ov.dims;
  data.key = key;
  data.dims = ov.dims;
  data.clusters = null;
  data.lod = { key, total: ov.total, bounds: ov.bounds, overview: ov, refine: null, refineShown: null, fadeView: null, extra: [], box: null, complete: false, seq: 0, refines: 0 };
  clearSelection(false);
  setLoadedPoints();
  if (dimsChanged) setViews(ov.dims);
  const restored = cam && core.viewStateFromCam(cam, ov.dims);
  if (restored) setViewState(restored);
  else if (!keepView || dimsChanged || !viewState) fitView();
  recolor();
  setStatus(data.n ? '' : 'This map has no points yet.');
  updateInfo();
  if (player.id != null) loadChunks(player.id);
  await pointsFrame();
  if (gen !== generation) return;
  await loadDetails(gen, { limit: String(LOD.overview) });
  scheduleRefine();
}

/** The loaded points of a large map (overview, then the refined view, then fetched ones). */
function setLoadedPoints() {
  const lod = data.lod;
  const before = data.selection.map((i) => data.ids[i]);
  const m = core.mergePoints([lod.overview, lod.refineShown, ...lod.extra], data.dims);
  data.n = m.n;
  data.ids = m.ids;
  data.index = new Map();
  m.ids.forEach((id, i) => data.index.set(id, i));
  data.positions = m.positions;
  data.bounds = lod.bounds || core.bounds(m.positions, m.n);
  if (data.clusters)   // the overview's clusters; other points join the nearest
    data.clusters.assign = core.assignToCentroids(m.positions, m.n, data.clusters.centroids, data.dims, data.clusters.base);
  if (before.length) setSelection(before.map((id) => data.index.get(id)).filter((i) => i != null));
  if (cardFor >= 0) hideCard();
}

/** Names, genres and top tags of the points of a points query (format=summary). */
async function loadDetails(gen, params) {
  const model = S.model;
  ++busy;
  try {
    const q = new URLSearchParams({ model, source: S.source, method: S.method, dims: String(S.dims), ...params, format: 'summary' });
    const res = await mapResponse(`/api/v1/maps/points?${q}`, gen);
    if (!res) return;
    const j = await res.json();
    let byId = detailCache.get(model);
    if (!byId) detailCache.set(model, (byId = new Map()));
    for (let i = 0; i < j.count; ++i) {
      const top = [];
      for (let r = 0; r < j.n; ++r) {
        const ti = j.top_tags[i * j.n + r];
        if (ti >= 0) top.push({ tag: j.tag_names[ti] ?? `tag${ti}`, score: j.top_scores[i * j.n + r] });
      }
      const g = j.genre[i];
      byId.set(j.ids[i], { id: j.ids[i], name: j.names[i], genre: g >= 0 ? j.genres[g] : null, top_tags: top, partial: true });
    }
    if (gen === generation && S.model === model) { recolor(); coloredPending = true; }
  } catch (e) {
    showError(e, 'track details');
  } finally {
    --busy;
  }
}

// 2D large maps: after the view settles (debounced), the points inside it (with a margin)
// beyond the overview, up to LOD.refine of them, replace the previous refinement. Zoomed out
// (the view shows most of the map) the overview alone is drawn. 3D maps show the overview.
let refineTimer = null;
function scheduleRefine() {
  if (!data.lod || S.dims !== 2) return;
  clearTimeout(refineTimer);
  refineTimer = setTimeout(() => { refineTimer = null; refine(); }, 300);
}

/**
 * The refinement's points that are drawn for the current view (core.refineFade): all of
 * those inside the view, fewer and fewer across the margin around it, so that the refined
 * box blends into the overview instead of showing as a denser rectangle.
 */
function fadeRefinement(lod, view) {
  const r = lod.refine;
  lod.fadeView = view;
  if (!r) { lod.refineShown = null; return; }
  const keep = core.refineFade(r.coords, r.n, view, REFINE_MARGIN);
  const ids = new Float64Array(keep.length), coords = new Float32Array(2 * keep.length);
  keep.forEach((i, j) => { ids[j] = r.ids[i]; coords[2 * j] = r.coords[2 * i]; coords[2 * j + 1] = r.coords[2 * i + 1]; });
  lod.refineShown = { n: keep.length, dims: 2, ids, coords };
}

const REFINE_MARGIN = 0.25;   // the refined box: the view and this share of its size around it
async function refine() {
  const lod = data.lod, gen = generation;
  const vp = deckgl.getViewports()[0];
  if (!lod || lod.key !== data.key || S.dims !== 2 || !vp || !viewState) return;
  const [w, h] = canvasSize();
  const fit = core.fitViewState(lod.bounds, 2, w, h);
  if (viewState.zoom < fit.zoom + 1) {
    if (lod.refine) { lod.refine = lod.refineShown = null; lod.box = null; lod.complete = false; setLoadedPoints(); recolor(); }
    return;
  }
  const corners = [[0, 0], [w, 0], [w, h], [0, h]].map((p) => vp.unproject(p));
  const view = core.viewBox(corners, 0), box = core.viewBox(corners, REFINE_MARGIN);
  if (lod.complete && core.boxContains(lod.box, box)) {   // everything there is loaded: fade it for this view
    if (lod.fadeView && lod.fadeView.some((v, k) => v !== view[k])) { fadeRefinement(lod, view); setLoadedPoints(); recolor(); updateInfo(); }
    return;
  }
  const seq = ++lod.seq;
  const params = { box: box.join(','), after: String(lod.overview.n), limit: String(LOD.refine) };
  ++busy;
  try {
    const r = await fetchPoints(gen, params);
    if (!r || seq !== lod.seq || data.lod !== lod) return;
    lod.refine = r;
    lod.box = box;
    lod.complete = r.inBox != null && r.inBox <= r.n;
    lod.refines++;
    fadeRefinement(lod, view);
    setLoadedPoints();
    recolor();
    updateInfo();
    await pointsFrame();
    tagmap.timings.refined = performance.now();
    if (seq === lod.seq) await loadDetails(gen, params);
  } catch (e) {
    showError(e, 'map detail');
  } finally {
    --busy;
  }
}

/** Makes sure a track's point is loaded (a large map fetches it by id); false if not on the map. */
async function ensureLoaded(id) {
  if (data.index.has(id)) return true;
  const lod = data.lod;
  if (!lod) return false;
  ++busy;
  try {
    const r = await fetchPoints(generation, { ids: String(id) });
    if (!r || data.lod !== lod || !r.n) return data.index.has(id);
    lod.extra.push(r);
    if (lod.extra.length > 100) lod.extra.shift();
    setLoadedPoints();
    recolor();
    return true;
  } finally {
    --busy;
  }
}

function updateInfo() {
  if (data.lod && data.n) {
    $('#info').textContent = `${data.lod.total.toLocaleString('en')} tracks (${data.n.toLocaleString('en')} shown) · ` +
      `${S.model} · ${S.source} · ${S.method === 'tsne' ? 't-SNE' : 'UMAP'} ${S.dims}D`;
    return;
  }
  $('#info').textContent = data.n
    ? `${data.n.toLocaleString('en')} tracks · ${S.model} · ${S.source} · ${S.method === 'tsne' ? 't-SNE' : 'UMAP'} ${S.dims}D`
    : '';
}

// ---------------------------------------------------------------------------------------
// Colours and legend

const tagScoreCache = new Map();   // model \n tag -> { ready, byId }

/** One tag's score for every track, fetched once per model and tag; recolours when it arrives. */
function tagScores(model, tag) {
  const key = `${model}\n${tag}`;
  let e = tagScoreCache.get(key);
  if (e) return e;
  e = { ready: false, byId: new Map() };
  tagScoreCache.set(key, e);
  ++busy;
  apiJson(`/api/v1/tag-scores?model=${encodeURIComponent(model)}&tag=${encodeURIComponent(tag)}`)
    .then((j) => {
      j.ids.forEach((id, i) => e.byId.set(id, j.scores[i]));
      e.ready = true;
      if (S.color === 'tag' && S.model === model && S.tag === tag) recolor();
    })
    .catch((err) => { tagScoreCache.delete(key); showError(err, 'tag scores'); })
    .finally(() => { --busy; });
  return e;
}

let recolorTimer = null;
function scheduleRecolor() {
  if (recolorTimer) return;
  recolorTimer = setTimeout(() => { recolorTimer = null; recolor(); }, 500);
}

const NONE = '~none';

function recolor() {
  const n = data.n;
  const entry = trackCache.get(S.model);
  data.tracks = new Array(n);
  const details = data.lod ? detailCache.get(S.model) : null;
  for (let i = 0; i < n; ++i)
    data.tracks[i] = (entry && entry.byId.get(data.ids[i])) || (details && details.get(data.ids[i])) || null;
  const colors = new Uint8Array(n * 4);
  const cat = new Int32Array(n);
  const grey = core.hexToRgb(palette.unlabeled);
  let legend = [];
  data.scale = null;
  if (S.color === 'genre' || S.color === 'toptag') {
    const vals = data.tracks.map((t) => (!t ? null
      : S.color === 'genre' ? (t.genre || null) : (t.top_tags && t.top_tags[0] ? t.top_tags[0].tag : null)));
    const { sorted, colors: cmap } = core.categoricalColors(palette, vals.filter((v) => v != null));
    legend = sorted.map((k) => ({ key: k, label: k, rgb: cmap.get(k), count: 0 }));
    const idx = new Map(sorted.map((k, j) => [k, j]));
    const none = { key: NONE, label: S.color === 'genre' ? '(unlabelled)' : '(no tags yet)', rgb: grey, count: 0 };
    for (let i = 0; i < n; ++i) {
      const j = vals[i] == null ? -1 : idx.get(vals[i]);
      const e = j >= 0 ? legend[j] : none;
      cat[i] = j >= 0 ? j : sorted.length;
      e.count++;
      colors.set(e.rgb, i * 4);
      colors[i * 4 + 3] = 255;
    }
    if (none.count) legend.push(none);
  } else if (S.color === 'tag') {
    const tag = S.tag;
    const scores = new Float64Array(n).fill(NaN);
    let lo = Infinity, hi = -Infinity;
    // Every track's score of the tag (tag-scores route); older servers: the top 3 tags only.
    const all = routes.includes('tag-scores') ? tagScores(S.model, tag) : null;
    for (let i = 0; i < n; ++i) {
      let v = NaN;
      if (all) {
        v = all.ready ? all.byId.get(data.ids[i]) ?? NaN : NaN;
      } else {
        const t = data.tracks[i];
        const hit = t && t.top_tags ? t.top_tags.find((x) => x.tag === tag) : null;
        if (hit) v = hit.score;
      }
      if (Number.isFinite(v)) { scores[i] = v; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    const scored = { key: 'scored', label: all ? `“${tag}” score` : `“${tag}” among the top 3 tags`, rgb: core.viridis(0.7), count: 0 };
    const unscored = { key: 'unscored', label: all ? (all.ready ? '(no result)' : 'loading…') : 'not among the top 3', rgb: grey, count: 0 };
    for (let i = 0; i < n; ++i) {
      const s = scores[i];
      const ok = Number.isFinite(s);
      const rgb = ok ? core.viridis(hi > lo ? (s - lo) / (hi - lo) : 1) : grey;
      cat[i] = ok ? 0 : 1;
      (ok ? scored : unscored).count++;
      colors.set(rgb, i * 4);
      colors[i * 4 + 3] = 255;
    }
    legend = [scored, unscored];
    data.scale = { lo, hi, tag };
  } else {  // cluster
    if (!data.clusters) {
      // A large map clusters its overview (stable while the view is refined); the other
      // loaded points take the nearest centroid.
      const base = data.lod ? data.lod.overview.n : n;
      const km = core.kmeans(data.positions, base, { dims: data.dims, stride: 3, seed: 1 });
      data.clusters = { ...km, base: km.assign, labels: [], version: 0 };
      if (base < n) data.clusters.assign = core.assignToCentroids(data.positions, n, km.centroids, data.dims, km.assign);
    }
    const km = data.clusters;
    const names = core.clusterLabels(km.assign, km.k, data.tracks);
    legend = km.centroids.map((c, j) => ({
      key: `c${j + 1}`,
      label: `${j + 1}: ${names[j].length ? names[j].join(' · ') : 'cluster'}`,
      rgb: core.hexToRgb(palette.categorical[j % palette.categorical.length]),
      count: 0,
    }));
    const none = { key: NONE, label: '(not placed)', rgb: grey, count: 0 };
    for (let i = 0; i < n; ++i) {
      const j = km.assign[i];
      const e = j >= 0 ? legend[j] : none;
      cat[i] = j >= 0 ? j : legend.length;
      e.count++;
      colors.set(e.rgb, i * 4);
      colors[i * 4 + 3] = 255;
    }
    if (none.count) legend.push(none);
    km.labels = km.centroids.map((c, j) => ({ position: [c[0], c[1], c[2] || 0], text: legend[j].label }));
    km.version++;
  }
  data.colors = colors;
  data.cat = cat;
  data.legend = legend;
  applyFilter();
  renderLegend();
  const entryDone = entry && entry.done;
  if (entryDone) coloredPending = true;
}

/** Visibility: hidden legend groups and points without finite coordinates are filtered out. */
function applyFilter() {
  const n = data.n;
  const hidden = new Set(S.hidden);
  const hide = data.legend.map((e) => hidden.has(e.key));
  const filter = new Float32Array(n);
  for (let i = 0; i < n; ++i) {
    const finite = Number.isFinite(data.positions[i * 3]) && Number.isFinite(data.positions[i * 3 + 1]) &&
      Number.isFinite(data.positions[i * 3 + 2]);
    filter[i] = finite && !hide[data.cat[i]] ? 1 : 0;
  }
  data.filter = filter;
  data.pointData = {
    length: n,
    attributes: {
      getPosition: { value: data.positions, size: 3 },
      getFillColor: { value: data.colors, size: 4, normalized: true },
      getFilterValue: { value: filter, size: 1 },
    },
  };
  render();
}

function renderLegend() {
  const ul = $('#legend');
  ul.replaceChildren();
  const titles = { genre: 'Genre', toptag: 'Top tag', tag: 'Tag score', cluster: `Clusters (k-means, k = ${data.legend.filter((e) => e.key !== NONE).length})` };
  $('#legend-title').textContent = titles[S.color];
  const hidden = new Set(S.hidden);
  $('#legend-scale').hidden = !data.scale;
  if (data.scale) {
    $('#legend-scale .bar').style.background = core.viridisCss();
    const f = (v) => (Number.isFinite(v) ? v.toFixed(3) : '–');
    $('#scale-min').textContent = f(data.scale.lo);
    $('#scale-max').textContent = f(data.scale.hi);
  }
  for (const e of data.legend) {
    const li = el('li', { 'data-key': e.key, title: 'Click to hide / show' },
      el('span', { class: 'sw', style: `background: rgb(${e.rgb.join(',')})` }),
      el('span', { class: 'label' }, e.label),
      el('span', { class: 'count' }, e.count.toLocaleString('en')));
    if (e.key === 'scored' && data.scale) li.querySelector('.sw').style.background = core.viridisCss();
    if (hidden.has(e.key)) li.classList.add('off');
    li.addEventListener('click', () => toggleGroup(e.key));
    ul.append(li);
  }
  $('#legend-all').hidden = !S.hidden.length;
}

function toggleGroup(key) {
  const h = new Set(S.hidden);
  if (h.has(key)) h.delete(key); else h.add(key);
  S.hidden = [...h];
  applyFilter();
  renderLegend();
  writeUrl(true);
}
$('#legend-all').addEventListener('click', () => { S.hidden = []; applyFilter(); renderLegend(); writeUrl(true); });

// ---------------------------------------------------------------------------------------
// Hover card and click

const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function cardHtml(t) {
  const tags = (t.top_tags || []).slice(0, 3)
    .map((x) => `<li>${esc(x.tag)} <span class="genre">${x.score.toFixed(2)}</span></li>`).join('');
  return `<div class="name">${esc(t.name || t.filename)}</div>` +
    `<div class="genre">${t.genre ? esc(t.genre) : '(no genre)'}</div>` +
    (tags ? `<ol>${tags}</ol>` : '');
}

function onHover(info) {
  if (lassoMode || !info.layer || info.layer.id !== 'points' || info.index < 0) { hideCard(); return; }
  const i = info.index;
  const id = data.ids[i];
  const card = $('#card');
  const place = () => {
    const [w, h] = canvasSize();
    const cw = card.offsetWidth, ch = card.offsetHeight;
    card.style.left = `${Math.min(info.x + 14, Math.max(0, w - cw - 4))}px`;
    card.style.top = `${info.y + 14 + ch > h ? Math.max(0, info.y - ch - 10) : info.y + 14}px`;
  };
  const changed = cardFor !== i;
  cardFor = i;
  if (changed) render();
  const t = data.tracks[i];
  if (t) {
    card.innerHTML = cardHtml(t);
  } else {
    card.innerHTML = `<div class="name">track ${id}</div><div class="genre">loading…</div>`;
    apiJson(`/api/v1/tracks/${id}?model=${encodeURIComponent(S.model)}`).then((tt) => {
      if (cardFor === i) { card.innerHTML = cardHtml(tt); place(); }
    }).catch(() => {});
  }
  card.hidden = false;
  card.dataset.trackId = String(id);
  place();
  tagmap.lastCard = { id, t: performance.now() };
}

function hideCard() {
  if (cardFor < 0) return;
  cardFor = -1;
  $('#card').hidden = true;
  delete $('#card').dataset.trackId;
  render();
}
$('#map').addEventListener('pointerleave', hideCard);

function onClick(info) {
  if (lassoMode) return;
  if (info.layer && info.layer.id === 'points' && info.index >= 0) selectTrack(data.ids[info.index], { play: true });
}

// Hover and click pick on the CPU against the viewport's projection (core.pickNearest):
// deck.gl's GPU picking redraws every point into a picking buffer on each pointer move,
// which software WebGL (no GPU, as on this project's test machines) takes seconds to do
// at 100k points.
function pickAt(x, y) {
  const vp = deckgl.getViewports()[0];
  if (!data.n || !vp) return -1;
  return core.pickNearest(data.positions, data.n, vp.pixelProjectionMatrix, x, y,
    pointRadius() + 3, (i) => data.filter[i] > 0);
}
{
  const mapEl = $('#map');
  const pointInfo = (e) => {
    const r = mapEl.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    return { layer: { id: 'points' }, index: pickAt(x, y), x, y };
  };
  let down = null;
  // The curves overlay sits on the map: pointer events over it are not the map's.
  const overCurves = (e) => e.target instanceof Element && !!e.target.closest('#curves');
  mapEl.addEventListener('pointermove', (e) => {
    if (lassoMode || e.buttons) return;   // lasso drawing or panning: no card
    if (overCurves(e)) { hideCard(); return; }
    onHover(pointInfo(e));
  });
  mapEl.addEventListener('pointerdown', (e) => { down = e.button === 0 && !overCurves(e) ? [e.clientX, e.clientY] : null; });
  mapEl.addEventListener('pointerup', (e) => {
    // a click, not the end of a drag
    if (down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) < 5) onClick(pointInfo(e));
    down = null;
  });
}

// ---------------------------------------------------------------------------------------
// The selected track: info, neighbours, player, per-chunk path

function trackOf(id) {
  const e = trackCache.get(S.model);
  const d = detailCache.get(S.model);
  return (e && e.byId.get(id)) || (d && d.get(id)) || undefined;
}

async function selectTrack(id, { play = false, fly = false, fromHistory = false } = {}) {
  S.track = id;
  writeUrl(true);
  render();
  if (fly) flyTo(id);
  $('#track-box').hidden = false;
  let t = trackOf(id);
  if (!t || t.partial) {
    try { t = await apiJson(`/api/v1/tracks/${id}?model=${encodeURIComponent(S.model)}`); } catch (e) { showError(e, 'track'); return; }
  }
  if (S.track !== id) return;
  const dur = Number.isFinite(t.duration) ? core.formatTime(t.duration) : '';
  $('#track-info').innerHTML = `<div class="name">${esc(t.name || t.filename)}</div>` +
    `<div class="meta">${esc(t.genre || '(no genre)')}${t.album ? ' · ' + esc(t.album) : ''}${dur ? ' · ' + dur : ''}</div>` +
    `<div class="meta">${esc(t.filename)}</div>` +
    `<div class="meta">${(t.top_tags || []).map((x) => esc(x.tag)).join(', ')}</div>`;
  loadNeighbors(id);
  if (play) playTrack(id, t, fromHistory);
}

async function loadNeighbors(id) {
  const ol = $('#neighbors');
  ol.replaceChildren(el('li', {}, 'loading…'));
  ++busy;
  try {
    const j = await apiJson(`/api/v1/tracks/${id}/neighbors?model=${encodeURIComponent(S.model)}&source=${S.source}&k=10`);
    if (S.track !== id) return;
    player.neighbors = j.neighbors || [];
    ol.replaceChildren(...player.neighbors.map((nb) => el('li', { 'data-track-id': String(nb.track_id) },
      el('button', { title: 'Play', class: 'play', onclick: () => selectTrack(nb.track_id, { play: true, fly: true }) }, '▶'),
      el('a', { onclick: () => selectTrack(nb.track_id, { fly: true }) }, nb.name || nb.filename),
      ' ', el('span', { class: 'sim' }, Number.isFinite(nb.similarity) ? nb.similarity.toFixed(3) : ''))));
    if (!player.neighbors.length) ol.replaceChildren(el('li', {}, '(none)'));
  } catch (e) {
    ol.replaceChildren();
    player.neighbors = [];
    showError(e, 'neighbours');
  } finally {
    --busy;
    updatePlayerButtons();
  }
}

const audio = $('#audio');
audio.volume = 0.8;

function playTrack(id, t, fromHistory) {
  if (!fromHistory) {
    player.history = player.history.slice(0, player.pos + 1);
    player.history.push(id);
    player.pos = player.history.length - 1;
  }
  player.id = id;
  player.chunkIndex = -1;
  player.chunks = null;
  $('#chunk-bars').replaceChildren();
  $('#chunk-label').textContent = '';
  resetCurves();
  audio.src = t.audio_url || `/api/v1/tracks/${id}/audio`;
  $('#p-title').textContent = t.name || t.filename;
  $('#p-title').title = t.filename;
  audio.play().catch((e) => { if (e.name !== 'AbortError') showError(e, 'playback'); });
  updatePlayerButtons();
  loadChunks(id);
  loadSeries(id);
  render();
}

function updatePlayerButtons() {
  $('#p-play').disabled = player.id == null;
  $('#p-prev').disabled = player.pos <= 0;
  $('#p-next').disabled = !player.neighbors.length;
  $('#p-seek').disabled = player.id == null;
}

$('#p-play').addEventListener('click', () => {
  if (audio.paused) audio.play().catch((e) => { if (e.name !== 'AbortError') showError(e, 'playback'); });
  else audio.pause();
});
$('#p-next').addEventListener('click', () => {
  const seen = new Set(player.history);
  const nb = player.neighbors.find((x) => !seen.has(x.track_id)) || player.neighbors[0];
  if (nb) selectTrack(nb.track_id, { play: true, fly: true });
});
$('#p-prev').addEventListener('click', () => {
  if (player.pos <= 0) return;
  player.pos--;
  selectTrack(player.history[player.pos], { play: true, fly: true, fromHistory: true });
});
$('#p-seek').addEventListener('input', (e) => { audio.currentTime = Number(e.target.value); });
$('#p-volume').addEventListener('input', (e) => { audio.volume = Number(e.target.value); });
audio.addEventListener('play', () => { $('#p-play').classList.add('playing'); followPlayhead(); });
audio.addEventListener('pause', () => { $('#p-play').classList.remove('playing'); });
audio.addEventListener('ended', () => { $('#p-play').classList.remove('playing'); });
audio.addEventListener('loadedmetadata', () => {
  $('#p-seek').max = String(audio.duration || 0);
  $('#p-dur').textContent = core.formatTime(audio.duration);
});
audio.addEventListener('error', () => {
  if (audio.src && audio.error) showError(new Error(`the browser cannot play this file (media error ${audio.error.code}${audio.error.message ? ': ' + audio.error.message : ''})`), 'playback');
});
audio.addEventListener('timeupdate', onPlayhead);

function onPlayhead() {
  const t = audio.currentTime;
  $('#p-seek').value = String(t);
  $('#p-time').textContent = core.formatTime(t);
  drawPlayheads();
  const ch = player.chunks;
  if (!ch || ch.trackId !== player.id || !ch.list.length) return;
  let k = 0;
  for (let i = 0; i < ch.list.length; ++i) if (ch.list[i].start <= t + 1e-6) k = i;
  if (k === player.chunkIndex) return;
  player.chunkIndex = k;
  renderChunkBars(ch.list[k]);
  render();
}

function renderChunkBars(chunk) {
  const box = $('#chunk-bars');
  const tags = (chunk.top_tags || []).slice(0, 5);
  const max = Math.max(1e-6, ...tags.map((x) => x.score));
  $('#chunk-label').textContent = `(${chunk.index + 1}, from ${core.formatTime(chunk.start)})`;
  box.replaceChildren(...tags.map((x) => el('div', { class: 'row' },
    el('span', { class: 'tag', title: x.tag }, x.tag),
    el('div', { class: 'bar', style: `width: ${(100 * x.score / max).toFixed(1)}%` }),
    el('span', { class: 'val' }, x.score.toFixed(2)))));
}

async function loadChunks(id) {
  if (!routes.some((r) => r.includes('chunks'))) return;   // not offered by this server
  const q = new URLSearchParams({ model: S.model, source: S.source, method: S.method, dims: String(S.dims) });
  const key = mapKey();
  ++busy;
  try {
    let j;
    for (let tries = 0; ; ++tries) {   // 202 while the server computes the map
      const res = await api(`/api/v1/tracks/${id}/chunks?${q}`);
      j = await res.json();
      if (player.id !== id || key !== mapKey()) return;
      if (res.status !== 202) break;
      if (tries > 120) return;
      await sleep(1000 * Math.min(5, Math.max(0.5, j.retry_after_seconds || 1)));
    }
    const list = j.chunks || [];
    player.chunks = {
      trackId: id, hop: j.hop_seconds, list,
      path: list.map((c) => [c.coords[0], c.coords[1], c.coords[2] || 0]).filter((p) => p.every(Number.isFinite)),
    };
    player.chunkIndex = -1;
    onPlayhead();
    render();
  } catch (e) {
    if (e.status !== 404 && e.status !== 202) showError(e, 'chunk path');
  } finally {
    --busy;
  }
}

// Pitch (crepe-tiny) and beat (madmom-beats) curves under the player, from
// /api/v1/tracks/<id>/series (float32 form). Each curve is drawn once per track and size
// into an offscreen canvas; the playhead is drawn over it on every animation frame while
// the audio plays, and on timeupdate / seeked otherwise. A click seeks.
const CURVES = [
  { model: 'crepe-tiny', row: '#pitch-row', canvas: '#curve-pitch', kind: 'pitch' },
  { model: 'madmom-beats', row: '#beats-row', canvas: '#curve-beats', kind: 'beats' },
];
player.series = {};   // model -> { trackId, series, bg: offscreen canvas, width }

function resetCurves() {
  player.series = {};
  for (const c of CURVES) $(c.row).hidden = true;
  $('#curves').hidden = true;
}

function curveDuration() {
  const spans = Object.values(player.series).map((x) => curves.seriesSeconds(x.series));
  return Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : Math.max(0, ...spans);
}

async function loadSeries(id) {
  if (!routes.some((r) => r.includes('series'))) return;   // not offered by this server
  ++busy;
  try {
    const list = await apiJson(`/api/v1/tracks/${id}/series`);
    if (player.id !== id) return;
    const have = new Map((list.series || []).map((x) => [x.model, x]));
    await Promise.all(CURVES.filter((c) => have.has(c.model)).map(async (c) => {
      const res = await api(`/api/v1/tracks/${id}/series?model=${encodeURIComponent(c.model)}&format=f32`);
      const s = curves.seriesFromF32(await res.arrayBuffer(), res.headers.get('X-Tagmap-Shape'),
        res.headers.get('X-Tagmap-Fps'), res.headers.get('X-Tagmap-Columns'));
      s.license = have.get(c.model).license;
      if (player.id !== id) return;
      player.series[c.model] = { trackId: id, series: s, bg: null, width: 0 };
      if (c.kind === 'beats' && s.license) $('#beats-license').textContent = `madmom beat model: ${s.license}, non-commercial use only`;
      $(c.row).hidden = false;
    }));
    $('#curves').hidden = !Object.keys(player.series).length;
    drawCurves();
  } catch (e) {
    if (e.status !== 404) showError(e, 'pitch and beat curves');
  } finally {
    --busy;
  }
}

/** Renders each curve's offscreen image at the canvas's current size, then the playheads. */
function drawCurves() {
  const duration = curveDuration();
  for (const c of CURVES) {
    const entry = player.series[c.model];
    if (!entry || entry.trackId !== player.id) continue;
    const canvas = $(c.canvas);
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * dpr)), height = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    const bg = document.createElement('canvas');
    bg.width = width;
    bg.height = height;
    const ctx = bg.getContext('2d');
    if (c.kind === 'pitch') {
      const cols = curves.pitchColumns(entry.series, width, duration);
      entry.range = curves.pitchRange(cols);
      entry.voiced = cols.conf.filter((x) => x >= curves.VOICED_CONFIDENCE).length;
      curves.drawPitch(ctx, cols, width, height, entry.range);
      $('#pitch-range').textContent = `${Math.round(curves.midiToHz(entry.range[0]))}–${Math.round(curves.midiToHz(entry.range[1]))} Hz`;
    } else {
      const act = curves.beatColumns(entry.series, width, duration);
      entry.peak = Math.max(0, ...act);
      entry.scale = curves.beatScale(act);   // autoscaled: a weak clip's curve is not flat
      curves.drawBeats(ctx, act, width, height, entry.scale);
      $('#beats-scale').textContent = `0–${+entry.scale.toPrecision(2)}`;
    }
    entry.bg = bg;
    entry.width = width;
    entry.duration = duration;
  }
  drawPlayheads();
}

function drawPlayheads() {
  const duration = curveDuration();
  for (const c of CURVES) {
    const entry = player.series[c.model];
    if (!entry || !entry.bg || entry.trackId !== player.id) continue;
    if (Math.abs(entry.duration - duration) > 1e-6) return drawCurves();   // metadata arrived
    const canvas = $(c.canvas), ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(entry.bg, 0, 0);
    entry.playheadX = curves.timeToX(audio.currentTime, duration, canvas.width);
    curves.drawPlayhead(ctx, entry.playheadX, canvas.height);
  }
}

function followPlayhead() {
  if (audio.paused || !Object.keys(player.series).length) return;
  drawPlayheads();
  requestAnimationFrame(followPlayhead);
}

for (const c of CURVES)
  $(c.canvas).addEventListener('click', (e) => {
    const r = e.currentTarget.getBoundingClientRect();
    const duration = curveDuration();
    if (!(duration > 0) || player.id == null) return;
    audio.currentTime = curves.xToTime(e.clientX - r.left, r.width, duration);
    drawPlayheads();
  });
audio.addEventListener('seeked', drawPlayheads);
audio.addEventListener('loadedmetadata', drawCurves);
window.addEventListener('resize', () => { if (Object.keys(player.series).length) drawCurves(); });
Object.defineProperty(tagmap, 'curves', {
  get: () => Object.fromEntries(Object.entries(player.series).map(([m, x]) => [m, {
    trackId: x.trackId, frames: x.series.frames, fps: x.series.fps, width: x.width,
    playheadX: x.playheadX, range: x.range, voiced: x.voiced, peak: x.peak, scale: x.scale, license: x.series.license,
  }])),
});

// ---------------------------------------------------------------------------------------
// Camera: fly-to

const FLY_NEIGHBORS = 50;   // a fly-to shows the point with this many of its neighbours
function flyTo(id) {
  const i = data.index.get(id);
  if (i == null && data.lod) { ensureLoaded(id).then((ok) => { if (ok && data.index.has(id)) flyTo(id); }).catch((e) => showError(e, 'map')); return; }
  if (i == null || !viewState) return;
  const [w, h] = canvasSize();
  const fit = core.fitViewState(data.bounds, S.dims, w, h);
  const p = Array.from(data.positions.subarray(i * 3, i * 3 + 3));
  // In closer than the whole map (1.5 zoom levels, so a large map refines), but never so
  // close that the point's ~50 nearest loaded neighbours leave the view (out past the
  // whole map's zoom if need be: centred on an edge point, that zoom shows half the map).
  const context = core.contextZoom(data.positions, data.n, i, { dims: S.dims, k: FLY_NEIGHBORS, width: w, height: h, extent: data.bounds.extent });
  setViewState({
    ...viewState,
    target: S.dims === 3 ? p : [p[0], p[1], 0],
    zoom: Math.min(Math.max(viewState.zoom, fit.zoom + 1.5), context),
    transitionDuration: 700,
    transitionInterpolator: new deckgl_ns.LinearInterpolator(['target', 'zoom']),
    onTransitionEnd: () => writeUrl(true),
  });
}

// ---------------------------------------------------------------------------------------
// Search

let searchTimer = null, searchSeq = 0, searchResults = [], searchActive = -1;
const searchBox = $('#search'), searchList = $('#search-results');

searchBox.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 200);
});
searchBox.addEventListener('keydown', async (e) => {
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    if (!searchResults.length) return;
    searchActive = (searchActive + (e.key === 'ArrowDown' ? 1 : searchResults.length - 1)) % searchResults.length;
    showResults();
  } else if (e.key === 'Enter') {
    e.preventDefault();
    clearTimeout(searchTimer);
    if (!searchResults.length || searchResults.q !== searchBox.value.trim()) await runSearch();
    const r = searchResults[Math.max(0, searchActive)];
    if (r) chooseResult(r);
  } else if (e.key === 'Escape') {
    searchList.hidden = true;
  }
});
searchBox.addEventListener('blur', () => setTimeout(() => { searchList.hidden = true; }, 150));

async function runSearch() {
  const q = searchBox.value.trim();
  const seq = ++searchSeq;
  if (!q) { searchResults = []; searchList.hidden = true; return; }
  ++busy;
  try {
    const j = await apiJson(`/api/v1/search?q=${encodeURIComponent(q)}&limit=20&model=${encodeURIComponent(S.model)}`);
    if (seq !== searchSeq) return;
    searchResults = j.results || [];
    searchResults.q = q;
    searchActive = searchResults.length ? 0 : -1;
    showResults();
  } catch (e) {
    showError(e, 'search');
  } finally {
    --busy;
  }
}

function showResults() {
  searchList.replaceChildren(...(searchResults.length ? searchResults : [null]).map((r, j) => r
    ? el('li', { class: j === searchActive ? 'active' : '', 'data-track-id': String(r.id), onmousedown: (e) => { e.preventDefault(); chooseResult(r); } },
      el('div', {}, r.name || r.filename), el('div', { class: 'sub' }, `${r.genre || '(no genre)'} · ${r.filename}`))
    : el('li', { class: 'sub' }, 'no match')));
  searchList.hidden = false;
}

async function chooseResult(r) {
  searchList.hidden = true;
  if (!data.index.has(r.id) && data.lod) {
    try { await ensureLoaded(r.id); } catch (e) { showError(e, 'search'); return; }
  }
  if (!data.index.has(r.id)) {
    showError(new Error(`“${r.name || r.filename}” is not on this map (no ${S.model} result yet?)`), 'search');
    return;
  }
  selectTrack(r.id, { fly: true });
}

// ---------------------------------------------------------------------------------------
// Lasso (2D): an SVG overlay takes the pointer; the polygon is unprojected to map
// coordinates and the points inside are selected (hidden groups excluded).

const lassoSvg = $('#lasso');
let lassoPts = null;

function setLasso(on) {
  lassoMode = on && S.dims === 2;
  $('#btn-lasso').classList.toggle('on', lassoMode);
  lassoSvg.toggleAttribute('hidden', !lassoMode);
  lassoSvg.replaceChildren();
  hideCard();
  render();
}
$('#btn-lasso').addEventListener('click', () => setLasso(!lassoMode));

lassoSvg.addEventListener('pointerdown', (e) => {
  lassoPts = [[e.offsetX, e.offsetY]];
  lassoSvg.setPointerCapture(e.pointerId);
  const pl = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  lassoSvg.replaceChildren(pl);
});
lassoSvg.addEventListener('pointermove', (e) => {
  if (!lassoPts) return;
  lassoPts.push([e.offsetX, e.offsetY]);
  lassoSvg.firstChild.setAttribute('points', lassoPts.map((p) => p.join(',')).join(' '));
});
lassoSvg.addEventListener('pointerup', () => {
  const pts = lassoPts;
  lassoPts = null;
  setLasso(false);
  if (!pts || pts.length < 3) return;
  const vp = deckgl.getViewports()[0];
  const poly = pts.map((p) => vp.unproject(p).slice(0, 2));
  const idx = core.pointsInPolygon(data.positions, data.n, 3, poly, (i) => data.filter[i] > 0);
  setSelection(idx);
});

function setSelection(idx) {
  data.selection = idx;
  const pos = new Float32Array(idx.length * 3);
  idx.forEach((i, j) => pos.set(data.positions.subarray(i * 3, i * 3 + 3), j * 3));
  data.selectionData = idx.length ? { length: idx.length, attributes: { getPosition: { value: pos, size: 3 } } } : null;
  $('#selection-count').textContent = `${idx.length} track${idx.length === 1 ? '' : 's'} selected`;
  $('#selection-box').hidden = false;
  render();
}

function clearSelection(draw = true) {
  data.selection = [];
  data.selectionData = null;
  $('#selection-box').hidden = true;
  if (draw) render();
}
$('#selection-clear').addEventListener('click', () => clearSelection());

function selectionRows() {
  return data.selection.map((i) => {
    const id = data.ids[i];
    const t = data.tracks[i] || {};
    return {
      id, filename: t.filename || '', name: t.name || t.filename || `track ${id}`, genre: t.genre || '',
      top_tag: t.top_tags && t.top_tags[0] ? t.top_tags[0].tag : '', duration: t.duration,
      x: data.positions[i * 3], y: data.positions[i * 3 + 1],
      url: new URL(t.audio_url || `/api/v1/tracks/${id}/audio`, location.href).href,
    };
  });
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
const exportName = (ext) => `tagmap-${S.model}-${S.source}-${S.method}-${data.selection.length}.${ext}`;
$('#export-m3u').addEventListener('click', () => download(exportName('m3u'), core.toM3u(selectionRows()), 'audio/x-mpegurl'));
$('#export-csv').addEventListener('click', () => download(exportName('csv'), core.toCsv(selectionRows()), 'text/csv'));

// ---------------------------------------------------------------------------------------
// Drop an audio file: POST /api/v1/tracks (multipart field "file"), poll the job, reload.

const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
let dragDepth = 0;
document.addEventListener('dragenter', (e) => { if (hasFiles(e)) { dragDepth++; $('#drop').hidden = false; } });
document.addEventListener('dragleave', (e) => { if (hasFiles(e) && --dragDepth <= 0) { dragDepth = 0; $('#drop').hidden = true; } });
document.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
document.addEventListener('drop', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth = 0;
  $('#drop').hidden = true;
  const f = e.dataTransfer.files[0];
  if (f) uploadFile(f);
});

function uploadStatus(text, progress) {
  $('#upload').hidden = text == null;
  $('#upload-text').textContent = text || '';
  $('#upload-progress').value = progress || 0;
}

function uploadFile(file) {
  const form = new FormData();
  form.append('file', file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/v1/tracks');
  ++busy;
  uploadStatus(`Uploading ${file.name}…`, 0);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) uploadStatus(`Uploading ${file.name}…`, e.loaded / e.total); };
  xhr.onerror = () => { --busy; uploadStatus(null); showError(new ApiError(0, 'network', 'the upload did not reach the server'), 'upload'); };
  xhr.onload = () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status >= 400 || !body || body.job == null) {
      --busy;
      uploadStatus(null);
      showError(new ApiError(xhr.status, (body && body.error) || `HTTP ${xhr.status}`, (body && body.detail) || 'the server did not accept the file'), 'upload');
      return;
    }
    pollJob(body.job, file.name).finally(() => { --busy; });
  };
  xhr.send(form);
}

async function pollJob(job, name) {
  try {
    for (;;) {
      const j = await apiJson(`/api/v1/jobs/${encodeURIComponent(job)}`);
      uploadStatus(`${name}: ${j.stage || j.status}…`, j.progress || 0);
      if (j.status === 'done') {
        uploadStatus(null);
        trackCache.delete(S.model);
        await loadMap({ keepView: true });
        if (j.track_id != null) selectTrack(j.track_id, { fly: true });
        return;
      }
      if (j.status === 'failed') {
        uploadStatus(null);
        showError(new ApiError(200, j.error || 'failed', j.detail || `processing ${name} failed`), 'upload');
        return;
      }
      await sleep(700);
    }
  } catch (e) {
    uploadStatus(null);
    showError(e, 'upload');
  }
}

// ---------------------------------------------------------------------------------------
// Selectors

function syncSelectors() {
  $('#sel-model').value = S.model;
  $('#sel-source').value = S.source;
  $('#sel-method').value = S.method;
  $('#sel-color').value = S.color;
  $('#btn-2d').classList.toggle('on', S.dims === 2);
  $('#btn-3d').classList.toggle('on', S.dims === 3);
  $('#btn-lasso').disabled = S.dims !== 2;
  const m = models.find((x) => x.model_id === S.model);
  const tags = (m && m.tags) || [];
  const tagSel = $('#sel-tag');
  if (tagSel.dataset.model !== S.model) {
    tagSel.replaceChildren(...tags.map((t) => el('option', { value: t }, t)));
    tagSel.dataset.model = S.model;
  }
  if (S.color === 'tag' && !tags.includes(S.tag)) S.tag = tags[0] || '';
  tagSel.value = S.tag;
  tagSel.hidden = S.color !== 'tag';
}

function changeMap(patch) {
  Object.assign(S, patch);
  if (S.dims !== 2) setLasso(false);
  syncSelectors();
  writeUrl(true);
  loadMap();
  if (S.track != null) loadNeighbors(S.track);
}

$('#sel-model').addEventListener('change', (e) => changeMap({ model: e.target.value, hidden: [] }));
$('#sel-source').addEventListener('change', (e) => changeMap({ source: e.target.value }));
$('#sel-method').addEventListener('change', (e) => changeMap({ method: e.target.value }));
$('#btn-2d').addEventListener('click', () => { if (S.dims !== 2) changeMap({ dims: 2 }); });
$('#btn-3d').addEventListener('click', () => { if (S.dims !== 3) changeMap({ dims: 3 }); });
$('#sel-color').addEventListener('change', (e) => {
  S.color = e.target.value;
  S.hidden = [];
  syncSelectors();
  recolor();
  writeUrl(true);
});
$('#sel-tag').addEventListener('change', (e) => { S.tag = e.target.value; S.hidden = []; recolor(); writeUrl(true); });
$('#btn-fit').addEventListener('click', () => fitView(true));

document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
  if (e.key === 'Escape') { setLasso(false); clearSelection(); }
  else if (e.key === ' ' && player.id != null) { e.preventDefault(); $('#p-play').click(); }
});

window.addEventListener('hashchange', () => {
  // A link pasted into this tab: apply it (our own replaceState never fires this).
  if (location.hash.replace(/^#/, '') === lastHash) return;
  const next = core.parseState(location.hash);
  const mapChanged = ['model', 'source', 'method', 'dims'].some((k) => next[k] !== S[k]);
  Object.assign(S, next);
  if (!models.some((m) => m.model_id === S.model) && models.length) S.model = models[0].model_id;
  syncSelectors();
  if (mapChanged) loadMap({ cam: next.cam });
  else {
    recolor();
    const vs = next.cam && core.viewStateFromCam(next.cam, S.dims);
    if (vs) setViewState(vs);
  }
  if (S.track != null) selectTrack(S.track);
});

// ---------------------------------------------------------------------------------------
// Start

async function start() {
  ++busy;
  try {
    const [pal, index, ms] = await Promise.all([
      fetch('palette.json').then((r) => (r.ok ? r.json() : null)).catch(() => null),
      apiJson('/api/v1/'),
      apiJson('/api/v1/models'),
    ]);
    if (pal && Array.isArray(pal.categorical)) palette = pal;
    routes = index.routes || [];
    $('#chunk-box').hidden = !routes.some((r) => r.includes('chunks'));
    models = ms.models || [];
    $('#sel-model').replaceChildren(...models.map((m) => el('option', { value: m.model_id }, m.model_id)));
    if (!models.length) {
      showError(new Error('the library has no model results yet: run `tagmap preprocess-all` and `tagmap project`'), 'library');
      return;
    }
    if (!models.some((m) => m.model_id === S.model)) S.model = models[0].model_id;
    syncSelectors();
    const cam = S.cam;
    await loadMap({ cam });
    if (S.track != null && data.lod) await ensureLoaded(S.track).catch(() => false);
    // Awaited: the track panel's request counts as busy (tagmap.idle() waits for it).
    if (S.track != null && data.index.has(S.track)) await selectTrack(S.track);
    else if (S.track != null) { S.track = null; writeUrl(true); }
    else writeUrl(true);
  } catch (e) {
    showError(e, 'start');
  } finally {
    --busy;
    renderedSinceChange = renderedSinceChange || !data.n;
  }
}

start();
