// The browser tests' harness: named checks that print TAP-like lines and keep going after a
// failure, and the summary and exit code at the end.
export const results = [];

/** Runs one check; a thrown error fails it (its first stack lines are printed). */
export async function check(name, fn) {
  const t0 = Date.now();
  try {
    const note = await fn();
    results.push({ name, ok: true });
    console.log(`ok - ${name}${note ? ` (${note})` : ''} [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`not ok - ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Prints the summary and exits: 1 if a check failed or the harness itself crashed. */
export function finish(crashed) {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed + (crashed ? 1 : 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
