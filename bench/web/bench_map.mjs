// The map page at 10k and 100k points in headless Chromium (software WebGL, SwiftShader),
// against the synthetic library of mock_api.mjs (the server's formats, N tracks on
// Gaussian blobs; no fixture library is that large). Per size, over --loads page loads:
//   first render  navigation start -> first frame with every point drawn (binary map)
//   coloured      navigation start -> first frame after the whole track list (paged JSON,
//                 1000 per request) arrived and the points were coloured by genre
//   hover         pointer event -> hover card filled (GPU pick by index), --hovers per load;
//                 a pick is valid when the picked point lies under the cursor (it may be
//                 another point drawn over the one aimed at)
//   pan frame     mean ms per frame while dragging the map for 1 s
// and prints the medians.
//
//   node bench/web/bench_map.mjs --web BUILD/web [--sizes 10000,100000] [--loads 5] [--hovers 20]
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from '../../tests/web/browser.mjs';
import { startMock } from './mock_api.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const webBuild = path.resolve(opt('--web', path.join(here, '../../build/web')));
const sizes = opt('--sizes', '10000,100000').split(',').map(Number);
const loads = Number(opt('--loads', 5));
const hovers = Number(opt('--hovers', 20));
const W = 1280, H = 800;

const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');

async function measure(n) {
  const mock = await startMock({ site: path.join(webBuild, 'site'), n });
  const base = `http://127.0.0.1:${mock.port}`;
  const b = await launch(webBuild, { viewport: { width: W, height: H } });
  const page = b.page;
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const out = { first: [], colored: [], hover: [], hit: 0, tries: 0, pan: [] };
  for (let l = 0; l < loads; ++l) {
    await page.goto(`${base}/?load=${l}#color=genre`, { waitUntil: 'load' });   // a new document each time
    await page.waitForFunction(() => window.tagmap && window.tagmap.timings.colored != null, null, { timeout: 300000, polling: 50 });
    await page.evaluate(() => window.tagmap.idle(120000));
    const t = await page.evaluate(() => window.tagmap.timings);
    out.first.push(t.firstPoints);
    out.colored.push(t.colored);
    if (argv.includes('--verbose')) console.log(`  load ${l}: first ${f1(t.firstPoints)} coloured ${f1(t.colored)}`);
    // hover: random visible points, one pointer move each (from a corner of the map)
    await page.evaluate(() => {
      window.__pm = [];
      document.querySelector('#map').addEventListener('pointermove', (e) => window.__pm.push(e.timeStamp), true);
    });
    const ids = await page.evaluate(({ k, seed }) => {
      let a = seed;
      const rnd = () => { a = (a * 1103515245 + 12345) % 2147483648; return a / 2147483648; };
      const n = window.tagmap.count, r = window.tagmap.canvasRect(), out = [];
      while (out.length < k) {
        const id = 1 + Math.floor(rnd() * n), s = window.tagmap.screenOf(id);
        if (s && s.x > r.left + 40 && s.x < r.left + r.width - 40 && s.y > r.top + 40 && s.y < r.top + r.height - 40) out.push({ id, ...s });
      }
      return out;
    }, { k: hovers, seed: 7 + l });
    for (const p of ids) {
      await page.mouse.move(5, H - 5);   // the player bar: no card
      await page.waitForTimeout(60);
      const before = await page.evaluate(() => (window.tagmap.lastCard ? window.tagmap.lastCard.t : 0));
      await page.mouse.move(p.x, p.y);
      const r = await page.waitForFunction((t0) => {
        const c = window.tagmap.lastCard;
        return c && c.t > t0 ? { t: c.t, id: c.id, pm: window.__pm[window.__pm.length - 1], at: window.tagmap.screenOf(c.id) } : null;
      }, before, { timeout: 30000, polling: 'raf' }).then((h) => h.jsonValue()).catch(() => null);
      ++out.tries;
      if (!r) continue;
      out.hover.push(r.t - r.pm);
      // a valid pick: the point under the cursor (this one, or one drawn over it)
      if (Math.hypot(r.at.x - p.x, r.at.y - p.y) <= 1.6 + 4 + 1) ++out.hit;
    }
    // pan: drag for ~1 s, count frames
    const r = await page.evaluate(() => window.tagmap.canvasRect());
    const f0 = await page.evaluate(() => ({ f: window.tagmap.frames, t: performance.now() }));
    await page.mouse.move(r.left + r.width / 2, r.top + r.height / 2);
    await page.mouse.down();
    for (let s = 0; s < 30; ++s) { await page.mouse.move(r.left + r.width / 2 + s * 6, r.top + r.height / 2 + s * 3); await page.waitForTimeout(33); }
    await page.mouse.up();
    const f1_ = await page.evaluate(() => ({ f: window.tagmap.frames, t: performance.now() }));
    if (f1_.f > f0.f) out.pan.push((f1_.t - f0.t) / (f1_.f - f0.f));
  }
  await b.close();
  await mock.close();
  return { n, errors, ...out };
}

console.log(`map page, headless Chromium (${W}x${H}, SwiftShader), ${loads} loads x ${hovers} hovers per size; medians in ms`);
console.log('points    first render   coloured   hover (card)   pan ms/frame   valid picks');
for (const n of sizes) {
  const r = await measure(n);
  console.log(`${String(n).padStart(7)}   ${f1(median(r.first)).padStart(12)}   ${f1(median(r.colored)).padStart(8)}   ${f1(median(r.hover)).padStart(12)}   ${f1(median(r.pan)).padStart(12)}   ${r.hit}/${r.tries}`);
  if (r.errors.length) console.log(`  errors: ${r.errors.join(' | ')}`);
}
