// Browser test of the map page (examples/web, docs/map.md) against the real server:
// builds a small library with the real binaries in a temporary folder (init-db,
// index-audio, preprocess-all, compute-genre-similarity, project), starts `tagmap serve`
// on a free port, and drives headless Chromium (software WebGL) with playwright-core.
//
//   node tests/web/map_page_test.mjs --bin BUILD/bin --web BUILD/web --out BUILD/web-test [--keep]
//
// Screenshots land in --out (map-2d.png, map-3d.png, ...). Exit 0 when every check
// passed, 77 when something it needs is missing (ctest SKIP), 1 otherwise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM, inspectPng, launch } from './browser.mjs';
import { assert, check, finish } from './checks.mjs';
import { expectedShapes, writeFakeModel } from './fake_model.mjs';
import { startServe } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const repo = path.resolve(here, '../..');
const bin = path.resolve(opt('--bin', path.join(repo, 'build/bin')));
const webBuild = path.resolve(opt('--web', path.join(repo, 'build/web')));
const outDir = path.resolve(opt('--out', path.join(repo, 'build/web-test')));
const keep = argv.includes('--keep');
const fixtures = path.resolve(process.env.TAGMAP_FIXTURES || path.join(repo, '../shared'));
const site = path.join(webBuild, 'site');

const CLIPS = ['hedgewars-rock.mp3', 'wesnoth-knalgan-theme.wav', 'lincity-pronobozo.ogg', 'warzone-track4.opus'];
const UPLOAD_CLIP = 'etr-race1.opus';

// CI sets TAGMAP_REQUIRE_BROWSER=1: there a missing browser is a failure, not a skip.
function skip(why) {
  if (process.env.TAGMAP_REQUIRE_BROWSER === '1') {
    console.log(`FAIL: ${why} (TAGMAP_REQUIRE_BROWSER=1)`);
    process.exit(1);
  }
  console.log(`SKIP: ${why}`);
  process.exit(77);
}
for (const [what, p] of [['tagmap', path.join(bin, 'tagmap')], ['tagmap-convert', path.join(bin, 'tagmap-convert')],
  ['the assembled page', path.join(site, 'index.html')], ['deck.gl bundle', path.join(site, 'deck.gl/dist.min.js')],
  ['playwright-core', path.join(webBuild, 'node_modules/playwright-core')], ['chromium', CHROMIUM],
  ['the fixtures', path.join(fixtures, 'weights/musicnn-mtat.pth')]])
  if (!fs.existsSync(p)) skip(`${what} not found (${p})`);

fs.mkdirSync(outDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tagmap-web-test-'));
const log = (...a) => console.log('#', ...a);

function run(exe, args) {
  const t0 = Date.now();
  const r = spawnSync(path.join(bin, exe), args, { encoding: 'utf8', env: { ...process.env, TAGMAP_FIXTURES: fixtures } });
  if (r.status !== 0) {
    console.log(r.stdout, r.stderr);
    throw new Error(`${exe} ${args.join(' ')} exited ${r.status}`);
  }
  log(`${exe} ${args[0]} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return r;
}

// ---------------------------------------------------------------------------------------
// The fixture library: 4 clips of 4 soundtracks, two models (musicnn-mtat, trained; and
// musicnn-msd with partly synthetic weights: fake_model.mjs).

function buildLibrary() {
  const audio = path.join(tmp, 'audio'), weights = path.join(tmp, 'weights');
  fs.mkdirSync(audio);
  fs.mkdirSync(weights);
  for (const c of CLIPS) fs.copyFileSync(path.join(fixtures, 'audio', c), path.join(audio, c));
  fs.copyFileSync(path.join(fixtures, 'audio/labels.csv'), path.join(tmp, 'labels.csv'));
  const mtat = path.join(weights, 'musicnn-mtat.tmw');
  run('tagmap-convert', [path.join(fixtures, 'weights/musicnn-mtat.pth'), mtat]);
  const check = spawnSync(path.join(bin, 'tagmap-convert'), ['--list', mtat, '--model', 'musicnn-msd'], { encoding: 'utf8' });
  writeFakeModel(mtat, expectedShapes(check.stdout + check.stderr), path.join(weights, 'musicnn-msd.tmw'));
  // The sequence models, when their weights are here: preprocess-all stores their series
  // (the player's pitch and beat curves).
  const crepe = path.join(fixtures, 'weights/crepe-tiny.pth');
  if (fs.existsSync(crepe)) run('tagmap-convert', [crepe, path.join(weights, 'crepe-tiny.tmw')]);
  const pickles = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => path.join(fixtures, `madmom/models/beats_blstm_${i}.pkl`));
  if (pickles.every((p) => fs.existsSync(p)))
    run('tagmap-convert', ['--model', 'madmom-beats', ...pickles, path.join(weights, 'madmom-beats.tmw')]);
  const db = path.join(tmp, 'library.db');
  run('tagmap', ['init-db', '--db', db, '--audio-dir', audio]);
  run('tagmap', ['index-audio', '--db', db, '-q']);
  run('tagmap', ['preprocess-all', '--db', db, '--weights-dir', weights, '--jobs', '2', '-q']);
  run('tagmap', ['compute-genre-similarity', '--db', db, '--labels', path.join(tmp, 'labels.csv')]);
  // UMAP maps only: the t-SNE ones are left for the server to compute on demand, so that
  // the page meets 202 "computing" answers and polls.
  run('tagmap', ['project', '--db', db, '--method', 'umap', '--quiet']);
  return db;
}

const startServer = (db) => startServe({ bin, db, site });

// ---------------------------------------------------------------------------------------
// Checks

const near = (a, b, tol) => Math.abs(a - b) <= tol;

async function main() {
  const t0 = Date.now();
  const db = buildLibrary();
  log(`library built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const server = await startServer(db);
  const base = server.base;
  const getJson = async (p) => (await fetch(base + p)).json();
  const b = await launch(webBuild, { viewport: { width: 1280, height: 800 } });
  const page = b.page;
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));

  const idle = () => page.evaluate(() => window.tagmap.idle());
  const shot = async (name) => {
    await page.mouse.move(2, 2);   // no hover highlight
    await page.waitForTimeout(150);
    const png = await page.locator('#map').screenshot();
    fs.writeFileSync(path.join(outDir, name), png);
    return png;
  };
  const routes = (await getJson('/api/v1/')).routes || [];
  const models = (await getJson('/api/v1/models')).models.map((m) => m.model_id);
  const mainModel = models.includes('musicnn-mtat') ? 'musicnn-mtat' : models[0];   // trained weights
  const otherModel = models.find((m) => m !== mainModel);
  const tracks = (await getJson(`/api/v1/tracks?limit=100&model=${mainModel}`)).tracks;
  const byId = new Map(tracks.map((t) => [t.id, t]));
  log(`server ${base}, models ${models.join(', ')}, ${tracks.length} tracks, routes: ${routes.join(' ')}`);

  /** Screen positions of every point, from the API's JSON map and the page's view state. */
  async function screenPositions(q) {
    const map = await getJson(`/api/v1/maps?${q}`);
    const { vs, rect } = await page.evaluate(() => ({ vs: window.tagmap.viewState, rect: window.tagmap.canvasRect() }));
    const s = 2 ** vs.zoom;
    return map.points.map((p) => ({
      id: p.track_id,
      x: rect.left + rect.width / 2 + (p.coords[0] - vs.target[0]) * s,
      y: rect.top + rect.height / 2 - (p.coords[1] - vs.target[1]) * s,
    }));
  }
  const mapQuery = async () => {
    const s = await page.evaluate(() => window.tagmap.state);
    return `model=${s.model}&source=${s.source}&method=${s.method}&dims=${s.dims}`;
  };

  await check('page loads, draws the map of every track, no console errors', async () => {
    const res = await page.goto(`${base}/#model=${mainModel}`);
    assert(res.ok(), `GET / answered ${res.status()}`);
    await page.waitForFunction(() => window.tagmap && window.tagmap.count > 0, null, { timeout: 60000 });
    await idle();
    const n = await page.evaluate(() => window.tagmap.count);
    assert(n === CLIPS.length, `${n} points, expected ${CLIPS.length}`);
    assert(await page.locator('#error').isHidden(), `error shown: ${await page.locator('#error-text').textContent()}`);
    assert(consoleErrors.length === 0, `console errors: ${consoleErrors.join(' | ')}`);
    return `${n} points`;
  });

  let pts2d = null;
  await check('2D map renders (pixels) in the palette colours of the genres', async () => {
    const png = await shot('map-2d.png');
    pts2d = await screenPositions(await mapQuery());
    const rect = await page.evaluate(() => window.tagmap.canvasRect());
    const info = await inspectPng(page, png, { samples: pts2d.map((p) => [p.x - rect.left, p.y - rect.top]) });
    assert(info.ink > 4 * 60, `only ${info.ink} non-background pixels`);
    const legend = await page.evaluate(() => window.tagmap.legend);
    const genres = [...new Set(tracks.map((t) => t.genre))].sort();
    assert(JSON.stringify(legend.map((e) => e.label)) === JSON.stringify(genres), `legend ${JSON.stringify(legend)}`);
    const palette = JSON.parse(fs.readFileSync(path.join(site, 'palette.json'), 'utf8')).categorical;
    pts2d.forEach((p, i) => {
      const want = palette[genres.indexOf(byId.get(p.id).genre) % palette.length].match(/\w\w/g).map((h) => parseInt(h, 16));
      const got = info.samples[i];
      assert(want.every((v, c) => near(v, got[c], 12)), `track ${p.id}: pixel ${got} is not its genre colour ${want}`);
    });
    return `${info.ink} ink pixels`;
  });

  await check('2D points are round: each sprite as wide as tall, in pixels', async () => checkRoundSprites('map-2d-sprites.png'));

  /**
   * The drawn size of a point's sprite in pixels: the run of non-background pixels through
   * its centre, across and down, in a screenshot of the map (so a sprite stretched by the
   * projection or by a canvas whose drawing buffer lags its CSS size shows up).
   */
  async function spriteSize(png, p) {
    const rect = await page.evaluate(() => window.tagmap.canvasRect());
    return page.evaluate(async ({ b64, x, y }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const cx = Math.round(x), cy = Math.round(y);
      // The sprite's own colour (that of its centre): lines or marks that touch it do not count.
      const k0 = (cy * c.width + cx) * 4, c0 = [d[k0], d[k0 + 1], d[k0 + 2]];
      const ink = (i, j) => {
        const k = (j * c.width + i) * 4;
        return Math.max(255 - d[k], 255 - d[k + 1], 255 - d[k + 2]) > 60 &&
          Math.max(Math.abs(d[k] - c0[0]), Math.abs(d[k + 1] - c0[1]), Math.abs(d[k + 2] - c0[2])) <= 48;
      };
      let l = cx, r = cx, t = cy, b = cy;
      while (l > 0 && ink(l - 1, cy)) --l;
      while (r < c.width - 1 && ink(r + 1, cy)) ++r;
      while (t > 0 && ink(cx, t - 1)) --t;
      while (b < c.height - 1 && ink(cx, b + 1)) ++b;
      return { width: r - l + 1, height: b - t + 1, inked: ink(cx, cy) };
    }, { b64: png.toString('base64'), x: p.x - rect.left, y: p.y - rect.top });
  }
  /** Every isolated point's sprite in a fresh screenshot is as wide as it is tall. */
  async function checkRoundSprites(name) {
    const png = await shot(name);
    const ids = Object.keys(await page.evaluate(() => window.tagmap.allPositions())).map(Number);
    const scr = await page.evaluate((ids) => ids.map((id) => ({ id, ...window.tagmap.screenOf(id) })), ids);
    // Isolated ones only: the runs through a point must not reach into a neighbour.
    const radius = await page.evaluate(() => window.tagmap.pointRadius());
    // (Not the selected or playing track: its ring and chunk markers are drawn over it.)
    const busy = await page.evaluate(() => [window.tagmap.state.track, window.tagmap.playing]);
    // Nor one under the playing track's chunk path: its line and markers cover the sprite
    // (a point clear of the path by its radius and a marker's is measurable; the run test
    // below skips what a line still crosses).
    const path = await page.evaluate(() => window.tagmap.chunkPathOnScreen());
    const offPath = (p) => path.every((a, i) => {
      const b = path[Math.min(i + 1, path.length - 1)];
      const dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
      const t = len2 > 0 ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2)) : 0;
      return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy) > radius + 6;
    });
    // Nor one under the curves overlay along the map's bottom edge.
    const overlay = await page.evaluate(() => {
      const e = document.querySelector('#curves');
      if (!e || e.hidden) return null;
      const r = e.getBoundingClientRect();
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    });
    const uncovered = (p) => !overlay || p.y < overlay.top - 2 * radius || p.y > overlay.bottom ||
      p.x < overlay.left || p.x > overlay.right;
    const alone = scr.filter((p) => !busy.includes(p.id) && offPath(p) && uncovered(p) &&
      scr.every((q) => q === p || Math.hypot(q.x - p.x, q.y - p.y) > 4 * radius + 4));
    assert(alone.length > 0, 'no isolated point to measure');
    const sizes = [];
    for (const p of alone) {
      const s = await spriteSize(png, p);
      assert(s.inked, `track ${p.id}: nothing drawn at its centre (${p.x.toFixed(0)}, ${p.y.toFixed(0)})`);
      // A line drawn through the centre (3D's box edges, a chunk path) hides the sprite's
      // colour there: such a point cannot be measured.
      if (Math.min(s.width, s.height) < 1.5 * radius) continue;
      assert(Math.abs(s.width - s.height) <= 1, `track ${p.id}: sprite ${s.width} x ${s.height} px`);
      sizes.push(`${s.width}x${s.height}`);
    }
    assert(sizes.length > 0, 'every isolated point had a line through it');
    return sizes.join(' ');
  }

  // The most isolated point (so the hover cannot hit a neighbour).
  const isolated = () => pts2d.map((p) => ({ p, d: Math.min(...pts2d.filter((q) => q !== p).map((q) => Math.hypot(q.x - p.x, q.y - p.y))) }))
    .sort((a, b) => b.d - a.d)[0].p;

  let target = null;
  await check('hovering a point (position from the map data and the view) shows its card', async () => {
    target = isolated();
    const viaDeck = await page.evaluate((id) => window.tagmap.screenOf(id), target.id);
    assert(near(viaDeck.x, target.x, 1.5) && near(viaDeck.y, target.y, 1.5),
      `computed (${target.x}, ${target.y}) but deck.gl projects (${viaDeck.x}, ${viaDeck.y})`);
    await page.mouse.move(target.x - 30, target.y - 30);
    await page.mouse.move(target.x, target.y, { steps: 4 });
    const card = page.locator(`#card[data-track-id="${target.id}"]`);
    await card.waitFor({ state: 'visible', timeout: 5000 });
    const text = await card.textContent();
    const t = byId.get(target.id);
    assert(text.includes(t.name), `card "${text}" lacks the name ${t.name}`);
    assert(text.includes(t.genre), `card "${text}" lacks the genre ${t.genre}`);
    for (const tag of t.top_tags) assert(text.includes(tag.tag), `card "${text}" lacks the tag ${tag.tag}`);
    return t.name;
  });

  let sizeBeforeCurves = null;
  await check('clicking plays the track (audio playing, currentTime advances), neighbours listed', async () => {
    sizeBeforeCurves = await page.evaluate(() => window.tagmap.canvasSize());
    await page.mouse.click(target.x, target.y);
    await page.waitForFunction(() => { const a = document.querySelector('#audio'); return !a.paused && a.currentTime > 0.2; }, null, { timeout: 15000 });
    const t1 = await page.evaluate(() => document.querySelector('#audio').currentTime);
    await page.waitForTimeout(1000);
    const t2 = await page.evaluate(() => document.querySelector('#audio').currentTime);
    assert(t2 > t1 + 0.3, `currentTime ${t1} -> ${t2}`);
    const st = await page.evaluate(() => ({ playing: window.tagmap.playing, track: window.tagmap.state.track }));
    assert(st.playing === target.id && st.track === target.id, `playing ${st.playing}, selected ${st.track}`);
    await page.locator('#neighbors li[data-track-id]').first().waitFor({ timeout: 5000 });
    const nn = await page.locator('#neighbors li[data-track-id]').count();
    assert(nn === CLIPS.length - 1, `${nn} neighbours listed`);
    return `currentTime ${t1.toFixed(2)} -> ${t2.toFixed(2)}`;
  });

  if (routes.some((r) => r.includes('chunks'))) {
    await check('while playing: per-chunk path drawn, chunk under the playhead marked, its top tags charted', async () => {
      await page.waitForFunction(() => window.tagmap.chunkIndex >= 0, null, { timeout: 10000 });
      const rows = await page.locator('#chunk-bars .row').count();
      assert(rows >= 1, `${rows} bars`);
      const layers = await page.evaluate(() => window.tagmap.layerIds());
      assert(layers.includes('chunk-path') && layers.includes('chunk-now'), `layers ${layers}`);
      const starts = await page.evaluate(() => window.tagmap.chunkStarts);
      let moved = '';
      if (starts.length >= 2) {   // seek into the last chunk: the marker and the bars follow
        const k = starts.length - 1;
        const before = await page.locator('#chunk-label').textContent();
        await page.evaluate((t) => { document.querySelector('#audio').currentTime = t; }, starts[k] + 0.1);
        await page.waitForFunction((k) => window.tagmap.chunkIndex === k, k, { timeout: 5000 });
        const after = await page.locator('#chunk-label').textContent();
        assert(after !== before, `chunk label stayed ${after}`);
        moved = `, seek -> chunk ${k + 1} of ${starts.length}`;
      }
      await shot('map-2d-playing.png');
      return `${rows} bars${moved}`;
    });
  } else {
    console.log('ok - per-chunk path # SKIP the server has no /api/v1/tracks/<id>/chunks route yet');
  }

  if (routes.some((r) => r.includes('series')) && fs.existsSync(path.join(tmp, 'weights/crepe-tiny.tmw'))) {
    await check('pitch and beat curves drawn under the player, the playhead in sync, a click seeks', async () => {
      await page.waitForFunction(() => {
        const c = window.tagmap.curves;
        return c['crepe-tiny'] && c['madmom-beats'] && c['crepe-tiny'].width > 0 && c['madmom-beats'].width > 0;
      }, null, { timeout: 15000 });
      assert(await page.locator('#curves').isVisible(), 'curves hidden');
      const info = await page.evaluate(() => window.tagmap.curves);
      const p = info['crepe-tiny'], b = info['madmom-beats'];
      assert(p.trackId === target.id && b.trackId === target.id, `curves of ${p.trackId}/${b.trackId}`);
      assert(p.fps === 100 && p.frames > 1500 && b.frames > 1500, `frames ${p.frames} ${b.frames}`);
      assert(b.peak > 0.3 && b.peak <= 1, `beat peak ${b.peak}`);
      assert(p.voiced > 0 && p.range[1] > p.range[0], `pitch range ${p.range}, ${p.voiced} voiced columns`);
      assert(/CC BY-NC-SA 4\.0/.test(await page.locator('#beats-license').textContent()), 'no license next to the beat curve');
      // Something was drawn: coloured pixels on both canvases.
      const inked = await page.evaluate(() => ['#curve-pitch', '#curve-beats'].map((sel) => {
        const c = document.querySelector(sel);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ++n;
        return n;
      }));
      assert(inked[0] > 50 && inked[1] > 50, `inked pixels ${inked}`);
      // A click at 60% of the beat curve seeks there; the playhead follows while it plays.
      await page.evaluate(() => document.querySelector('#audio').play());
      const box = await page.locator('#curve-beats').boundingBox();
      await page.mouse.click(box.x + 0.6 * box.width, box.y + box.height / 2);
      const sync = async () => page.evaluate(() => {
        const a = document.querySelector('#audio'), c = window.tagmap.curves['madmom-beats'];
        return { t: a.currentTime, d: a.duration, x: c.playheadX, w: c.width };
      });
      const s1 = await sync();
      assert(near(s1.t / s1.d, 0.6, 0.05), `seeked to ${s1.t} of ${s1.d}`);
      await page.waitForTimeout(800);
      const s2 = await sync();
      assert(s2.t > s1.t + 0.3, `currentTime ${s1.t} -> ${s2.t}`);
      assert(near(s2.x, (s2.t / s2.d) * s2.w, 0.02 * s2.w), `playhead at ${s2.x} of ${s2.w} for ${s2.t} / ${s2.d} s`);
      assert(s2.x > s1.x, `playhead ${s1.x} -> ${s2.x}`);
      // The curves overlay the map: it kept its size (no layout shift, no stretched frame).
      const size = await page.evaluate(() => window.tagmap.canvasSize());
      assert(JSON.stringify(size) === JSON.stringify(sizeBeforeCurves), `map canvas ${JSON.stringify(sizeBeforeCurves)} -> ${JSON.stringify(size)} with the curves shown`);
      const scale = info['madmom-beats'].scale;
      assert(scale >= b.peak && scale <= 2.5 * Math.max(b.peak, 0.01), `beat axis 0..${scale} for a peak of ${b.peak}`);
      assert((await page.locator('#beats-scale').textContent()).includes(String(+scale.toPrecision(2))), 'the beat axis is labelled');
      await shot('map-2d-curves.png');
      const round = await checkRoundSprites('map-2d-curves-sprites.png');
      return `${p.frames} pitch frames, ${p.voiced} voiced columns, beat peak ${b.peak.toFixed(2)} on 0..${scale}, canvas ${size.width}x${size.height} kept, sprites ${round}`;
    });
  }

  await check('next plays the nearest neighbour, previous goes back', async () => {
    const first = (await page.locator('#neighbors li[data-track-id]').first().getAttribute('data-track-id'));
    await page.click('#p-next');
    await page.waitForFunction((id) => window.tagmap.playing === id, Number(first), { timeout: 5000 });
    await page.waitForFunction(() => !document.querySelector('#p-prev').disabled);
    await page.click('#p-prev');
    await page.waitForFunction((id) => window.tagmap.playing === id, target.id, { timeout: 5000 });
    await page.evaluate(() => document.querySelector('#audio').pause());
    await idle();
  });

  // Switching each selector changes the map.
  const snapshot = () => page.evaluate((id) => ({ key: window.tagmap.mapKey, pos: window.tagmap.positionOf(id), n: window.tagmap.count }), target.id);
  async function switchCheck(name, act, shotName) {
    await check(`switching ${name} changes the map`, async () => {
      const before = await snapshot();
      await act();
      await page.waitForFunction((k) => window.tagmap.mapKey !== k, before.key, { timeout: 60000 });
      await idle();
      const after = await snapshot();
      assert(after.n === CLIPS.length, `${after.n} points after the switch`);
      assert(after.pos && after.pos.some((v, i) => v !== before.pos[i]), `track ${target.id} stayed at ${before.pos}`);
      const png = await shot(shotName);
      const info = await inspectPng(page, png);
      assert(info.ink > 4 * 40, `only ${info.ink} non-background pixels`);
      assert(await page.locator('#error').isHidden(), `error: ${await page.locator('#error-text').textContent()}`);
      return `${before.key} -> ${after.key}, ${info.ink} ink pixels`;
    });
  }
  await switchCheck('source', () => page.selectOption('#sel-source', 'taggram'), 'map-2d-taggram.png');
  await switchCheck('method', () => page.selectOption('#sel-method', 'tsne'), 'map-2d-tsne.png');
  await switchCheck('dims (3D orbit view)', () => page.click('#btn-3d'), 'map-3d.png');
  await check('3D points are round too', async () => checkRoundSprites('map-3d-sprites.png'));
  await check('the pressed 3D button keeps its colours under the mouse (its label stays readable)', async () => {
    await page.hover('#btn-3d');
    const style = await page.evaluate(() => {
      const s = getComputedStyle(document.querySelector('#btn-3d'));
      return { background: s.backgroundColor, color: s.color };
    });
    await page.mouse.move(2, 2);
    assert(style.background === 'rgb(78, 121, 167)' && style.color === 'rgb(255, 255, 255)',
      `hovered pressed button: ${JSON.stringify(style)}`);
    return JSON.stringify(style);
  });
  if (otherModel) await switchCheck('model', () => page.selectOption('#sel-model', otherModel), 'map-3d-model2.png');

  await check('colour modes: top tag, one tag score, clusters (legend, labels)', async () => {
    for (const mode of ['toptag', 'tag', 'cluster']) {
      await page.selectOption('#sel-color', mode);
      await idle();
      const legend = await page.evaluate(() => window.tagmap.legend);
      assert(legend.length >= 1 && legend.reduce((s, e) => s + e.count, 0) === CLIPS.length, `${mode}: legend ${JSON.stringify(legend)}`);
    }
    const layers = await page.evaluate(() => window.tagmap.layerIds());
    assert(layers.includes('cluster-labels'), `layers ${layers}`);
  });

  let savedHash = '';
  await check('URL state round-trips through a reload', async () => {
    await page.locator('#legend li').first().click();              // hide a group
    await page.evaluate((id) => window.tagmap.select(id), target.id);
    await idle();
    await page.waitForTimeout(400);                                 // the camera's URL update
    const before = await page.evaluate(() => ({ s: window.tagmap.state, hash: location.hash, vs: window.tagmap.viewState }));
    savedHash = before.hash;
    await page.reload();
    await page.waitForFunction(() => window.tagmap && window.tagmap.count > 0, null, { timeout: 60000 });
    await idle();
    const after = await page.evaluate(() => ({ s: window.tagmap.state, vs: window.tagmap.viewState,
      sel: ['#sel-model', '#sel-source', '#sel-method', '#sel-color'].map((q) => document.querySelector(q).value),
      three: document.querySelector('#btn-3d').classList.contains('on'), info: document.querySelector('#track-info').textContent }));
    for (const k of ['model', 'source', 'method', 'dims', 'color', 'track'])
      assert(after.s[k] === before.s[k], `${k}: ${before.s[k]} -> ${after.s[k]}`);
    assert(JSON.stringify(after.s.hidden) === JSON.stringify(before.s.hidden) && after.s.hidden.length === 1, `hidden ${after.s.hidden}`);
    assert(JSON.stringify(after.sel) === JSON.stringify([before.s.model, before.s.source, before.s.method, before.s.color]), `selectors ${after.sel}`);
    assert(after.three === (before.s.dims === 3), 'the 2D/3D buttons');
    for (const k of ['zoom', 'rotationX', 'rotationOrbit']) assert(near(after.vs[k], before.vs[k], 1e-3), `camera ${k}: ${before.vs[k]} -> ${after.vs[k]}`);
    after.vs.target.forEach((v, i) => assert(near(v, before.vs.target[i], 1e-3), `camera target ${before.vs.target} -> ${after.vs.target}`));
    assert(after.info.includes(byId.get(target.id).name), 'the selected track panel');
    return before.hash;
  });

  await check('search flies to a track and selects it (2D)', async () => {
    await page.goto(`${base}/#model=${mainModel}&source=embedding&method=umap&dims=2&color=genre`);
    await page.waitForFunction(() => window.tagmap && window.tagmap.count > 0 && window.tagmap.state.dims === 2, null, { timeout: 60000 });
    await idle();
    const pts = await screenPositions(await mapQuery());
    const far = pts.map((p) => p.id).find((id) => id !== target.id);
    const t = byId.get(far);
    const q = t.filename.replace(/\.[^.]+$/, '').split('-').pop();  // e.g. "knalgan"
    await page.fill('#search', q);
    await page.locator(`#search-results li[data-track-id="${far}"]`).waitFor({ timeout: 5000 });
    await page.press('#search', 'Enter');
    await page.waitForFunction((id) => window.tagmap.state.track === id, far, { timeout: 5000 });
    await page.waitForFunction((id) => {
      const p = window.tagmap.positionOf(id), vs = window.tagmap.viewState;
      return Math.hypot(vs.target[0] - p[0], vs.target[1] - p[1]) < 1e-4 && !vs.transitionDuration;
    }, far, { timeout: 5000 }).catch(() => {});
    await page.waitForTimeout(900);
    const c = await page.evaluate((id) => ({ s: window.tagmap.screenOf(id), r: window.tagmap.canvasRect() }), far);
    assert(near(c.s.x, c.r.left + c.r.width / 2, 2) && near(c.s.y, c.r.top + c.r.height / 2, 2),
      `track ${far} at (${c.s.x}, ${c.s.y}), canvas centre (${c.r.left + c.r.width / 2}, ${c.r.top + c.r.height / 2})`);
    // With context: the found point's neighbours stay in view (up to 50 of them: here all).
    const visible = await page.evaluate(() => window.tagmap.visibleCount());
    const n = await page.evaluate(() => window.tagmap.count);
    assert(visible >= Math.min(n, 50), `${visible} of ${n} points in view after the flight`);
    return `"${q}" -> ${t.name}, ${visible} points in view`;
  });

  await check('lasso (2D) selects the enclosed points; M3U and CSV downloads list them', async () => {
    await page.click('#btn-fit');
    await page.waitForTimeout(800);
    await idle();
    const pts = (await screenPositions(await mapQuery())).sort((a, b) => a.x - b.x);
    const r = await page.evaluate(() => window.tagmap.canvasRect());
    // the two leftmost points (by screen x)
    const mid = (pts[1].x + pts[2].x) / 2;
    assert(pts[2].x - pts[1].x > 8, 'points 2 and 3 are too close in x for a lasso between them');
    const y0 = Math.max(r.top + 3, Math.min(...pts.map((p) => p.y)) - 25), y1 = Math.min(r.top + r.height - 3, Math.max(...pts.map((p) => p.y)) + 25);
    const x0 = Math.max(r.left + 3, pts[0].x - 25);
    await page.click('#btn-lasso');
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    await page.mouse.move(mid, y0, { steps: 8 });
    await page.mouse.move(mid, y1, { steps: 8 });
    await page.mouse.move(x0, y1, { steps: 8 });
    await page.mouse.move(x0, y0 + 2, { steps: 8 });
    await page.mouse.up();
    const want = pts.slice(0, 2).map((p) => p.id).sort((a, b) => a - b);
    const got = (await page.evaluate(() => window.tagmap.selection)).sort((a, b) => a - b);
    assert(JSON.stringify(got) === JSON.stringify(want), `selected ${got}, expected ${want}`);
    await shot('map-2d-lasso.png');
    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = fs.readFileSync(await csvDl.path(), 'utf8').trim().split(/\r?\n/);
    assert(csv[0].startsWith('track_id,') && csv.length === 3, `csv: ${csv}`);
    assert(JSON.stringify(csv.slice(1).map((l) => Number(l.split(',')[0])).sort((a, b) => a - b)) === JSON.stringify(want), `csv ids ${csv}`);
    const [m3uDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-m3u')]);
    const m3u = fs.readFileSync(await m3uDl.path(), 'utf8').trim().split('\n');
    assert(m3u[0] === '#EXTM3U', 'M3U header');
    const urls = m3u.filter((l) => !l.startsWith('#'));
    assert(JSON.stringify(urls.map((u) => Number(/tracks\/(\d+)\/audio$/.exec(u)[1])).sort((a, b) => a - b)) === JSON.stringify(want), `m3u ${m3u}`);
    fs.writeFileSync(path.join(outDir, csvDl.suggestedFilename()), csv.join('\n') + '\n');
    fs.writeFileSync(path.join(outDir, m3uDl.suggestedFilename()), m3u.join('\n') + '\n');
    return `tracks ${want.join(', ')} -> ${csvDl.suggestedFilename()}, ${m3uDl.suggestedFilename()}`;
  });

  await check('legend entries hide and show their group', async () => {
    await page.click('#selection-clear');
    const png0 = await shot('map-2d-legend.png');
    const ink0 = (await inspectPng(page, png0)).ink;
    await page.locator('#legend li').first().click();
    await idle();
    const ink1 = (await inspectPng(page, await shot('map-2d-legend-hidden.png'))).ink;
    await page.locator('#legend li').first().click();
    await idle();
    const ink2 = (await inspectPng(page, await shot('map-2d-legend.png'))).ink;
    assert(ink1 < ink0 && near(ink2, ink0, ink0 * 0.02), `ink ${ink0} -> hidden ${ink1} -> shown ${ink2}`);
    return `${ink0} -> ${ink1} -> ${ink2}`;
  });

  if (routes.some((r) => r.includes('jobs'))) {
    await check('dropping an audio file uploads it, and its point appears without moving the others', async () => {
      const old = await page.evaluate(() => window.tagmap.allPositions());
      const b64 = fs.readFileSync(path.join(fixtures, 'audio', UPLOAD_CLIP)).toString('base64');
      await page.evaluate(({ b64, name }) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: 'audio/ogg' }));
        document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, { b64, name: UPLOAD_CLIP });
      await page.waitForFunction((n) => window.tagmap.count === n, CLIPS.length + 1, { timeout: 180000 });
      await idle();
      const now = await page.evaluate(() => window.tagmap.allPositions());
      for (const [id, p] of Object.entries(old))
        assert(now[id] && p.every((v, i) => near(v, now[id][i], 1e-5)), `track ${id} moved: ${p} -> ${now[id]}`);
      assert(await page.locator('#error').isHidden(), `error: ${await page.locator('#error-text').textContent()}`);
    });
  } else {
    console.log('ok - upload by drop # SKIP the server has no POST /api/v1/tracks + /api/v1/jobs/<id> yet');
  }

  await check('no console errors during all of the above', async () => {
    assert(consoleErrors.length === 0, consoleErrors.join(' | '));
  });

  await check('a JSON error from the API is shown to the user', async () => {
    await page.fill('#search', 'x'.repeat(300));
    await page.locator('#error').waitFor({ state: 'visible', timeout: 5000 });
    const text = await page.locator('#error-text').textContent();
    assert(/parameter 'q'/.test(text) && /bad_request|400/.test(text), text);
    return text;
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
if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
else log(`kept ${tmp}`);
console.log(`screenshots: ${outDir}`);
finish(crashed);
