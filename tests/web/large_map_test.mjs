// Browser test of a large map (docs/map.md, "Large libraries"): a synthetic library of
// 200,000 tracks (large_library.mjs: `tagmap init-db` + the sqlite3 shell), the real
// `tagmap serve`, headless Chromium. The page is opened with small budgets
// (?lod_overview=10000&lod_refine=10000) so that the level-of-detail path runs: the
// overview is the server's first 10,000 points, zooming in loads exactly the points of the
// view's box, hover and colour work on what is loaded, and search flies to a track that
// was not loaded. 3D shows the overview.
//
//   node tests/web/large_map_test.mjs --bin BUILD/bin --web BUILD/web --out BUILD/web-test
//
// Exit 0 when every check passed, 77 when something it needs is missing, 1 otherwise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM, inspectPng, launch } from './browser.mjs';
import { assert, check, finish } from './checks.mjs';
import { GENRES, SQLITE3, makeLargeLibrary } from './large_library.mjs';
import { startServe } from './serve.mjs';
import * as core from '../../examples/web/mapcore.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const repo = path.resolve(here, '../..');
const bin = path.resolve(opt('--bin', path.join(repo, 'build/bin')));
const webBuild = path.resolve(opt('--web', path.join(repo, 'build/web')));
const outDir = path.resolve(opt('--out', path.join(repo, 'build/web-test')));
const site = path.join(webBuild, 'site');
const N = Number(opt('--tracks', 200000)), OVERVIEW = 10000, REFINE = 10000;

function skip(why) {
  if (process.env.TAGMAP_REQUIRE_BROWSER === '1') {
    console.log(`FAIL: ${why} (TAGMAP_REQUIRE_BROWSER=1)`);
    process.exit(1);
  }
  console.log(`SKIP: ${why}`);
  process.exit(77);
}
for (const [what, p] of [['tagmap', path.join(bin, 'tagmap')], ['the assembled page', path.join(site, 'index.html')],
  ['deck.gl bundle', path.join(site, 'deck.gl/dist.min.js')], ['playwright-core', path.join(webBuild, 'node_modules/playwright-core')],
  ['chromium', CHROMIUM], ['the sqlite3 shell', SQLITE3]])
  if (!fs.existsSync(p)) skip(`${what} not found (${p})`);

fs.mkdirSync(outDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tagmap-large-map-'));
const log = (...a) => console.log('#', ...a);

const startServer = (db) => startServe({ bin, db, site });


/** The server's points answer, decoded in node (uint32 ids: the synthetic ids are small). */
async function points(base, query) {
  const r = await fetch(`${base}/api/v1/maps/points?model=musicnn-mtat&${query}`);
  assert(r.status === 200, `points ${query}: HTTP ${r.status}`);
  assert(r.headers.get('x-tagmap-layout') === 'ids:uint32le[N],coords:float32le[N*dims]', r.headers.get('x-tagmap-layout'));
  const buf = await r.arrayBuffer();
  const dims = /dims=3/.test(query) ? 3 : 2;
  const n = buf.byteLength / (4 + 4 * dims);
  return { ids: Array.from(new Uint32Array(buf, 0, n)), coords: new Float32Array(buf, 4 * n, n * dims), inBox: Number(r.headers.get('x-tagmap-in-box')) };
}

async function main() {
  const secs = makeLargeLibrary({ bin, db: path.join(tmp, 'library.db'), n: N });
  log(`synthetic library of ${N} tracks in ${secs.toFixed(1)} s`);
  const server = await startServer(path.join(tmp, 'library.db'));
  const base = server.base;
  const b = await launch(webBuild, { viewport: { width: 1000, height: 700 } });
  const page = b.page;
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  // The synthetic tracks have no model results: their neighbours are a 404 by design.
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400 && !/\/neighbors\?/.test(r.url())) failed.push(`${r.status()} ${r.url()}`); });
  const idle = () => page.evaluate(() => window.tagmap.idle(60000));
  const lod = () => page.evaluate(() => window.tagmap.lod);

  await check('the overview is the first points of the server\'s LOD order, drawn and coloured', async () => {
    const t0 = Date.now();
    await page.goto(`${base}/?lod_overview=${OVERVIEW}&lod_refine=${REFINE}#model=musicnn-mtat&dims=2&color=genre`);
    await page.waitForFunction(() => window.tagmap && window.tagmap.count > 0, null, { timeout: 60000 });
    await idle();
    const l = await lod();
    assert(l && l.total === N && l.overview === OVERVIEW && l.loaded === OVERVIEW && l.refined === 0, JSON.stringify(l));
    const first = await points(base, `limit=${OVERVIEW}`);
    const pos = await page.evaluate((ids) => ids.map((id) => window.tagmap.positionOf(id)), first.ids.slice(0, 2000));
    pos.forEach((p, i) => assert(p && p[0] === first.coords[2 * i] && p[1] === first.coords[2 * i + 1], `point ${first.ids[i]}: ${p}`));
    const legend = await page.evaluate(() => window.tagmap.legend);
    assert(legend.length === 12 && legend.every((e) => GENRES_OK(e.label)), JSON.stringify(legend));
    assert(legend.reduce((a, e) => a + e.count, 0) === OVERVIEW, 'legend counts');
    const png = await page.locator('#map').screenshot();
    fs.writeFileSync(path.join(outDir, 'large-overview.png'), png);
    const { ink } = await inspectPng(page, png);
    assert(ink > 5000, `only ${ink} pixels drawn`);
    const info = await page.locator('#info').textContent();
    assert(info.includes(`${N.toLocaleString('en')} tracks (${OVERVIEW.toLocaleString('en')} shown)`), info);
    return `${((Date.now() - t0) / 1000).toFixed(1)} s to load, ${ink} px`;
  });
  function GENRES_OK(label) { return GENRES.includes(label); }

  await check('zooming in loads exactly the points of the view\'s box beyond the overview', async () => {
    const rect = await page.evaluate(() => window.tagmap.canvasRect());
    // Zoom towards a blob: the screen position of an overview point.
    const first = await points(base, 'limit=1');
    const at = await page.evaluate((id) => window.tagmap.screenOf(id), first.ids[0]);
    await page.mouse.move(at.x, at.y);
    for (let i = 0; i < 6; ++i) { await page.mouse.wheel(0, -300); await page.waitForTimeout(60); }
    await page.waitForFunction(() => window.tagmap.lod && window.tagmap.lod.refines >= 1, null, { timeout: 30000 });
    await page.waitForTimeout(400);   // a later wheel event may start one more refinement
    await idle();
    const l = await lod();
    assert(l.refined > 0 && l.shown > 0 && l.loaded === l.overview + l.shown, JSON.stringify(l));
    const want = await points(base, `box=${l.box.join(',')}&after=${OVERVIEW}&limit=${REFINE}`);
    assert(want.ids.length === l.refined, `${want.ids.length} in the box, ${l.refined} fetched`);
    // Drawn: every box point inside the view, a share falling to none across the margin
    // around it (core.refineFade: the refined box blends into the overview).
    const shown = new Set(core.refineFade(want.coords, want.ids.length, l.view, l.margin).map((i) => want.ids[i]));
    const loaded = await page.evaluate((ids) => ids.map((id) => window.tagmap.positionOf(id) != null), want.ids);
    want.ids.forEach((id, i) => assert(loaded[i] === shown.has(id), `box point ${id}: loaded ${loaded[i]}, shown ${shown.has(id)}`));
    const inView = want.ids.filter((_, i) => { const x = want.coords[2 * i], y = want.coords[2 * i + 1]; return x >= l.view[0] && x <= l.view[2] && y >= l.view[1] && y <= l.view[3]; }).length;
    assert(inView > 0 && shown.size > inView && shown.size < want.ids.length, `${inView} in view, ${shown.size} shown of ${want.ids.length}`);
    fs.writeFileSync(path.join(outDir, 'large-zoomed.png'), await page.locator('#map').screenshot());
    return `${l.refined} points refined in a box of ${want.inBox}, ${shown.size} shown (${inView} in the view), ${rect.width}x${rect.height}`;
  });

  await check('hover on a refined point shows its card (name and genre from the details)', async () => {
    const l = await lod();
    const want = await points(base, `box=${l.box.join(',')}&after=${OVERVIEW}&limit=${REFINE}`);
    // A refined point on screen whose nearest loaded neighbour is at least 8 px away.
    const target = await page.evaluate((ids) => {
      const r = window.tagmap.canvasRect();
      const all = Object.entries(window.tagmap.allPositions());
      const vs = window.tagmap.viewState, s = 2 ** vs.zoom;
      const scr = (p) => [r.left + r.width / 2 + (p[0] - vs.target[0]) * s, r.top + r.height / 2 - (p[1] - vs.target[1]) * s];
      const pts = all.map(([id, p]) => [Number(id), ...scr(p)]);
      for (const id of ids) {
        const q = pts.find((x) => x[0] === id);
        if (!q || q[1] < r.left + 20 || q[2] < r.top + 20 || q[1] > r.left + r.width - 20 || q[2] > r.top + r.height - 20) continue;
        if (pts.every((x) => x[0] === id || Math.hypot(x[1] - q[1], x[2] - q[2]) >= 8)) return { id, x: q[1], y: q[2] };
      }
      return null;
    }, want.ids.slice(0, 4000));
    assert(target, 'no isolated refined point on screen');
    await page.mouse.move(target.x - 20, target.y - 20);
    await page.mouse.move(target.x, target.y, { steps: 3 });
    await page.waitForFunction((id) => window.tagmap.lastCard && window.tagmap.lastCard.id === id, target.id, { timeout: 5000 });
    await page.waitForFunction(() => !/loading/.test(document.querySelector('#card').textContent), null, { timeout: 10000 });
    const text = await page.locator('#card').textContent();
    assert(text.includes(`Track ${target.id}`) && text.includes(GENRES[target.id % 12]), text);
    return `track ${target.id}`;
  });

  await check('search flies to a track that was not loaded', async () => {
    // An id of 1000-1999: "Track 1abc" matches more than the 20 results the page asks for
    // (the track itself among them: "Track 1abc" sorts first by filename).
    const id = await page.evaluate(() => {
      for (let i = 1999; i >= 1000; --i) if (window.tagmap.positionOf(i) == null) return i;
      return null;
    });
    assert(id != null, 'every point loaded?');
    await page.fill('#search', `Track ${id}`);
    await page.waitForSelector(`#search-results li[data-track-id="${id}"]`, { timeout: 10000 });
    await page.press('#search', 'Enter');
    await page.waitForFunction((i) => window.tagmap.state.track === i && window.tagmap.positionOf(i) != null, id, { timeout: 10000 });
    await page.waitForTimeout(900);   // the flight
    await idle();
    const p = await page.evaluate((i) => window.tagmap.positionOf(i), id);
    const server = await points(base, `ids=${id}`);
    assert(p[0] === server.coords[0] && p[1] === server.coords[1], `${p} vs ${Array.from(server.coords)}`);
    const vs = await page.evaluate(() => window.tagmap.viewState);
    assert(Math.abs(vs.target[0] - p[0]) < 1e-3 && Math.abs(vs.target[1] - p[1]) < 1e-3, `view at ${vs.target}`);
    const visible = await page.evaluate(() => window.tagmap.visibleCount());
    assert(visible >= 50, `${visible} points in view after the flight: no context`);
    return `track ${id}, ${visible} points in view`;
  });

  await check('3D shows the overview (a prefix of the 3D map\'s order)', async () => {
    await page.click('#btn-3d');
    await page.waitForFunction(() => window.tagmap.state.dims === 3 && window.tagmap.lod && window.tagmap.lod.overview > 0, null, { timeout: 30000 });
    await idle();
    const l = await lod();
    assert(l.total === N && l.overview === OVERVIEW && l.refined === 0, JSON.stringify(l));
    const first = await points(base, `dims=3&limit=100`);
    const p = await page.evaluate((id) => window.tagmap.positionOf(id), first.ids[99]);
    assert(p && p[2] === first.coords[3 * 99 + 2], `${p}`);
    const { ink } = await inspectPng(page, await page.locator('#map').screenshot());
    assert(ink > 3000, `only ${ink} pixels drawn`);
  });

  await check('no failed requests but the neighbours of tracks without results, no page errors', async () => {
    assert(failed.length === 0, failed.join(' | '));
    const errs = consoleErrors.filter((e) => !/status of 404/.test(e));
    assert(errs.length === 0, errs.join(' | '));
  });
  await b.close();
  await server.stop();
}

let crashed = null;
try {
  await main();
} catch (e) {
  crashed = e;
  console.log(`not ok - harness: ${e && e.stack ? e.stack : e}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
finish(crashed);
