// The player's pitch and beat curves (docs/map.md): pure helpers, no DOM. A series is
// /api/v1/tracks/<id>/series (frames x columns float32 at `fps`); the curves span the
// track's duration, one value per pixel column, so that a 10-minute track at 100 fps
// costs one pass per redraw. Drawing goes through a CanvasRenderingContext2D (or any
// object with the same methods: the node tests pass a recorder).

// CREPE's bins span 31.7 Hz .. 2006 Hz (docs/models/crepe.md).
export const CREPE_MIN_HZ = 31.7;
export const CREPE_MAX_HZ = 2006;
/** Frames less confident than this are drawn faint (unvoiced or unsure). */
export const VOICED_CONFIDENCE = 0.5;

/** A series from the JSON form {fps, columns: [names], frames, values, license}. */
export function seriesFromJson(j) {
  const columns = Array.isArray(j.columns) ? j.columns : [];
  const c = Math.max(1, columns.length);
  const frames = Number.isInteger(j.frames) ? j.frames : (j.values || []).length;  // one entry per frame
  const data = new Float32Array(frames * c);
  const v = j.values || [];
  for (let t = 0; t < frames; ++t) {
    if (c === 1) data[t] = v[t] == null ? NaN : v[t];
    else for (let k = 0; k < c; ++k) data[t * c + k] = v[t] && v[t][k] != null ? v[t][k] : NaN;
  }
  return { model: j.model, fps: Number(j.fps), columns, frames, data, license: j.license || null };
}

/** A series from the f32 form: the body and its X-Tagmap-Shape / -Fps / -Columns headers. */
export function seriesFromF32(buffer, shape, fps, columnsJson) {
  const [frames, c] = String(shape || '').split(',').map(Number);
  if (!Number.isInteger(frames) || !Number.isInteger(c) || c < 1 || buffer.byteLength !== 4 * frames * c)
    throw new Error(`series body of ${buffer.byteLength} bytes does not match its shape ${shape}`);
  let columns = [];
  try { columns = JSON.parse(columnsJson || '[]'); } catch { columns = []; }
  if (columns.length !== c) columns = Array.from({ length: c }, (_, k) => `c${k}`);
  return { fps: Number(fps), columns, frames, data: new Float32Array(buffer), license: null };
}

/** Seconds the series covers. */
export function seriesSeconds(s) {
  return s && s.fps > 0 ? s.frames / s.fps : 0;
}

export function hzToMidi(hz) {
  return 69 + 12 * Math.log2(hz / 440);
}

export function midiToHz(m) {
  return 440 * 2 ** ((m - 69) / 12);
}

/** x (pixels, 0..width) of time t on a curve spanning `duration` seconds; clamped. */
export function timeToX(t, duration, width) {
  if (!(duration > 0) || !Number.isFinite(t)) return 0;
  return Math.min(width, Math.max(0, (t / duration) * width));
}

/** The time under pixel x (the inverse of timeToX), clamped to [0, duration]. */
export function xToTime(x, width, duration) {
  if (!(width > 0) || !(duration > 0) || !Number.isFinite(x)) return 0;
  return Math.min(duration, Math.max(0, (x / width) * duration));
}

/** Frames [first, end) that fall in pixel column x of `width` over `duration` seconds. */
export function columnFrames(x, width, duration, fps, frames) {
  const t0 = (x / width) * duration, t1 = ((x + 1) / width) * duration;
  const first = Math.min(frames, Math.max(0, Math.ceil(t0 * fps - 1e-9)));
  const end = Math.min(frames, Math.max(first, Math.ceil(t1 * fps - 1e-9)));
  return [first, end];
}

/**
 * Pitch per pixel column: the most confident frame of the column (so a column that is
 * mostly unvoiced but holds one clear note shows that note), as
 * {midi: Float32Array (NaN where no pitch), conf: Float32Array}.
 */
export function pitchColumns(s, width, duration = seriesSeconds(s)) {
  const midi = new Float32Array(width).fill(NaN), conf = new Float32Array(width);
  const c = s.columns.length || 2;
  for (let x = 0; x < width; ++x) {
    const [a, b] = columnFrames(x, width, duration, s.fps, s.frames);
    let best = -1, bestConf = -1;
    for (let t = a; t < b; ++t) {
      const hz = s.data[t * c], p = s.data[t * c + 1];
      if (hz > 0 && Number.isFinite(p) && p > bestConf) { best = t; bestConf = p; }
    }
    if (best >= 0) { midi[x] = hzToMidi(s.data[best * c]); conf[x] = bestConf; }
  }
  return { midi, conf };
}

/** Beat activation per pixel column: the column's maximum (a beat's peak survives). */
export function beatColumns(s, width, duration = seriesSeconds(s)) {
  const out = new Float32Array(width);
  const c = s.columns.length || 1;
  for (let x = 0; x < width; ++x) {
    const [a, b] = columnFrames(x, width, duration, s.fps, s.frames);
    let m = 0;
    for (let t = a; t < b; ++t) if (s.data[t * c] > m) m = s.data[t * c];
    out[x] = m;
  }
  return out;
}

/**
 * The MIDI range to draw: the confident frames' span with a margin, at least one octave,
 * within CREPE's range; [36, 84] (C2..C6) when nothing is voiced.
 */
export function pitchRange(cols, threshold = VOICED_CONFIDENCE) {
  let lo = Infinity, hi = -Infinity;
  for (let x = 0; x < cols.midi.length; ++x)
    if (cols.conf[x] >= threshold && Number.isFinite(cols.midi[x])) {
      lo = Math.min(lo, cols.midi[x]);
      hi = Math.max(hi, cols.midi[x]);
    }
  if (!Number.isFinite(lo)) return [36, 84];
  const min = hzToMidi(CREPE_MIN_HZ), max = hzToMidi(CREPE_MAX_HZ);
  lo -= 2; hi += 2;
  if (hi - lo < 12) { const mid = (lo + hi) / 2; lo = mid - 6; hi = mid + 6; }
  return [Math.max(min, lo), Math.min(max, hi)];
}

/** Opacity of a pitch column: its confidence, and faint below VOICED_CONFIDENCE. */
export function pitchOpacity(conf, threshold = VOICED_CONFIDENCE) {
  if (!(conf > 0)) return 0;
  return conf >= threshold ? Math.min(1, 0.35 + 0.65 * conf) : 0.12 * (conf / threshold) + 0.04;
}

/** y (pixels from the top) of a MIDI note on a plot of `height` over [lo, hi]. */
export function midiToY(m, lo, hi, height) {
  return height - ((m - lo) / (hi - lo)) * height;
}

/** Draws the pitch curve: one short stroke per column, opacity from its confidence. */
export function drawPitch(ctx, cols, width, height, range = pitchRange(cols), color = '78,121,167') {
  const [lo, hi] = range;
  ctx.clearRect(0, 0, width, height);
  // Octave lines (C notes) for orientation.
  ctx.fillStyle = 'rgba(0,0,0,0.08)';
  for (let m = Math.ceil(lo / 12) * 12; m <= hi; m += 12) ctx.fillRect(0, Math.round(midiToY(m, lo, hi, height)), width, 1);
  const h = Math.max(2, height / 40);
  for (let x = 0; x < cols.midi.length; ++x) {
    const a = pitchOpacity(cols.conf[x]);
    if (!(a > 0) || !Number.isFinite(cols.midi[x])) continue;
    ctx.fillStyle = `rgba(${color},${a.toFixed(3)})`;
    ctx.fillRect(x, midiToY(cols.midi[x], lo, hi, height) - h / 2, 1, h);
  }
}

/** The lowest top of the beat curve's axis (beatScale). */
export const MIN_BEAT_SCALE = 0.01;

/**
 * The top of the beat curve's axis: the columns' peak rounded up to 1, 2, 2.5 or 5 times a
 * power of ten, at most 1 (an activation is a probability) and at least MIN_BEAT_SCALE, so
 * that a weak clip's curve fills the plot instead of lying flat on a 0..1 axis, and
 * silence is not blown up into noise.
 */
export function beatScale(act) {
  let peak = 0;
  for (let x = 0; x < act.length; ++x) if (act[x] > peak) peak = act[x];
  if (!(peak > MIN_BEAT_SCALE)) return MIN_BEAT_SCALE;
  if (peak >= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(peak));
  // (1 + 1e-6): a float32 activation of 0.2 is 0.2000000030; it is on the axis of 0.2.
  for (const m of [1, 2, 2.5, 5, 10]) if (peak <= m * p * (1 + 1e-6)) return Math.min(1, m * p);
  return 1;
}

/** Draws the beat activation as a filled area, 0 at the bottom, `scale` (default 1) at the top. */
export function drawBeats(ctx, act, width, height, scale = 1, color = '225,87,89') {
  const top = scale > 0 ? scale : 1;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = `rgba(${color},0.75)`;
  ctx.beginPath();
  ctx.moveTo(0, height);
  for (let x = 0; x < act.length; ++x) ctx.lineTo(x + 0.5, height - Math.min(1, Math.max(0, act[x] / top)) * height);
  ctx.lineTo(act.length, height);
  ctx.closePath();
  ctx.fill();
}

/** The playhead: a 2-pixel line at x. */
export function drawPlayhead(ctx, x, height) {
  ctx.fillStyle = 'rgba(200,30,30,0.95)';
  ctx.fillRect(Math.round(x) - 1, 0, 2, height);
}
