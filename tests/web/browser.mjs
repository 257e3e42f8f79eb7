// Headless Chromium for the map page's tests and benchmarks: Debian's /usr/bin/chromium
// driven by playwright-core (from the build tree's node_modules, examples/web), software
// WebGL (SwiftShader), a fresh profile, no network beyond the page's server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

export const CHROMIUM = process.env.TAGMAP_CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/** playwright-core from <webBuild>/node_modules (ES imports ignore NODE_PATH). */
export function requirePlaywright(webBuild) {
  const req = createRequire(path.join(path.resolve(webBuild), 'package.json'));
  return req('playwright-core');
}

/** A persistent context on a fresh user-data dir (removed by close()). */
export async function launch(webBuild, { viewport = { width: 1280, height: 800 } } = {}) {
  const { chromium } = requirePlaywright(webBuild);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tagmap-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    acceptDownloads: true,
  });
  const page = context.pages()[0] || (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * In the page: decode a PNG (base64) and count the pixels that differ from the background
 * (white) by more than `tol` in some channel; optionally sample pixels at points.
 */
export async function inspectPng(page, png, { tol = 40, samples = [] } = {}) {
  return page.evaluate(async ({ b64, tol, samples }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4)
      if (Math.max(255 - d[i], 255 - d[i + 1], 255 - d[i + 2]) > tol) ++ink;
    const at = samples.map(([x, y]) => {
      const i = (Math.round(y) * c.width + Math.round(x)) * 4;
      return [d[i], d[i + 1], d[i + 2]];
    });
    return { ink, width: c.width, height: c.height, samples: at };
  }, { b64: png.toString('base64'), tol, samples });
}
