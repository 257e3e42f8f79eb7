// Stand-in for `tagmap serve --web-dir`, used by the tests only while the server has no
// such option: serves the assembled page folder and forwards everything under /api/ (and
// the seed routes) to the real `tagmap serve`, unchanged (Range and multipart included).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.png': 'image/png',
};

export function startFront({ site, backendPort, host = '127.0.0.1' }) {
  const root = fs.realpathSync(site);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/api/')) {
      const up = http.request({ host, port: backendPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => { res.writeHead(502, { 'content-type': 'application/json' }); res.end(JSON.stringify({ error: 'bad_gateway', detail: e.message })); });
      req.pipe(up);
      return;
    }
    let rel = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    if (!rel || rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', detail: 'no such file' }));
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') res.end(); else fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, host, () => resolve({ port: server.address().port, close: () => new Promise((r) => server.close(r)) }));
  });
}
