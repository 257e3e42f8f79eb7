// `tagmap serve` on a free port for the browser tests: waits for the address it prints,
// fails with its stderr when it exits or does not start within 30 s.
import path from 'node:path';
import { spawn } from 'node:child_process';

/** Starts `<bin>/tagmap serve --db <db> --port 0 --web-dir <site>`; resolves to { base, stop }. */
export async function startServe({ bin, db, site, extraArgs = [] }) {
  const args = ['serve', '--db', db, '--port', '0', '--web-dir', site, ...extraArgs];
  const proc = spawn(path.join(bin, 'tagmap'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tagmap serve did not start: ${err}`)), 30000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /http:\/\/[^:/]+:(\d+)\//.exec(err);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tagmap serve exited ${code}: ${err}`)); });
  });
  proc.stdout.resume();
  return {
    base: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => { if (proc.exitCode != null) r(); else proc.on('exit', r); });
    },
  };
}
