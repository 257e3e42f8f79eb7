// Pure helpers of the map page (no DOM, no deck.gl): URL state, colours, clustering,
// lasso geometry, view fitting and the playlist exports. Imported by app.js in the
// browser and by the tests and benchmarks under node.

// ---------------------------------------------------------------------------------------
// URL state: everything a shared link restores lives in the location hash, as
// URLSearchParams: model, source, method, dims, color, tag, hide (repeated), track, cam.

export const DEFAULT_STATE = Object.freeze({
  model: '',
  source: 'embedding',
  method: 'umap',
  dims: 2,
  color: 'genre',
  tag: '',
  hidden: [],
  track: null,
  cam: null,
});

export const COLOR_MODES = ['genre', 'toptag', 'tag', 'cluster'];

/** Parses a location hash ("#a=1&b=2" or "a=1&b=2") into a full state object. */
export function parseState(hash) {
  const p = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  const s = { ...DEFAULT_STATE, hidden: [] };
  if (p.get('model')) s.model = p.get('model');
  if (['embedding', 'taggram'].includes(p.get('source'))) s.source = p.get('source');
  if (['umap', 'tsne'].includes(p.get('method'))) s.method = p.get('method');
  if (p.get('dims') === '3') s.dims = 3;
  if (COLOR_MODES.includes(p.get('color'))) s.color = p.get('color');
  if (p.get('tag')) s.tag = p.get('tag');
  s.hidden = p.getAll('hide');
  const track = Number(p.get('track'));
  if (p.get('track') && Number.isSafeInteger(track)) s.track = track;
  const cam = (p.get('cam') || '').split(',').map(Number);
  if (cam.length >= 3 && cam.every(Number.isFinite)) s.cam = cam;
  return s;
}

/** The hash (without '#') of a state; defaults are written too, so a link is explicit. */
export function formatState(s) {
  const p = new URLSearchParams();
  if (s.model) p.set('model', s.model);
  p.set('source', s.source);
  p.set('method', s.method);
  p.set('dims', String(s.dims));
  p.set('color', s.color);
  if (s.color === 'tag' && s.tag) p.set('tag', s.tag);
  for (const h of s.hidden || []) p.append('hide', h);
  if (s.track != null) p.set('track', String(s.track));
  if (s.cam) p.set('cam', s.cam.map((v) => +v.toFixed(4)).join(','));
  return p.toString();
}

/** Camera <-> compact list: 2D [x, y, zoom]; 3D [x, y, z, zoom, rotationX, rotationOrbit]. */
export function camFromViewState(vs, dims) {
  const t = vs.target || [0, 0, 0];
  return dims === 3
    ? [t[0], t[1], t[2] || 0, vs.zoom, vs.rotationX || 0, vs.rotationOrbit || 0]
    : [t[0], t[1], vs.zoom];
}

export function viewStateFromCam(cam, dims) {
  if (dims === 3 && cam.length === 6)
    return { target: [cam[0], cam[1], cam[2]], zoom: cam[3], rotationX: cam[4], rotationOrbit: cam[5] };
  if (dims === 2 && cam.length === 3) return { target: [cam[0], cam[1], 0], zoom: cam[2] };
  return null;
}

// ---------------------------------------------------------------------------------------
// Colours

/** Sort order shared with the C++ static plots: Unicode code points (= UTF-8 byte order). */
export function compareCodePoints(a, b) {
  const A = Array.from(a), B = Array.from(b);
  const n = Math.min(A.length, B.length);
  for (let i = 0; i < n; ++i) {
    const x = A[i].codePointAt(0), y = B[i].codePointAt(0);
    if (x !== y) return x < y ? -1 : 1;
  }
  return A.length - B.length;
}

export function hexToRgb(hex) {
  const h = hex.replace('#', '');
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

/** Map of category -> [r,g,b]: sorted categories take the palette in order, cycling. */
export function categoricalColors(palette, categories) {
  const sorted = [...new Set(categories)].sort(compareCodePoints);
  const out = new Map();
  sorted.forEach((c, i) => out.set(c, hexToRgb(palette.categorical[i % palette.categorical.length])));
  return { sorted, colors: out };
}

// Viridis, 9 stops (matplotlib's), linearly interpolated.
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

export function viridis(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  return VIRIDIS[i].map((v, c) => Math.round(v + (VIRIDIS[i + 1][c] - v) * f));
}

export function viridisCss() {
  return `linear-gradient(to right, ${VIRIDIS.map((c) => `rgb(${c.join(',')})`).join(', ')})`;
}

// ---------------------------------------------------------------------------------------
// Clustering: k-means (Lloyd) on the map coordinates, deterministic: k-means++ seeding
// driven by a fixed-seed PRNG (mulberry32), at most 50 iterations, then the clusters are
// renumbered by size (largest first; ties by centroid x, then y).

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The number of clusters for n points: round(sqrt(n / 2)), between 2 and 10. */
export function defaultK(n) {
  return Math.max(1, Math.min(10, n, Math.max(2, Math.round(Math.sqrt(n / 2)))));
}

/**
 * positions: Float32Array, `stride` floats per point (the first `dims` are used);
 * valid(i) says whether a point takes part (non-finite coordinates do not).
 * Returns { k, assign: Int32Array (-1 for points left out), centroids: [[...]], sizes }.
 */
export function kmeans(positions, n, { dims = 2, stride = 3, k = defaultK(n), seed = 1, iterations = 50 } = {}) {
  // the valid points, packed (m x dims, float64)
  const idx = [];
  for (let i = 0; i < n; ++i) {
    let ok = true;
    for (let d = 0; d < dims; ++d) ok = ok && Number.isFinite(positions[i * stride + d]);
    if (ok) idx.push(i);
  }
  const assign = new Int32Array(n).fill(-1);
  const m = idx.length;
  k = Math.min(k, m);
  if (k === 0) return { k: 0, assign, centroids: [], sizes: [] };
  const X = new Float64Array(m * dims);
  for (let j = 0; j < m; ++j) for (let d = 0; d < dims; ++d) X[j * dims + d] = positions[idx[j] * stride + d];
  const C = new Float64Array(k * dims);
  const dist2 = (j, c) => {
    let s = 0;
    for (let d = 0; d < dims; ++d) { const v = X[j * dims + d] - C[c * dims + d]; s += v * v; }
    return s;
  };
  const setCentroid = (c, j) => { for (let d = 0; d < dims; ++d) C[c * dims + d] = X[j * dims + d]; };
  // k-means++ seeding
  const rand = mulberry32(seed);
  setCentroid(0, Math.floor(rand() * m));
  const best = new Float64Array(m).fill(Infinity);
  for (let c = 1; c < k; ++c) {
    let total = 0;
    for (let j = 0; j < m; ++j) { const dd = dist2(j, c - 1); if (dd < best[j]) best[j] = dd; total += best[j]; }
    let pick = m - 1;
    if (total > 0) {
      let r = rand() * total;
      for (let j = 0; j < m; ++j) { r -= best[j]; if (r <= 0) { pick = j; break; } }
    } else {
      pick = Math.floor(rand() * m);
    }
    setCentroid(c, pick);
  }
  // Lloyd iterations
  const a = new Int32Array(m).fill(-1);
  const sums = new Float64Array(k * dims), counts = new Int32Array(k);
  for (let it = 0; it < iterations; ++it) {
    let changed = 0;
    sums.fill(0);
    counts.fill(0);
    for (let j = 0; j < m; ++j) {
      let bi = 0, bd = Infinity;
      for (let c = 0; c < k; ++c) { const dd = dist2(j, c); if (dd < bd) { bd = dd; bi = c; } }
      if (a[j] !== bi) { a[j] = bi; ++changed; }
      counts[bi]++;
      for (let d = 0; d < dims; ++d) sums[bi * dims + d] += X[j * dims + d];
    }
    for (let c = 0; c < k; ++c)
      if (counts[c] > 0) for (let d = 0; d < dims; ++d) C[c * dims + d] = sums[c * dims + d] / counts[c];
    if (changed === 0) break;
  }
  // renumber: largest first
  const cen = (c) => Array.from(C.subarray(c * dims, c * dims + dims));
  const order = Array.from({ length: k }, (_, c) => c).sort(
    (p, q) => counts[q] - counts[p] || C[p * dims] - C[q * dims] || C[p * dims + 1] - C[q * dims + 1] || p - q);
  const rank = new Int32Array(k);
  order.forEach((c, r) => { rank[c] = r; });
  for (let j = 0; j < m; ++j) assign[idx[j]] = rank[a[j]];
  const used = order.filter((c) => counts[c] > 0);
  return { k: used.length, assign, centroids: used.map(cen), sizes: used.map((c) => counts[c]) };
}

/**
 * A cluster's label: its two tags with the highest summed score over the members' top
 * tags (tracks: array aligned with the points, each { top_tags: [{tag, score}] } or null).
 */
export function clusterLabels(assign, k, tracks) {
  const sums = Array.from({ length: k }, () => new Map());
  for (let i = 0; i < assign.length; ++i) {
    const c = assign[i];
    const t = tracks[i];
    if (c < 0 || !t || !t.top_tags) continue;
    for (const { tag, score } of t.top_tags) sums[c].set(tag, (sums[c].get(tag) || 0) + score);
  }
  return sums.map((m) => [...m.entries()]
    .sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]))
    .slice(0, 2).map((e) => e[0]));
}

// ---------------------------------------------------------------------------------------
// Geometry

/**
 * The point under the cursor, picked on the CPU: the index of the kept point nearest to
 * (px, py) on screen within `radius` pixels, or -1. `m` maps world to pixels (a column-major
 * 4x4 matrix: deck.gl's viewport.pixelProjectionMatrix). Points closer than 0.5 px to the
 * best distance count as a tie, won by the one nearer the camera (3D) or drawn last (2D),
 * as a GPU pick would. One pass over the points: about 1 ms for 100k, where deck.gl's GPU
 * picking pass under software WebGL redraws every point (seconds at 100k).
 */
export function pickNearest(positions, n, m, px, py, radius, keep = () => true) {
  const r2 = radius * radius;
  let best = -1, bestD = Infinity, bestZ = Infinity;
  for (let i = 0; i < n; ++i) {
    const x = positions[i * 3], y = positions[i * 3 + 1], z = positions[i * 3 + 2];
    const w = m[3] * x + m[7] * y + m[11] * z + m[15];
    if (!(w > 0)) continue;   // behind the camera, or not finite
    const dx = (m[0] * x + m[4] * y + m[8] * z + m[12]) / w - px;
    if (dx > radius || dx < -radius) continue;
    const dy = (m[1] * x + m[5] * y + m[9] * z + m[13]) / w - py;
    const d2 = dx * dx + dy * dy;
    if (d2 > r2 || !keep(i)) continue;
    const depth = (m[2] * x + m[6] * y + m[10] * z + m[14]) / w;
    const d = Math.sqrt(d2);
    if (d < bestD - 0.5 || (d <= bestD + 0.5 && depth <= bestZ)) {
      best = i; bestD = Math.min(d, bestD); bestZ = depth;
    }
  }
  return best;
}

/** Ray casting; poly = [[x, y], ...] (closed implicitly). */
export function pointInPolygon(x, y, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Indices of the points (x, y of each, `stride` floats apart) inside poly, for which keep(i). */
export function pointsInPolygon(positions, n, stride, poly, keep = () => true) {
  if (poly.length < 3) return [];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of poly) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const out = [];
  for (let i = 0; i < n; ++i) {
    const x = positions[i * stride], y = positions[i * stride + 1];
    if (!(x >= x0 && x <= x1 && y >= y0 && y <= y1)) continue;
    if (keep(i) && pointInPolygon(x, y, poly)) out.push(i);
  }
  return out;
}

/** Bounding box of the finite points: { min: [3], max: [3], center: [3], extent }. */
export function bounds(positions, n, stride = 3) {
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; ++i) {
    const x = positions[i * stride], y = positions[i * stride + 1], z = positions[i * stride + 2];
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
    if (x < min[0]) min[0] = x; if (x > max[0]) max[0] = x;
    if (y < min[1]) min[1] = y; if (y > max[1]) max[1] = y;
    if (z < min[2]) min[2] = z; if (z > max[2]) max[2] = z;
  }
  if (!(min[0] <= max[0])) return { min: [0, 0, 0], max: [0, 0, 0], center: [0, 0, 0], extent: 1 };
  const center = min.map((v, d) => (v + max[d]) / 2);
  const extent = Math.max(max[0] - min[0], max[1] - min[1], max[2] - min[2]) || 1;
  return { min, max, center, extent };
}

/**
 * The view state that shows the whole map in a width x height canvas. Orthographic and
 * orbit views share the scale rule: at zoom z one map unit is 2^z pixels (at the target).
 */
export function fitViewState(b, dims, width, height) {
  const margin = dims === 3 ? 2.1 : 1.3;
  const zoom = Math.log2(Math.max(1, Math.min(width, height)) / (b.extent * margin));
  return dims === 3
    ? { target: [...b.center], zoom, rotationX: 25, rotationOrbit: 30 }
    : { target: [b.center[0], b.center[1], 0], zoom };
}

/**
 * The zoom at which point i is shown with context: its k nearest points (positions n x 3,
 * distances in `dims` dimensions) lie within `fill` of the half-size of the smaller canvas
 * side around it (same scale rule as fitViewState). A point with fewer than k others uses
 * them all; when they all sit on it, a 1/200 of `extent` stands in for the radius, so a
 * fly-to never zooms in until a single point fills the view.
 */
export function contextZoom(positions, n, i, { dims = 2, k = 50, width = 800, height = 600, fill = 0.8, extent = 1 } = {}) {
  const d2 = new Float64Array(n);
  let m = 0;
  const px = positions[i * 3], py = positions[i * 3 + 1], pz = dims === 3 ? positions[i * 3 + 2] : 0;
  for (let j = 0; j < n; ++j) {
    if (j === i) continue;
    const dx = positions[j * 3] - px, dy = positions[j * 3 + 1] - py, dz = dims === 3 ? positions[j * 3 + 2] - pz : 0;
    const v = dx * dx + dy * dy + dz * dz;
    if (Number.isFinite(v)) d2[m++] = v;
  }
  const near = d2.subarray(0, m).sort();
  const r = Math.max(m ? Math.sqrt(near[Math.min(k, m) - 1]) : 0, extent / 200);
  return Math.log2((fill * Math.max(1, Math.min(width, height)) / 2) / r);
}

// ---------------------------------------------------------------------------------------
// Exports (client-side downloads)

function csvField(v) {
  const s = v == null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** rows: [{ id, filename, name, genre, top_tag, x, y }] */
export function toCsv(rows) {
  const head = ['track_id', 'filename', 'name', 'genre', 'top_tag', 'x', 'y'];
  const lines = [head.join(',')];
  for (const r of rows)
    lines.push([r.id, r.filename, r.name, r.genre, r.top_tag, r.x, r.y].map(csvField).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** rows: [{ id, name, filename, duration, url }]: an extended M3U of the tracks' audio URLs. */
export function toM3u(rows) {
  const lines = ['#EXTM3U'];
  for (const r of rows) {
    const secs = Number.isFinite(r.duration) ? Math.round(r.duration) : -1;
    const name = String(r.name || r.filename || r.id).replace(/[\r\n]+/g, ' ');
    lines.push(`#EXTINF:${secs},${name}`);
    lines.push(r.url);
  }
  return lines.join('\n') + '\n';
}

export function formatTime(s) {
  if (!Number.isFinite(s) || s < 0) return '0:00';
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return `${m}:${String(r).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------
// Large maps (/api/v1/maps/points, docs/map.md "Large libraries"): the page loads an
// overview (a prefix of the server's level-of-detail order) and refines the 2D view with
// box queries.

/** Map sizes and point budgets; `search` (location.search) may override them for tests. */
export function lodOptions(search = '') {
  const p = new URLSearchParams(String(search || '').replace(/^\?/, ''));
  const num = (k, d) => {
    const v = Number(p.get(k));
    return p.get(k) != null && Number.isSafeInteger(v) && v >= 1 ? v : d;
  };
  return { threshold: num('lod_threshold', 100000), overview: num('lod_overview', 50000), refine: num('lod_refine', 50000) };
}

/**
 * Decodes a binary points answer: `layout` is its X-Tagmap-Layout ("ids:uint32le[N]" or
 * "ids:int64le[N]", then ",coords:float32le[N*dims]"). Returns { n, dims, ids: Float64Array,
 * coords: Float32Array } or throws on a size or layout that does not fit.
 */
export function decodePoints(buf, layout, dims) {
  const m = /^ids:(uint32|int64)le\[N\],coords:float32le\[N\*dims\]$/.exec(String(layout || ''));
  if (!m) throw new Error(`unknown points layout "${layout}"`);
  const idBytes = m[1] === 'uint32' ? 4 : 8;
  const n = buf.byteLength / (idBytes + 4 * dims);
  if (!Number.isInteger(n)) throw new Error(`the points answer has ${buf.byteLength} bytes, not n x (${idBytes} + 4 x ${dims})`);
  const ids = idBytes === 4 ? Float64Array.from(new Uint32Array(buf, 0, n)) : Float64Array.from(new BigInt64Array(buf, 0, n), Number);
  return { n, dims, ids, coords: new Float32Array(buf, n * idBytes, n * dims) };
}

/** The X-Tagmap-Bounds header ("min..., max...") as mapcore bounds() gives them. */
export function parseBounds(text, dims) {
  const v = String(text || '').split(',').map(Number);
  if (v.length !== 2 * dims || !v.every(Number.isFinite)) return null;
  const min = [0, 0, 0], max = [0, 0, 0];
  for (let d = 0; d < dims; ++d) { min[d] = v[d]; max[d] = v[dims + d]; }
  const center = min.map((x, d) => (x + max[d]) / 2);
  const extent = Math.max(max[0] - min[0], max[1] - min[1], max[2] - min[2]) || 1;
  return { min, max, center, extent };
}

/**
 * The map-space box [x0, y0, x1, y1] around the unprojected corners of a 2D view (each
 * [x, y]), grown by `margin` of its size on every side, so that a small pan stays inside.
 */
export function viewBox(corners, margin = 0.25) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of corners) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const mx = (x1 - x0) * margin, my = (y1 - y0) * margin;
  return [x0 - mx, y0 - my, x1 + mx, y1 + my];
}

/**
 * The points of a 2D refinement to draw (their indices), so that its box does not show as
 * a hard-edged denser rectangle: every point inside `view` ([x0, y0, x1, y1]), and in the
 * ring of `margin` of the view's size around it a share that falls linearly from all at
 * the view's edge to none at the ring's outer edge (t = 0..1, the larger of the x and y
 * distances outside the view over the ring's width). The share is taken by rank: the
 * refinement is in the server's LOD order, whose every prefix is spatially stratified, so
 * point i is kept when (i + 1/2) / n < 1 - t and the kept ones thin out evenly towards
 * the overview's density.
 */
export function refineFade(coords, n, view, margin = 0.25) {
  const [x0, y0, x1, y1] = view;
  const mx = (x1 - x0) * margin, my = (y1 - y0) * margin;
  const keep = [];
  for (let i = 0; i < n; ++i) {
    const x = coords[2 * i], y = coords[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const tx = x < x0 ? (x0 - x) / mx : x > x1 ? (x - x1) / mx : 0;
    const ty = y < y0 ? (y0 - y) / my : y > y1 ? (y - y1) / my : 0;
    const t = Math.max(tx, ty);
    if (!(t < 1)) continue;   // beyond the ring
    if (t === 0 || (i + 0.5) / n < 1 - t) keep.push(i);
  }
  return keep;
}

/** Whether box `outer` ([x0, y0, x1, y1]) holds box `inner`. */
export function boxContains(outer, inner) {
  return !!outer && !!inner && outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
}

/**
 * Concatenates point sets ({ n, dims, ids, coords }), each id once (its first occurrence
 * wins), into { n, ids: Float64Array, positions: Float32Array (n x 3, z = 0 in 2D) }. The
 * first set keeps its indices, so state indexed by it (cluster assignments) stays valid.
 */
export function mergePoints(sets, dims) {
  const seen = new Set();
  let total = 0;
  for (const s of sets) if (s) total += s.n;
  const ids = new Float64Array(total), positions = new Float32Array(total * 3);
  let n = 0;
  for (const s of sets) {
    if (!s) continue;
    for (let i = 0; i < s.n; ++i) {
      const id = s.ids[i];
      if (seen.has(id)) continue;
      seen.add(id);
      ids[n] = id;
      for (let d = 0; d < dims; ++d) positions[n * 3 + d] = s.coords[i * dims + d];
      ++n;
    }
  }
  return { n, ids: ids.slice(0, n), positions: positions.slice(0, n * 3) };
}

/**
 * Cluster of every point: `keep` (Int32Array) for the first keep.length points, else the
 * nearest of `centroids` (ties to the lower cluster); -1 for non-finite points.
 */
export function assignToCentroids(positions, n, centroids, dims, keep = new Int32Array(0)) {
  const out = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; ++i) {
    if (i < keep.length) { out[i] = keep[i]; continue; }
    let best = -1, bd = Infinity;
    for (let c = 0; c < centroids.length; ++c) {
      let s = 0;
      for (let d = 0; d < dims; ++d) { const v = positions[i * 3 + d] - centroids[c][d]; s += v * v; }
      if (s < bd) { bd = s; best = c; }
    }
    out[i] = Number.isFinite(bd) ? best : -1;
  }
  return out;
}
