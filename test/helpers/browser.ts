// Debian's Chromium driven by playwright-core (never a downloaded browser), and a tiny static
// server for the test player page and hls.js.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export const CHROMIUM_PATH = '/usr/bin/chromium';

export async function launchChromium(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    // The flags keep Chromium from reaching for the network this machine does not have.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * Reads until `accept` likes the value or the deadline passes; the error shows the last value read.
 * For state that an action changes a moment after the action itself has returned.
 */
export async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Serves /player.html, /hls.js and /live-catchup.js (the web UI's own catch-up, web/src/live-catchup.ts,
 * bundled as the global `SpillwayLive`) on 127.0.0.1; returns the base URL.
 */
export async function servePlayer(t: Teardown): Promise<string> {
  const require = createRequire(import.meta.url);
  const hlsJs = await readFile(require.resolve('hls.js/dist/hls.min.js'));
  const page = await readFile(new URL('../e2e/fixtures/player.html', import.meta.url));
  const { build } = await import('esbuild');
  const catchUp = await build({ entryPoints: [fileURLToPath(new URL('../../web/src/live-catchup.ts', import.meta.url))], bundle: true, format: 'iife', globalName: 'SpillwayLive', write: false, target: 'es2022', logLevel: 'silent' });
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/hls.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(hlsJs);
    else if (path === '/live-catchup.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(catchUp.outputFiles[0]!.contents);
    else if (path === '/player.html') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

export interface PlayerStats {
  started: boolean;
  firstFrameAt: number | null;
  stalls: number;
  errors: string[];
  fatal: string | null;
  latency: number[];
  frameLatency: Array<{ n: number; shownAt: number }>;
  /** with ?trace=1: hls.js's log and the start's events, each line prefixed with ms since the page started */
  trace?: string[];
}
