// Unit tests of the player's pitch and beat curves (examples/web/curves.js) under node's
// test runner: node tests/web/curves_test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as curves from '../../examples/web/curves.js';

/** A context that records the calls the drawing functions make. */
function recorder() {
  const calls = [];
  const ctx = { calls, fillStyle: '' };
  for (const name of ['clearRect', 'fillRect', 'beginPath', 'moveTo', 'lineTo', 'closePath', 'fill'])
    ctx[name] = (...args) => calls.push({ name, args, style: ctx.fillStyle });
  return ctx;
}

/** A CREPE-like series: `frames` rows of (hz, confidence) at 100 fps. */
function pitchSeries(rows) {
  const data = new Float32Array(rows.length * 2);
  rows.forEach(([hz, c], t) => { data[2 * t] = hz; data[2 * t + 1] = c; });
  return { fps: 100, columns: ['hz', 'confidence'], frames: rows.length, data };
}

test('MIDI and Hz: A4 = 69 = 440 Hz, an octave is 12', () => {
  assert.equal(curves.hzToMidi(440), 69);
  assert.equal(curves.hzToMidi(880), 81);
  assert.ok(Math.abs(curves.midiToHz(60) - 261.6256) < 1e-3);
  assert.ok(Math.abs(curves.hzToMidi(curves.midiToHz(47.3)) - 47.3) < 1e-12);
});

test('time <-> x: inverse, clamped, safe on a zero duration', () => {
  assert.equal(curves.timeToX(5, 10, 200), 100);
  assert.equal(curves.xToTime(100, 200, 10), 5);
  assert.equal(curves.timeToX(12, 10, 200), 200);
  assert.equal(curves.timeToX(-1, 10, 200), 0);
  assert.equal(curves.xToTime(250, 200, 10), 10);
  assert.equal(curves.timeToX(3, 0, 200), 0);
  assert.equal(curves.xToTime(3, 0, 10), 0);
  for (const x of [0, 17, 123.5, 199]) assert.ok(Math.abs(curves.timeToX(curves.xToTime(x, 200, 7.3), 7.3, 200) - x) < 1e-9);
});

test('columns partition the frames exactly, in order, whatever the width', () => {
  for (const [width, frames, fps] of [[100, 1000, 100], [7, 1000, 100], [1000, 250, 100], [333, 1001, 100]]) {
    const duration = frames / fps;
    let next = 0;
    for (let x = 0; x < width; ++x) {
      const [a, b] = curves.columnFrames(x, width, duration, fps, frames);
      assert.equal(a, next, `width ${width} x ${x}`);
      assert.ok(b >= a);
      next = b;
    }
    assert.equal(next, frames, `width ${width}: every frame in one column`);
  }
  // A duration longer than the series (audio.duration > frames / fps): trailing columns empty.
  const [a, b] = curves.columnFrames(9, 10, 20, 100, 1000);
  assert.equal(a, b);
});

test('pitch columns take the most confident frame; unvoiced columns have no pitch', () => {
  // 4 columns of 25 frames: a confident A4, a column where one clear E5 beats weak noise,
  // a column of 0 Hz (nothing), and a weak column.
  const rows = [];
  for (let t = 0; t < 25; ++t) rows.push([440, 0.9]);
  for (let t = 0; t < 25; ++t) rows.push(t === 12 ? [659.255, 0.8] : [200, 0.1]);
  for (let t = 0; t < 25; ++t) rows.push([0, 0.0]);
  for (let t = 0; t < 25; ++t) rows.push([300, 0.2]);
  const cols = curves.pitchColumns(pitchSeries(rows), 4);
  assert.ok(Math.abs(cols.midi[0] - 69) < 1e-4);
  assert.ok(Math.abs(cols.conf[0] - 0.9) < 1e-6);
  assert.ok(Math.abs(cols.midi[1] - 76) < 1e-3);
  assert.ok(Math.abs(cols.conf[1] - 0.8) < 1e-6);
  assert.ok(Number.isNaN(cols.midi[2]));
  assert.equal(cols.conf[2], 0);
  assert.ok(cols.conf[3] < curves.VOICED_CONFIDENCE);
  // The range covers the voiced columns with a margin, at least an octave; 36..84 if none.
  const [lo, hi] = curves.pitchRange(cols);
  assert.ok(lo <= 69 - 2 && hi >= 76 + 2 && hi - lo >= 12, `${lo}..${hi}`);
  assert.deepEqual(curves.pitchRange(curves.pitchColumns(pitchSeries([[0, 0], [100, 0.1]]), 2)), [36, 84]);
});

test('opacity follows confidence; low-confidence frames are faint but visible', () => {
  assert.equal(curves.pitchOpacity(0), 0);
  const faint = curves.pitchOpacity(0.3), voiced = curves.pitchOpacity(0.6), sure = curves.pitchOpacity(1);
  assert.ok(faint > 0 && faint < 0.2, `faint ${faint}`);
  assert.ok(voiced > 0.6 && voiced < sure && sure === 1, `${voiced} ${sure}`);
  assert.ok(curves.pitchOpacity(0.49) < curves.pitchOpacity(0.5));
});

test('beat columns keep each column\'s peak', () => {
  const data = new Float32Array(300).fill(0.05);
  data[17] = 0.93;   // column 0 (frames 0..99)
  data[250] = 0.61;  // column 2
  const act = curves.beatColumns({ fps: 100, columns: ['activation'], frames: 300, data }, 3);
  assert.deepEqual(Array.from(act).map((v) => Math.round(v * 100) / 100), [0.93, 0.05, 0.61]);
});

test('beat scale: the peak rounded up to 1, 2, 2.5 or 5 x 10^k, within [0.01, 1]', () => {
  const scale = (peak) => curves.beatScale(Float32Array.from([0, peak / 3, peak, peak / 2]));
  for (const [peak, want] of [[0.93, 1], [1, 1], [3, 1], [0.5, 0.5], [0.41, 0.5], [0.25, 0.25], [0.21, 0.25],
    [0.2, 0.2], [0.13, 0.2], [0.1, 0.1], [0.07, 0.1], [0.031, 0.05], [0.012, 0.02], [0.004, 0.01], [0, 0.01]])
    assert.ok(Math.abs(scale(peak) - want) < 1e-12, `peak ${peak}: scale ${scale(peak)}, want ${want}`);
  assert.equal(curves.beatScale(new Float32Array(0)), curves.MIN_BEAT_SCALE);
  assert.equal(curves.beatScale(Float32Array.from([NaN, 0.3])), 0.5);
  // The peak always fits: drawn at or below the top.
  for (let peak = 0.011; peak < 1; peak *= 1.37) assert.ok(scale(peak) >= peak && scale(peak) <= 2.5 * peak, `${peak}`);
});

test('drawing: pitch strokes at the right height and opacity, beats as one area, playhead', () => {
  const cols = { midi: Float32Array.from([60, NaN, 72]), conf: Float32Array.from([0.9, 0, 0.2]) };
  const ctx = recorder();
  curves.drawPitch(ctx, cols, 3, 100, [48, 84]);
  const strokes = ctx.calls.filter((c) => c.name === 'fillRect' && c.args[2] === 1);
  assert.equal(strokes.length, 2, 'no stroke where there is no pitch');
  assert.equal(strokes[0].args[0], 0);
  const y60 = curves.midiToY(60, 48, 84, 100);   // a third of the way up
  assert.ok(Math.abs(y60 - 200 / 3) < 1e-9);
  assert.ok(Math.abs(strokes[0].args[1] + strokes[0].args[3] / 2 - y60) < 1e-9);
  const alpha = (c) => Number(/,([0-9.]+)\)$/.exec(c.style)[1]);
  assert.ok(alpha(strokes[0]) > 0.9 && alpha(strokes[1]) < 0.2, `${strokes[0].style} ${strokes[1].style}`);
  // Octave lines at C3, C4, C5, C6 (48, 60, 72, 84).
  assert.equal(ctx.calls.filter((c) => c.name === 'fillRect' && c.args[2] === 3).length, 4);

  const b = recorder();
  curves.drawBeats(b, Float32Array.from([0, 1, 0.5, 2]), 4, 40);
  const pts = b.calls.filter((c) => c.name === 'lineTo').map((c) => c.args[1]);
  assert.deepEqual(pts, [40, 0, 20, 0, 40], 'activation 1 at the top, clipped at 1, back to the baseline');
  assert.equal(b.calls.filter((c) => c.name === 'fill').length, 1);

  // Autoscaled: on an axis of 0..0.25 an activation of 0.125 is drawn half-way up.
  const w = recorder();
  curves.drawBeats(w, Float32Array.from([0, 0.125, 0.25, 0.5]), 4, 40, 0.25);
  assert.deepEqual(w.calls.filter((c) => c.name === 'lineTo').map((c) => c.args[1]), [40, 20, 0, 0, 40]);

  const p = recorder();
  curves.drawPlayhead(p, curves.timeToX(2.5, 10, 400), 30);
  assert.deepEqual(p.calls[0].args, [99, 0, 2, 30]);
});

test('series forms: JSON rows and the f32 body give the same values; bad shapes throw', () => {
  const j = curves.seriesFromJson({ model: 'crepe-tiny', fps: 100, columns: ['hz', 'confidence'], frames: 2,
    values: [[220.5, 0.75], [0, 0.01]], license: 'MIT' });
  assert.deepEqual(Array.from(j.data), [220.5, 0.75, 0, Math.fround(0.01)]);
  assert.equal(curves.seriesSeconds(j), 0.02);
  const f = curves.seriesFromF32(j.data.slice().buffer, '2,2', '100', '["hz","confidence"]');
  assert.deepEqual(Array.from(f.data), Array.from(j.data));
  assert.deepEqual(f.columns, ['hz', 'confidence']);
  const one = curves.seriesFromJson({ fps: 100, columns: ['activation'], frames: 3, values: [0.1, 0.9, null] });
  assert.equal(one.data.length, 3);
  assert.ok(Number.isNaN(one.data[2]));
  assert.throws(() => curves.seriesFromF32(new ArrayBuffer(12), '2,2', '100', '[]'), /does not match/);
  assert.deepEqual(curves.seriesFromF32(new ArrayBuffer(8), '2,1', '100', 'junk').columns, ['c0']);
});
