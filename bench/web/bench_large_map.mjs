// A map of a million points through the real server and page: a synthetic library
// (tests/web/large_library.mjs: N tracks on 12 blobs, 2D and 3D maps written with the
// sqlite3 shell), `tagmap serve`, headless Chromium (software WebGL). Prints, as medians:
//   routes       latency of /api/v1/maps/points (first call: LOD order built), overview,
//                box, ids, summary of the overview, and the whole map as /maps?format=f32
//   server       RSS after the LOD order of the 2D map was built (and its peak)
//   page         first render (navigation -> first frame of the overview), coloured
//                (-> details of the overview applied), hover (pointer event -> card),
//                refine (last wheel event of a zoom -> frame with the view's points), and
//                pan ms per frame, over --loads page loads
//
//   node bench/web/bench_large_map.mjs --bin BUILD/bin --web BUILD/web [--tracks 1000000]
//        [--db FILE (kept, reused when it exists)] [--loads 3] [--hovers 10] [--no-results]
//   (with results, the default: every track has a taggram, so top tags and tag search are real)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from '../../tests/web/browser.mjs';
import { makeLargeLibrary } from '../../tests/web/large_library.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const bin = path.resolve(opt('--bin', path.join(here, '../../build/bin')));
const webBuild = path.resolve(opt('--web', path.join(here, '../../build/web')));
const N = Number(opt('--tracks', 1000000));
const loads = Number(opt('--loads', 3)), hovers = Number(opt('--hovers', 10));
const results = !argv.includes('--no-results');   // model results (taggrams): top tags, tag search
const db = path.resolve(opt('--db', path.join(os.tmpdir(), `tagmap-large-${N}${results ? '-results' : ''}.db`)));
const W = 1280, H = 800;

const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length ? (s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) : NaN; };
const f0 = (v) => (Number.isFinite(v) ? v.toFixed(0) : '-');
const rss = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`${k}:\\s+(\\d+)`).exec(s) || [0, 0])[1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
};

if (!fs.existsSync(db)) console.log(`synthetic library of ${N} tracks: ${makeLargeLibrary({ bin, db, n: N, results }).toFixed(1)} s (${(fs.statSync(db).size / 1e6).toFixed(0)} MB)`);
const proc = spawn(path.join(bin, 'tagmap'), ['serve', '--db', db, '--port', '0', '--web-dir', path.join(webBuild, 'site')], { stdio: ['ignore', 'pipe', 'pipe'] });
let err = '';
const port = await new Promise((resolve, reject) => {
  proc.stderr.on('data', (d) => { err += d; const m = /http:\/\/[^:/]+:(\d+)\//.exec(err); if (m) resolve(Number(m[1])); });
  proc.on('exit', (c) => reject(new Error(`tagmap serve exited ${c}: ${err}`)));
});
proc.stdout.resume();
const base = `http://127.0.0.1:${port}`;
const before = rss(proc.pid);

async function timed(p) {
  const t0 = performance.now();
  const r = await fetch(base + p);
  const body = Buffer.from(await r.arrayBuffer());
  if (r.status !== 200) throw new Error(`${p}: HTTP ${r.status} ${body}`);
  return { ms: performance.now() - t0, bytes: body.length, headers: r.headers };
}
const q = 'model=musicnn-mtat&dims=2';
const cold = await timed(`/api/v1/maps/points?${q}&limit=0`);
const afterBuild = rss(proc.pid);
// The track details in memory (names, genres, top tags, search index): built in the
// background from the first points request on.
const tDetails = performance.now();
while (((await (await fetch(`${base}/api/v1/health`)).json()).details_builds || 0) < 1) await new Promise((r) => setTimeout(r, 100));
const detailsMs = performance.now() - tDetails + cold.ms;
const afterDetails = rss(proc.pid);
const routes = {};
// Boxes of 4 x 4 map units (a view zoomed in ~3 levels from the whole map) around points
// of the overview.
const ov = await (await fetch(`${base}/api/v1/maps/points?${q}&limit=50000`)).arrayBuffer();
const ovXY = new Float32Array(ov, 4 * 50000, 2 * 50000);
const boxes = [11, 9011, 21011, 33011, 47011].map((i) => [ovXY[2 * i] - 2, ovXY[2 * i + 1] - 2, ovXY[2 * i] + 2, ovXY[2 * i + 1] + 2]);
for (let r = 0; r < 5; ++r) {
  for (const [name, p] of [
    ['probe (limit=0)', `limit=0`],
    ['overview, 50,000 points', `limit=50000`],
    ['box, after the overview, 50,000', `box=${boxes[r].join(',')}&after=50000&limit=50000`],
    ['10 ids', `ids=${Array.from({ length: 10 }, (_, i) => 1 + i * 99991).join(',')}`],
    ['summary of the overview (JSON)', `limit=50000&format=summary`],
    ['3D overview, 50,000 points', `limit=50000&dims=3`],
  ]) (routes[name] = routes[name] || []).push(await timed(`/api/v1/maps/points?${q}&${p}`));
  (routes['whole map, /maps?format=f32'] = routes['whole map, /maps?format=f32'] || []).push(await timed(`/api/v1/maps?${q}&format=f32`));
  for (const [name, query] of [['search, 11 matches ("Track 12345")', 'Track 12345'], ['search, no match', 'zzzz-no-such'],
    ['search, common ("rock", 20)', 'rock'], ['search, tag-only ("harpsichord")', 'harpsichord'], ['search, late in filename order', 'synthetic/0099']])
    (routes[name] = routes[name] || []).push(await timed(`/api/v1/search?model=musicnn-mtat&limit=20&q=${encodeURIComponent(query)}`));
}
const afterRoutes = rss(proc.pid);
console.log(`${N} points; server RSS ${f0(before.rss)} MB at start, ${f0(afterBuild.rss)} MB after the 2D LOD order was built (first call ${f0(cold.ms)} ms), ` +
  `${f0(afterDetails.rss)} MB once the track details were in memory (${f0(detailsMs)} ms from the first call), ` +
  `${f0(afterRoutes.rss)} MB after the route runs (peak ${f0(afterRoutes.peak)} MB)`);
console.log('route                                   median ms    bytes');
for (const [k, v] of Object.entries(routes)) console.log(`${k.padEnd(38)} ${f0(median(v.map((x) => x.ms))).padStart(9)}   ${v[0].bytes}`);

const b = await launch(webBuild, { viewport: { width: W, height: H } });
const page = b.page;
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
const out = { first: [], colored: [], hover: [], refine: [], refined: [], pan: [] };
for (let l = 0; l < loads; ++l) {
  await page.goto(`${base}/?load=${l}#model=musicnn-mtat&dims=2&color=genre`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.tagmap && window.tagmap.timings.colored != null, null, { timeout: 600000, polling: 100 });
  await page.evaluate(() => window.tagmap.idle(300000));
  const t = await page.evaluate(() => window.tagmap.timings);
  out.first.push(t.firstPoints);
  out.colored.push(t.colored);
  await page.evaluate(() => {
    window.__pm = [];
    document.querySelector('#map').addEventListener('pointermove', (e) => window.__pm.push(e.timeStamp), true);
  });
  const pts = await page.evaluate(({ k, seed }) => {
    let a = seed;
    const rnd = () => { a = (a * 1103515245 + 12345) % 2147483648; return a / 2147483648; };
    const all = Object.keys(window.tagmap.allPositions()).map(Number), r = window.tagmap.canvasRect(), o = [];
    while (o.length < k) {
      const id = all[Math.floor(rnd() * all.length)], s = window.tagmap.screenOf(id);
      if (s && s.x > r.left + 40 && s.x < r.left + r.width - 40 && s.y > r.top + 40 && s.y < r.top + r.height - 40) o.push({ id, ...s });
    }
    return o;
  }, { k: hovers, seed: 7 + l });
  for (const p of pts) {
    await page.mouse.move(5, H - 5);
    await page.waitForTimeout(60);
    const t0 = await page.evaluate(() => (window.tagmap.lastCard ? window.tagmap.lastCard.t : 0));
    await page.mouse.move(p.x, p.y);
    const r = await page.waitForFunction((tt) => {
      const c = window.tagmap.lastCard;
      return c && c.t > tt ? { t: c.t, pm: window.__pm[window.__pm.length - 1] } : null;
    }, t0, { timeout: 30000, polling: 'raf' }).then((h) => h.jsonValue()).catch(() => null);
    if (r) out.hover.push(r.t - r.pm);
  }
  // zoom in by 2.5 levels around the centre of a blob; refine = last wheel -> refined frame
  const c = pts[0];
  await page.mouse.move(c.x, c.y);
  const n0 = await page.evaluate(() => (window.tagmap.lod ? window.tagmap.lod.refines : 0));
  let lastWheel = 0;
  for (let i = 0; i < 5; ++i) { await page.mouse.wheel(0, -300); lastWheel = await page.evaluate(() => performance.now()); await page.waitForTimeout(60); }
  await page.waitForFunction((n) => window.tagmap.lod && window.tagmap.lod.refines > n, n0, { timeout: 120000, polling: 50 });
  await page.waitForTimeout(500);
  await page.evaluate(() => window.tagmap.idle(120000));
  const tr = await page.evaluate(() => ({ t: window.tagmap.timings.refined, lod: window.tagmap.lod }));
  out.refine.push(tr.t - lastWheel);
  out.refined.push(tr.lod.loaded);
  // pan: drag for ~1 s at the zoomed view, count frames
  const rc = await page.evaluate(() => window.tagmap.canvasRect());
  const a0 = await page.evaluate(() => ({ f: window.tagmap.frames, t: performance.now() }));
  await page.mouse.move(rc.left + rc.width / 2, rc.top + rc.height / 2);
  await page.mouse.down();
  for (let s = 0; s < 30; ++s) { await page.mouse.move(rc.left + rc.width / 2 + s * 6, rc.top + rc.height / 2 + s * 3); await page.waitForTimeout(33); }
  await page.mouse.up();
  const a1 = await page.evaluate(() => ({ f: window.tagmap.frames, t: performance.now() }));
  if (a1.f > a0.f) out.pan.push((a1.t - a0.t) / (a1.f - a0.f));
  console.log(`  load ${l}: first ${f0(t.firstPoints)} coloured ${f0(t.colored)} refine ${f0(tr.t - lastWheel)} (${tr.lod.loaded} loaded)`);
}
await b.close();
const end = rss(proc.pid);
proc.kill('SIGTERM');
console.log(`page (${W}x${H}, SwiftShader), ${loads} loads, medians in ms: first render ${f0(median(out.first))}, coloured ${f0(median(out.colored))}, ` +
  `hover ${f0(median(out.hover))}, refine ${f0(median(out.refine))} (${f0(median(out.refined))} points loaded), pan ${f0(median(out.pan))} ms/frame`);
console.log(`server RSS at the end ${f0(end.rss)} MB (peak ${f0(end.peak)} MB)`);
if (errors.length) console.log(`page errors: ${errors.join(' | ')}`);
