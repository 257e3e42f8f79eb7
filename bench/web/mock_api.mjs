// A synthetic library behind the map page's API (the routes and JSON shapes of
// docs/api.md that the page uses), for the page benchmark at sizes no fixture library
// has (10k, 100k tracks): N tracks in 12 genres on Gaussian blobs, deterministic in N.
// It serves the assembled page folder too. Not a test double of the server's logic:
// only of its formats.
//
//   node bench/web/mock_api.mjs --site BUILD/web/site --tracks 100000 [--port 8765]
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const GENRES = ['ambient', 'blues', 'classical', 'country', 'electronic', 'folk', 'hip hop', 'jazz', 'metal', 'pop', 'reggae', 'rock'];
const TAGS = ['guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast', 'piano',
  'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male', 'singing', 'vocals',
  'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman', 'male vocal', 'no vocal', 'pop', 'soft', 'sitar',
  'solo', 'man', 'classic', 'choir', 'voice', 'new age', 'dance', 'male voice', 'female vocal', 'beats', 'harp',
  'cello', 'no voice', 'weird', 'country', 'metal', 'female voice', 'choral'];
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json' };

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const gauss = (r) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

export function makeLibrary(n) {
  const r = mulberry32(n);
  const tracks = new Array(n);
  for (let i = 0; i < n; ++i) {
    const g = Math.floor(r() * GENRES.length);
    const t0 = (g * 4 + Math.floor(r() * 4)) % TAGS.length;
    const s0 = 0.3 + 0.5 * r();
    tracks[i] = {
      id: i + 1, g,
      filename: `synthetic/${GENRES[g]}/track-${String(i + 1).padStart(6, '0')}.mp3`,
      title: `Track ${i + 1}`, artist: `Artist ${1 + Math.floor(r() * 500)}`,
      genre: r() < 0.05 ? null : GENRES[g], duration: 120 + Math.floor(r() * 240),
      top_tags: [{ tag: TAGS[t0], score: s0 }, { tag: TAGS[(t0 + 7) % TAGS.length], score: s0 * 0.6 }, { tag: TAGS[(t0 + 13) % TAGS.length], score: s0 * 0.4 }],
    };
  }
  return tracks;
}

function trackJson(t) {
  return {
    id: t.id, filename: t.filename, name: `${t.artist} - ${t.title}`, title: t.title, artist: t.artist, album: null,
    genre: t.genre, file_genre: t.genre, label: null, year: null, track_number: null, duration: t.duration,
    sample_rate: 44100, channels: 2, codec: 'mp3', size_bytes: 4000000, processed_at: '2026-12-01 00:00:00',
    vanished: false, probe_error: null, audio_url: `/api/v1/tracks/${t.id}/audio`, top_tags: t.top_tags,
  };
}

/** The map of (source, method, dims): per-genre blob centres moved by the key's seed. */
function makeMap(tracks, key, dims) {
  let h = 0;
  for (const c of key) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  const r = mulberry32(h);
  const centres = GENRES.map(() => Array.from({ length: dims }, () => (r() - 0.5) * 40));
  const n = tracks.length;
  const buf = Buffer.alloc(n * 8 + n * dims * 4);
  for (let i = 0; i < n; ++i) {
    buf.writeBigInt64LE(BigInt(tracks[i].id), i * 8);
    for (let d = 0; d < dims; ++d) buf.writeFloatLE(centres[tracks[i].g][d] + gauss(r) * 2.5, n * 8 + (i * dims + d) * 4);
  }
  return buf;
}

function silentWav(seconds = 8, rate = 8000) {
  const n = seconds * rate, b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVEfmt ', 8); b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; ++i) b.writeInt16LE(Math.round(3000 * Math.sin(2 * Math.PI * 220 * i / rate)), 44 + i * 2);
  return b;
}

export function startMock({ site, n, port = 0, host = '127.0.0.1' }) {
  const tracks = makeLibrary(n);
  const maps = new Map();
  const wav = silentWav();
  const root = fs.realpathSync(site);
  const json = (res, obj, status = 200) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
  const err = (res, status, detail) => json(res, { error: status === 404 ? 'not_found' : 'bad_request', detail }, status);
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const p = u.pathname, q = u.searchParams;
    let m;
    if (p === '/api/v1/' || p === '/api/v1') return json(res, { api: 'tagmap', version: 1, routes: ['health', 'tracks', 'tracks/<id>', 'tracks/<id>/neighbors', 'tracks/<id>/chunks', 'tracks/<id>/audio', 'models', 'maps', 'summary', 'tag-scores', 'search', 'genre-similarity'] });
    if (p === '/api/v1/models') return json(res, { models: ['musicnn-mtat', 'vgg-mtat'].map((id) => ({ model_id: id, model: id.split('-')[0], dataset: 'mtat', n_tags: 50, embedding_dim: 200, input_samples: 48000, weights_digest: '0', tags: TAGS })) });
    if (p === '/api/v1/tracks') {
      const off = Number(q.get('offset') || 0), lim = Math.min(1000, Number(q.get('limit') || 100));
      return json(res, { offset: off, limit: lim, total: n, model: q.get('model'), tracks: tracks.slice(off, off + lim).map(trackJson) });
    }
    if (p === '/api/v1/summary') {
      const genres = GENRES, top = [], scores = [];
      for (const t of tracks) for (const x of t.top_tags) { top.push(TAGS.indexOf(x.tag)); scores.push(x.score); }
      return json(res, { model: q.get('model'), count: n, n: 3, ids: tracks.map((t) => t.id), names: tracks.map((t) => `${t.artist} - ${t.title}`),
        genres, genre: tracks.map((t) => (t.genre ? t.g : -1)), tag_names: TAGS, top_tags: top, top_scores: scores });
    }
    if (p === '/api/v1/tag-scores') {
      const tag = q.get('tag');
      if (!TAGS.includes(tag)) return err(res, 400, `no tag '${tag}'`);
      return json(res, { model: q.get('model'), tag, count: n, ids: tracks.map((t) => t.id),
        scores: tracks.map((t) => { const h = t.top_tags.find((x) => x.tag === tag); return h ? h.score : 0.02 + 0.1 * ((t.id * 2654435761) % 1000) / 1000; }) });
    }
    if ((m = /^\/api\/v1\/tracks\/(\d+)$/.exec(p))) {
      const t = tracks[Number(m[1]) - 1];
      return t ? json(res, trackJson(t)) : err(res, 404, `no track with id ${m[1]}`);
    }
    if ((m = /^\/api\/v1\/tracks\/(\d+)\/neighbors$/.exec(p))) {
      const id = Number(m[1]), k = Number(q.get('k') || 10);
      const nb = [];
      for (let j = 1; nb.length < k && j < n; ++j) {
        const o = tracks[(id - 1 + j * 7919) % n];
        if (o.g === tracks[id - 1].g && o.id !== id) nb.push({ track_id: o.id, similarity: 0.9 - nb.length * 0.01, filename: o.filename, name: `${o.artist} - ${o.title}`, genre: o.genre });
      }
      return json(res, { track_id: id, model: q.get('model'), source: q.get('source'), k, neighbors: nb });
    }
    if ((m = /^\/api\/v1\/tracks\/(\d+)\/chunks$/.exec(p))) {
      const id = Number(m[1]), dims = Number(q.get('dims') || 2);
      const key = `${q.get('model')}/${q.get('source')}/${q.get('method')}/${dims}`;
      if (!maps.has(key)) maps.set(key, makeMap(tracks, key, dims));
      const buf = maps.get(key), base = [];
      for (let d = 0; d < dims; ++d) base.push(buf.readFloatLE(n * 8 + ((id - 1) * dims + d) * 4));
      const r = mulberry32(id);
      const chunks = Array.from({ length: 6 }, (_, c) => ({ index: c, start: c * 3, coords: base.map((v) => v + gauss(r) * 1.5),
        top_tags: Array.from({ length: 5 }, (_, j) => ({ tag: TAGS[(id + c + j * 3) % TAGS.length], score: 0.6 - j * 0.1 - c * 0.02 })) }));
      return json(res, { track_id: id, hop_seconds: 3, chunks });
    }
    if ((m = /^\/api\/v1\/tracks\/(\d+)\/audio$/.exec(p))) { res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length }); return res.end(wav); }
    if (p === '/api/v1/maps') {
      const dims = Number(q.get('dims') || 2);
      const key = `${q.get('model')}/${q.get('source')}/${q.get('method')}/${dims}`;
      if (!maps.has(key)) maps.set(key, makeMap(tracks, key, dims));
      const buf = maps.get(key);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-tagmap-shape': `${n},${dims}`, 'content-length': buf.length });
      return res.end(buf);
    }
    if (p === '/api/v1/search') {
      const s = (q.get('q') || '').toLowerCase();
      if (!s) return err(res, 400, "parameter 'q' is required");
      const out = [];
      for (const t of tracks) { if (out.length >= 20) break; if (t.filename.includes(s) || `${t.artist} - ${t.title}`.toLowerCase().includes(s)) out.push(trackJson(t)); }
      return json(res, { query: s, count: out.length, results: out });
    }
    if (p.startsWith('/api/')) return err(res, 404, 'no such route');
    let rel = decodeURIComponent(p).replace(/^\/+/, '');
    if (!rel) rel = 'index.html';
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file)) return err(res, 404, 'no such file');
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve({ port: server.address().port, close: () => new Promise((r) => server.close(r)) })));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = process.argv.slice(2);
  const opt = (k, d) => { const i = a.indexOf(k); return i >= 0 ? a[i + 1] : d; };
  const srv = await startMock({ site: opt('--site', 'build/web/site'), n: Number(opt('--tracks', 10000)), port: Number(opt('--port', 8765)) });
  console.log(`mock library on http://127.0.0.1:${srv.port}/`);
}
