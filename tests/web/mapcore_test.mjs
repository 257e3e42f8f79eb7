// Unit tests of the map page's pure helpers (examples/web/mapcore.js), under node's test
// runner: node tests/web/mapcore_test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as core from '../../examples/web/mapcore.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const palette = JSON.parse(fs.readFileSync(path.join(here, '../../examples/web/palette.json'), 'utf8'));

test('URL state round-trips, defaults fill gaps, junk is ignored', () => {
  const s = { ...core.DEFAULT_STATE, model: 'musicnn-msd', source: 'taggram', method: 'tsne', dims: 3,
    color: 'tag', tag: 'hard rock', hidden: ['a,b', '~none'], track: 42, cam: [1.5, -2.25, 0.125, 3.5, 25, 30] };
  const back = core.parseState('#' + core.formatState(s));
  assert.deepEqual(back, s);
  const d = core.parseState('#source=bogus&dims=7&color=nope&track=x&cam=1,2');
  assert.deepEqual(d, { ...core.DEFAULT_STATE, hidden: [] });
  assert.equal(core.parseState('').dims, 2);
});

test('camera <-> view state in 2D and 3D', () => {
  const vs2 = { target: [1, 2, 0], zoom: 3 };
  assert.deepEqual(core.viewStateFromCam(core.camFromViewState(vs2, 2), 2), vs2);
  const vs3 = { target: [1, 2, 3], zoom: 4, rotationX: 10, rotationOrbit: 20 };
  assert.deepEqual(core.viewStateFromCam(core.camFromViewState(vs3, 3), 3), vs3);
  assert.equal(core.viewStateFromCam([1, 2, 3], 3), null);   // a 2D camera on a 3D map
});

test('palette: sorted categories take Tableau 10 in order, cycling; shared file', () => {
  assert.equal(palette.categorical.length, 10);
  assert.equal(palette.categorical[0], '#4e79a7');
  assert.equal(palette.unlabeled, '#c0c0c0');
  const names = ['wesnoth', 'etr', 'hedgewars', 'etr', ...Array.from({ length: 10 }, (_, i) => `g${i}`)];
  const { sorted, colors } = core.categoricalColors(palette, names);
  assert.deepEqual(sorted.slice(0, 3), ['etr', 'g0', 'g1']);
  assert.deepEqual(colors.get('etr'), core.hexToRgb('#4e79a7'));
  assert.deepEqual(colors.get('g9'), core.hexToRgb(palette.categorical[(sorted.indexOf('g9')) % 10]));
  assert.equal(sorted.indexOf('wesnoth'), 12);
  assert.deepEqual(colors.get('wesnoth'), core.hexToRgb(palette.categorical[2]));   // 13th: cycles
  // code point order = UTF-8 byte order (C++ std::string), not UTF-16 order
  assert.deepEqual(['\u{1F600}', '\uFF5E', 'a', 'B'].sort(core.compareCodePoints), ['B', 'a', '\uFF5E', '\u{1F600}']);
});

test('k-means is deterministic, finds separated blobs, numbers clusters by size', () => {
  const n = 300, pos = new Float32Array(n * 3);
  const rand = core.mulberry32(3);
  const centres = [[0, 0], [10, 0], [0, 10]];
  for (let i = 0; i < n; ++i) {
    const c = centres[i < 150 ? 0 : i < 250 ? 1 : 2];
    pos[i * 3] = c[0] + rand();
    pos[i * 3 + 1] = c[1] + rand();
  }
  pos[0] = NaN;   // left out
  const a = core.kmeans(pos, n, { k: 3 });
  const b = core.kmeans(pos, n, { k: 3 });
  assert.deepEqual(a.assign, b.assign);
  assert.equal(a.assign[0], -1);
  assert.deepEqual(a.sizes, [149, 100, 50]);
  assert.equal(core.defaultK(4), 2);
  assert.equal(core.defaultK(13), 3);
  assert.equal(core.defaultK(100000), 10);
  const labels = core.clusterLabels(Int32Array.from([0, 0, 1]), 2, [
    { top_tags: [{ tag: 'rock', score: 0.5 }, { tag: 'guitar', score: 0.4 }] },
    { top_tags: [{ tag: 'guitar', score: 0.3 }] }, { top_tags: [{ tag: 'piano', score: 0.2 }] }]);
  assert.deepEqual(labels, [['guitar', 'rock'], ['piano']]);
});

test('lasso geometry', () => {
  const sq = [[0, 0], [10, 0], [10, 10], [0, 10]];
  assert.ok(core.pointInPolygon(5, 5, sq));
  assert.ok(!core.pointInPolygon(15, 5, sq));
  const pos = Float32Array.from([1, 1, 0, 20, 20, 0, 9, 9, 0, 5, 5, 0]);
  assert.deepEqual(core.pointsInPolygon(pos, 4, 3, sq, (i) => i !== 3), [0, 2]);
});

test('fit: the whole map fits the canvas; 2D and 3D share the scale rule', () => {
  const pos = Float32Array.from([-5, 0, 0, 5, 2, 0]);
  const b = core.bounds(pos, 2);
  assert.deepEqual(b.center, [0, 1, 0]);
  const vs = core.fitViewState(b, 2, 800, 600);
  assert.ok(10 * 2 ** vs.zoom < 600 && 10 * 2 ** vs.zoom > 400);
  assert.equal(core.fitViewState(b, 3, 800, 600).rotationX, 25);
});

test('exports: CSV quoting, M3U lines', () => {
  const csv = core.toCsv([{ id: 1, filename: 'a,b.mp3', name: 'Say "hi"', genre: 'rock', top_tag: 'guitar', x: 1.5, y: 2 }]);
  assert.equal(csv, 'track_id,filename,name,genre,top_tag,x,y\r\n1,"a,b.mp3","Say ""hi""",rock,guitar,1.5,2\r\n');
  const m3u = core.toM3u([{ id: 3, name: 'A - B\nC', duration: 12.6, url: 'http://h/api/v1/tracks/3/audio' }]);
  assert.equal(m3u, '#EXTM3U\n#EXTINF:13,A - B C\nhttp://h/api/v1/tracks/3/audio\n');
  assert.equal(core.formatTime(65.2), '1:05');
});

test('CPU picking: nearest kept point within the radius, ties to the one in front', () => {
  // world -> pixels: x' = 10 x + 100, y' = -10 y + 50 (y up on screen), depth = z
  const m = [10, 0, 0, 0, 0, -10, 0, 0, 0, 0, 1, 0, 100, 50, 0, 1];
  const pos = new Float32Array([
    0, 0, 0,       // (100, 50)
    1, 0, 0,       // (110, 50)
    0, 0, -1,      // (100, 50), nearer the camera than point 0
    5, 5, 0,       // (150, 0)
  ]);
  assert.equal(core.pickNearest(pos, 4, m, 109, 51, 4), 1);
  assert.equal(core.pickNearest(pos, 4, m, 100.2, 50, 4), 2);              // tie: the one in front
  assert.equal(core.pickNearest(pos, 4, m, 100.2, 50, 4, (i) => i !== 2), 0);  // hidden points are skipped
  assert.equal(core.pickNearest(pos, 4, m, 130, 30, 4), -1);               // nothing within 4 px
  assert.equal(core.pickNearest(pos, 2, m, 105.5, 50, 4), -1);             // 5.5 px from both
  const behind = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, -1, 0, 0, 0, 0];       // w = -z: z > 0 is behind
  assert.equal(core.pickNearest(new Float32Array([0, 0, 1]), 1, behind, 0, 0, 4), -1);
});

test('large maps: LOD options, binary points, bounds, view boxes', () => {
  assert.deepEqual(core.lodOptions(''), { threshold: 100000, overview: 50000, refine: 50000 });
  assert.deepEqual(core.lodOptions('?lod_threshold=10&lod_overview=5&lod_refine=x'), { threshold: 10, overview: 5, refine: 50000 });
  assert.equal(core.lodOptions('?lod_overview=0').overview, 50000);
  // uint32 ids, then float32 coordinates (2D)
  const buf = new ArrayBuffer(2 * (4 + 8));
  new Uint32Array(buf, 0, 2).set([7, 4294967295]);
  new Float32Array(buf, 8, 4).set([1.5, -2, 3, 4.25]);
  const p = core.decodePoints(buf, 'ids:uint32le[N],coords:float32le[N*dims]', 2);
  assert.equal(p.n, 2);
  assert.deepEqual(Array.from(p.ids), [7, 4294967295]);
  assert.deepEqual(Array.from(p.coords), [1.5, -2, 3, 4.25]);
  // int64 ids (3D)
  const b64 = new ArrayBuffer(8 + 12);
  new BigInt64Array(b64, 0, 1).set([5000000000n]);
  new Float32Array(b64, 8, 3).set([1, 2, 3]);
  assert.deepEqual(Array.from(core.decodePoints(b64, 'ids:int64le[N],coords:float32le[N*dims]', 3).ids), [5000000000]);
  assert.throws(() => core.decodePoints(new ArrayBuffer(13), 'ids:uint32le[N],coords:float32le[N*dims]', 2), /13 bytes/);
  assert.throws(() => core.decodePoints(buf, 'ids:int16le[N]', 2), /layout/);
  assert.deepEqual(core.parseBounds('-1,2,3,6', 2), { min: [-1, 2, 0], max: [3, 6, 0], center: [1, 4, 0], extent: 4 });
  assert.equal(core.parseBounds('1,2,3', 2), null);
  assert.deepEqual(core.viewBox([[0, 0], [4, 0], [4, 2], [0, 2]], 0.25), [-1, -0.5, 5, 2.5]);
  assert.ok(core.boxContains([0, 0, 10, 10], [1, 1, 9, 10]));
  assert.ok(!core.boxContains([0, 0, 10, 10], [1, 1, 11, 9]));
  assert.ok(!core.boxContains(null, [1, 1, 2, 2]));
});

test('large maps: merging point sets keeps the first indices and each id once', () => {
  const a = { n: 2, ids: [1, 2], coords: new Float32Array([0, 0, 1, 1]) };
  const b = { n: 3, ids: [2, 3, 4], coords: new Float32Array([9, 9, 2, 2, 3, 3]) };
  const m = core.mergePoints([a, null, b], 2);
  assert.equal(m.n, 4);
  assert.deepEqual(Array.from(m.ids), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(m.positions), [0, 0, 0, 1, 1, 0, 2, 2, 0, 3, 3, 0]);   // id 2 from a
  const c = core.assignToCentroids(m.positions, m.n, [[0, 0], [3, 3]], 2, new Int32Array([1]));
  assert.deepEqual(Array.from(c), [1, 0, 1, 1]);   // the first kept, the others nearest
  const nan = core.assignToCentroids(new Float32Array([NaN, 0, 0]), 1, [[0, 0]], 2);
  assert.deepEqual(Array.from(nan), [-1]);
});

test('fly-to zoom: the k nearest points fill the view, not one point', () => {
  const rand = core.mulberry32(3);
  for (const dims of [2, 3]) {
    const n = 2000, pos = new Float32Array(n * 3);
    for (let j = 0; j < n * 3; ++j) pos[j] = (j % 3 === 2 && dims === 2) ? 0 : rand() * 40 - 20;
    pos[7 * 3 + 2] = dims === 2 ? 0 : pos[7 * 3 + 2];
    const opts = { dims, k: 50, width: 1000, height: 600, fill: 0.8, extent: 40 };
    const z = core.contextZoom(pos, n, 7, opts);
    // At zoom z, one map unit is 2^z px: the circle of 0.8 x 300 px around the point holds
    // exactly its 50 nearest (the 50th on its edge).
    const px = (j) => Math.hypot(...[0, 1, 2].slice(0, dims).map((d) => pos[j * 3 + d] - pos[7 * 3 + d])) * 2 ** z;
    const inside = (tol) => Array.from({ length: n }, (_, j) => j).filter((j) => j !== 7 && px(j) <= 240 + tol).length;
    assert.equal(inside(1e-6 * 240), 50, `${dims}D`);
    assert.equal(inside(-1e-6 * 240), 49, `${dims}D`);
  }
  // Fewer points than k: all of them; non-finite ones are left out.
  const few = new Float32Array([0, 0, 0, 3, 4, 0, 1, 0, 0, NaN, 0, 0]);
  assert.ok(Math.abs(core.contextZoom(few, 4, 0, { k: 50, width: 100, height: 100, fill: 1 }) - Math.log2(50 / 5)) < 1e-12);
  // Every point on the same spot: 1/200 of the extent stands in for the radius.
  const same = new Float32Array(30).fill(2);
  assert.ok(Math.abs(core.contextZoom(same, 10, 3, { k: 5, width: 400, height: 400, fill: 1, extent: 10 }) - Math.log2(200 / 0.05)) < 1e-12);
});

test('large maps: a refinement fades out over the ring around the view', () => {
  // 40,000 points in a stratified order over [-2, 3]^2 (a jittered grid, cells in random
  // order, as the LOD order would give them): the view is [0, 1]^2, the ring 0.25 wide.
  const rand = core.mulberry32(11), side = 200, n = side * side;
  const cells = Array.from({ length: n }, (_, c) => c);
  for (let c = n - 1; c > 0; --c) { const j = Math.floor(rand() * (c + 1)); [cells[c], cells[j]] = [cells[j], cells[c]]; }
  const coords = new Float32Array(2 * n);
  cells.forEach((c, i) => { coords[2 * i] = -2 + 5 * ((c % side) + rand()) / side; coords[2 * i + 1] = -2 + 5 * (Math.floor(c / side) + rand()) / side; });
  const keep = new Set(core.refineFade(coords, n, [0, 0, 1, 1], 0.25));
  const band = (lo, hi) => {   // points at distance t in [lo, hi) outside the view: kept / all
    let all = 0, kept = 0;
    for (let i = 0; i < n; ++i) {
      const x = coords[2 * i], y = coords[2 * i + 1];
      const t = Math.max(x < 0 ? -x / 0.25 : x > 1 ? (x - 1) / 0.25 : 0, y < 0 ? -y / 0.25 : y > 1 ? (y - 1) / 0.25 : 0);
      if (t >= lo && t < hi) { ++all; if (keep.has(i)) ++kept; }
    }
    return kept / all;
  };
  assert.equal(band(0, 1e-9), 1, 'everything inside the view');
  assert.equal(band(1, Infinity), 0, 'nothing beyond the ring');
  // Linear in between: the share at t is about 1 - t.
  for (const t of [0.1, 0.3, 0.5, 0.7, 0.9]) {
    const share = band(t - 0.05, t + 0.05);
    assert.ok(Math.abs(share - (1 - t)) < 0.05, `t ${t}: ${share}`);
  }
  assert.deepEqual(core.refineFade(new Float32Array([NaN, 0, 0.5, 0.5]), 2, [0, 0, 1, 1]), [1]);
});
