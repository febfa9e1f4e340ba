// A real nginx (Debian's package) running the repository's nginx.conf, its placeholders filled in
// for this test: a free port on 127.0.0.1, the app's address and the media directory.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, tempDir } from './services.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}


/**
 * `appUrl`: one app node (nginx reads its media from `mediaDir`), or several for the edge (then
 * `mediaDir` is an empty directory and media come through the cache).
 */
export async function startNginx(t: Teardown, opts: { appUrl: string | string[]; mediaDir: string }): Promise<string> {
  return (await startNginxProcess(t, opts)).url;
}

/** startNginx, also giving the master process's pid (its workers are its children), for CPU figures. */
export async function startNginxProcess(t: Teardown, opts: { appUrl: string | string[]; mediaDir: string }): Promise<{ url: string; pid: number }> {
  const runDir = await tempDir(t, 'nginx');
  const port = await freePort();
  const template = await readFile(new URL('../../nginx.conf', import.meta.url), 'utf8');
  const values: Record<string, string> = {
    SPILLWAY_LISTEN: `127.0.0.1:${port}`,
    SPILLWAY_UPSTREAM: [opts.appUrl].flat().map((url) => `server ${new URL(url).host};`).join(' '),
    SPILLWAY_MEDIA_DIR: opts.mediaDir,
    SPILLWAY_RUN_DIR: runDir,
  };
  const conf = template.replace(/\$\{(SPILLWAY_[A-Z_]+)\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`nginx.conf uses an unknown placeholder ${name}`);
    return value;
  });
  const file = path.join(runDir, 'nginx.conf');
  await writeFile(file, conf);
  // 'daemon off' keeps nginx in the foreground as our child, so teardown can stop it.
  const child = spawn('nginx', ['-c', file, '-g', 'daemon off; user root;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.teardown(async () => {
    child.kill('SIGQUIT');
    await exited;
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000; // nginx starts in milliseconds, but a loaded CI machine is slow
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      await fetch(`${base}/healthz`);
      return { url: base, pid: child.pid! };
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not answer: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
