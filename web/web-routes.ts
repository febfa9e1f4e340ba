// Serves the browser UI: hashed, immutable assets from web/dist/assets and the app shell (with
// strict security headers) for every page path. A missing build is reported, not fatal: the pages
// then say how to build them.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

export interface WebRoutesOptions {
  /** PUBLIC_URL: playback URLs point there. */
  publicUrl: string;
  /** CDN_URL: VOD media and pictures may come from there. */
  cdnUrl: string | null;
  /** The build output; web/dist by default. */
  distDir?: string;
}

export const DEFAULT_DIST_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');
const BUILD_HINT = 'The web UI is not built. Run `npm run build:web` (npm start does it for you), then restart the server.';

// Page paths the client router knows; anything else gets the shell with a 404 status.
const PAGES = [/^\/$/, /^\/c\/[A-Za-z0-9_]{3,25}\/?$/, /^\/v\/[0-9a-fA-F-]{36}\/?$/, /^\/(dashboard|signin|signup|upload|search|history|admin|forgot-password|reset-password|verify-email)\/?$/];

function origin(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

export function contentSecurityPolicy(opts: Pick<WebRoutesOptions, 'publicUrl' | 'cdnUrl'>, host: string | undefined): string {
  const extra = [origin(opts.publicUrl), origin(opts.cdnUrl)].filter((o): o is string => o !== null);
  // 'self' covers same-origin WebSockets in CSP3 browsers; older Safari needs the ws(s) origin spelled out.
  const sockets = new Set<string>();
  const base = origin(opts.publicUrl);
  if (base) sockets.add(base.replace(/^http/, 'ws'));
  if (host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/.test(host)) sockets.add(`ws://${host}`).add(`wss://${host}`);
  const list = (...items: string[]) => [...new Set(items)].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${list("'self'", 'data:', 'blob:', ...extra)}`,
    // hls.js plays through Media Source Extensions (blob: URLs) and transmuxes in a blob: worker.
    `media-src ${list("'self'", 'blob:', ...extra)}`,
    "worker-src 'self' blob:",
    `connect-src ${list("'self'", ...extra, ...sockets)}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const webRoutes: FastifyPluginAsync<WebRoutesOptions> = async (app, opts) => {
  const distDir = opts.distDir ?? DEFAULT_DIST_DIR;
  const assetsDir = path.join(distDir, 'assets');
  const built = await stat(path.join(distDir, 'index.html')).then(() => true, () => false);
  if (!built) app.log.warn({ distDir }, BUILD_HINT);

  if (built) {
    await app.register(fastifyStatic, {
      root: assetsDir,
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      // Names carry a content hash: a changed file is a new URL.
      cacheControl: true,
      maxAge: '365d',
      immutable: true,
      setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
    });
  }

  let shell: { mtimeMs: number; html: string } | null = null;
  const readShell = async (): Promise<string | null> => {
    const file = path.join(distDir, 'index.html');
    const info = await stat(file).catch(() => null);
    if (!info) return null;
    if (!shell || shell.mtimeMs !== info.mtimeMs) shell = { mtimeMs: info.mtimeMs, html: await readFile(file, 'utf8') };
    return shell.html;
  };

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const html = built ? await readShell() : null;
    if (html === null) return reply.status(503).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(`${BUILD_HINT}\n`);
    const known = PAGES.some((re) => re.test(request.url.split('?')[0]!));
    return reply
      .status(known ? 200 : 404)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', contentSecurityPolicy(opts, request.headers.host))
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .header('x-frame-options', 'DENY')
      .header('permissions-policy', 'camera=(), microphone=(), geolocation=()')
      .send(html);
  };
  const hidden = { schema: { hide: true } };
  for (const url of ['/', '/c/:slug', '/v/:id', '/dashboard', '/signin', '/signup', '/upload', '/search', '/history', '/admin', '/forgot-password', '/reset-password', '/verify-email']) app.get(url, hidden, page);
};
