// A synthetic library with a large cached map, for the large-map browser test and
// bench/web/bench_large_map.mjs: `tagmap init-db` makes the schema, the sqlite3 shell fills
// it in one transaction (no audio, no model run): N tracks (titles, 12 genres), one model
// row, and the default-keyed UMAP maps (2D and 3D) with points on 12 Gaussian-like blobs;
// with `results`, a result row (taggram) of the model for every track.
// Deterministic: coordinates come from integer hashes of the track id, not random().
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const SQLITE3 = process.env.TAGMAP_SQLITE3 || '/usr/bin/sqlite3';
export const GENRES = ['ambient', 'blues', 'classical', 'country', 'disco', 'electronic',
  'folk', 'hiphop', 'jazz', 'metal', 'pop', 'rock'];
// The key the server looks maps up by (store::map_params of the default UMAP spec).
const UMAP_PARAMS = '{"min_dist":0.1,"n_neighbors":15,"seed":42}';

// With `results`: every track gets a result row of the model (a 200-d zero embedding and a
// taggram of 50 tags from one of 96 templates, 8 per genre, so that top tags follow the
// genre), the model its tag names: what search's tag matches and the top-tag colours read.
export const TAG_NAMES = ['guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock',
  'fast', 'piano', 'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male', 'singing',
  'vocals', 'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman', 'male vocal', 'no vocal', 'pop', 'soft',
  'sitar', 'solo', 'man', 'classic', 'choir', 'voice', 'new age', 'dance', 'male voice', 'female vocal', 'beats',
  'harp', 'cello', 'no voice', 'weird', 'country', 'metal', 'female voice', 'choral'];

/** The taggram template t (0..95) as float32 little-endian hex: a few strong tags per genre. */
function taggramHex(t) {
  const g = Math.floor(t / 8), v = t % 8;
  const f = new Float32Array(TAG_NAMES.length);
  for (let k = 0; k < f.length; ++k) {
    const h = ((k + 1) * 2654435761 + (t + 1) * 40503) % 1000003 / 1000003;   // [0, 1)
    f[k] = 0.02 + 0.2 * h;
  }
  for (let j = 0; j < 4; ++j) f[(g * 4 + j * 7 + (j === 3 ? v : 0)) % f.length] = 0.9 - 0.15 * j - 0.01 * v;
  return Buffer.from(f.buffer).toString('hex');
}

/** Writes `db` with n tracks; returns the seconds it took. */
export function makeLargeLibrary({ bin, db, n, dims = [2, 3], results = false }) {
  const t0 = Date.now();
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  const audio = path.join(path.dirname(db), 'audio');
  fs.mkdirSync(audio, { recursive: true });
  const init = spawnSync(path.join(bin, 'tagmap'), ['init-db', '--db', db, '--audio-dir', audio], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`tagmap init-db: ${init.stdout}${init.stderr}`);
  // u(i, k): a uniform value in [0, 1) from the id (a multiplicative hash, k picks the stream);
  // the sum of three is bell-shaped around each blob's centre.
  const u = (k) => `(((id * ${2654435761 + 2 * k} + ${k * 40503}) % 1000003) / 1000003.0)`;
  const noise = (k) => `((${u(3 * k)} + ${u(3 * k + 1)} + ${u(3 * k + 2)} - 1.5) * 2.0)`;
  const centres = GENRES.map((_, g) => [20 * Math.cos((2 * Math.PI * g) / 12) * (1 + (g % 3) * 0.35),
    20 * Math.sin((2 * Math.PI * g) / 12) * (1 + (g % 3) * 0.35), 6 * ((g % 4) - 1.5)]);
  const centreCase = (d) => `CASE id % 12 ${centres.map((c, g) => `WHEN ${g} THEN ${c[d].toFixed(4)}`).join(' ')} END`;
  const genreCase = `CASE id % 12 ${GENRES.map((g, i) => `WHEN ${i} THEN '${g}'`).join(' ')} END`;
  const sql = [
    'PRAGMA journal_mode = WAL;', 'PRAGMA synchronous = OFF;', 'BEGIN;',
    "INSERT INTO models(model_id, model, dataset, n_tags, embedding_dim, input_samples, weights_digest, weights_file) " +
      "VALUES ('musicnn-mtat', 'musicnn', 'mtat', 50, 200, 48000, 'synthetic', 'synthetic.tmw');",
    `WITH RECURSIVE c(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM c WHERE id < ${n}) ` +
      "INSERT INTO tracks(id, filename, size_bytes, mtime_ns, duration, title, artist, genre) " +
      `SELECT id, printf('synthetic/%08d.mp3', id), 1000, 0, 30.0, printf('Track %d', id), printf('Artist %d', id % 997), ${genreCase} FROM c;`,
  ];
  if (results) {
    sql.push(`UPDATE models SET tag_names = '${JSON.stringify(TAG_NAMES)}' WHERE model_id = 'musicnn-mtat';`);
    sql.push('CREATE TEMP TABLE tpl(k INTEGER PRIMARY KEY, b BLOB);');
    sql.push(`INSERT INTO tpl VALUES ${Array.from({ length: 96 }, (_, t) => `(${t}, X'${taggramHex(t)}')`).join(', ')};`);
    sql.push('INSERT INTO embeddings(track_id, model, dataset, model_id, weights_digest, source_size, source_mtime_ns, ' +
      'audio_seconds, chunks, chunk_hop, padded, embedding_dim, n_tags, embedding, taggram) ' +
      "SELECT id, 'musicnn', 'mtat', 'musicnn-mtat', 'synthetic', 1000, 0, 30.0, 1, 48000, 0, 200, 50, zeroblob(800), " +
      '(SELECT b FROM tpl WHERE k = (id % 12) * 8 + (id * 2654435761) % 1000003 % 8) FROM tracks;');
  }
  dims.forEach((d, k) => {
    const pid = k + 1;
    sql.push("INSERT INTO projections(id, model_id, source, method, dims, params, input_digest, fitted_rows) " +
      `VALUES (${pid}, 'musicnn-mtat', 'embedding', 'umap', ${d}, '${UMAP_PARAMS}', 'synthetic', ${n});`);
    sql.push('INSERT INTO projection_points(projection_id, track_id, x, y, z, placement) ' +
      `SELECT ${pid}, id, ${centreCase(0)} + ${noise(0)}, ${centreCase(1)} + ${noise(1)}, ` +
      `${d === 3 ? `${centreCase(2)} + ${noise(2)}` : 'NULL'}, 'fit' FROM tracks;`);
  });
  sql.push('COMMIT;');
  const r = spawnSync(SQLITE3, [db], { input: sql.join('\n'), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0 || r.stderr.trim()) throw new Error(`sqlite3: ${r.stderr}`);
  return (Date.now() - t0) / 1000;
}
