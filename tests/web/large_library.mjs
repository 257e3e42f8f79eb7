// A synthetic library with a large cached map, for the large-map browser test and
// bench/web/bench_large_map.mjs: `tagmap init-db` makes the schema, the sqlite3 shell fills
// it in one transaction (no audio, no model run): N tracks (titles, 12 genres), one model
// row, and the default-keyed UMAP maps (2D and 3D) with points on 12 Gaussian-like blobs.
// Deterministic: coordinates come from integer hashes of the track id, not random().
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const SQLITE3 = process.env.TAGMAP_SQLITE3 || '/usr/bin/sqlite3';
export const GENRES = ['ambient', 'blues', 'classical', 'country', 'disco', 'electronic',
  'folk', 'hiphop', 'jazz', 'metal', 'pop', 'rock'];
// The key the server looks maps up by (store::map_params of the default UMAP spec).
const UMAP_PARAMS = '{"min_dist":0.1,"n_neighbors":15,"seed":42}';

/** Writes `db` with n tracks; returns the seconds it took. */
export function makeLargeLibrary({ bin, db, n, dims = [2, 3] }) {
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
