// The HTTP fuzz property, shared by the CI test (test/integration/http-fuzz.test.ts) and
// `npm run fuzz` (test/fuzz/http-fuzz-main.ts): for every route of the server's OpenAPI document
// and the hidden media routes, seeded bad requests sent with inject(). Every answer must be below
// 500, every 4xx must be { "error": { "code", "message" } }, and user B's channel, stream key,
// VODs, moderation and stored objects must be as they were, though user A probes them all.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Server } from '../../src/main.ts';
import { hiddenTemplates, requestFor, templatesFromOpenApi, type FuzzRequest, type FuzzWorld, type OpenApiDocument } from './http-requests.ts';

export interface Finding {
  kind: '5xx' | 'error-shape' | 'changed-other-user';
  route: string;
  status: number;
  body: string;
  request: FuzzRequest;
  count: number;
}

export interface FuzzResult {
  seed: number;
  cases: number;
  /** Requests the HTTP client itself refused to send (for example a header it deems invalid). */
  unsendable: number;
  statuses: Record<string, number>;
  durationMs: number;
  findings: Finding[];
}

const PASSWORD = 'correct horse battery';
const SNAPSHOT_EVERY = 250;

async function register(server: Server, username: string): Promise<string> {
  const res = await server.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username, email: `${username}@example.test`, password: PASSWORD } });
  if (res.statusCode !== 201) throw new Error(`register ${username}: ${res.statusCode} ${res.body}`);
  return res.json().accessToken;
}

/** A ready VOD with a playlist, a segment and a poster in storage; returns the VOD and live session ids. */
async function recordedVod(server: Server, slug: string, visibility: 'public' | 'unlisted' | 'private') {
  const db = server.database.db;
  const channelId = (await server.channels.bySlug(slug))!.id;
  const session = await db.insertInto('live_sessions').values({ channel_id: channelId, started_at: new Date(), ended_at: new Date(), end_reason: 'unpublished' }).returning('id').executeTakeFirstOrThrow();
  const prefix = `vods/${session.id}`;
  const vod = await db
    .insertInto('vods')
    .values({ live_session_id: session.id, channel_id: channelId, started_at: new Date(), storage_prefix: prefix, status: 'ready', visibility, thumbnail_key: `${prefix}/poster.jpg` })
    .returning('id')
    .executeTakeFirstOrThrow();
  await server.storage.put(`${prefix}/master.m3u8`, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n720p/index.m3u8\n');
  await server.storage.put(`${prefix}/720p/index.m3u8`, '#EXTM3U\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:1,\nseg-1.m4s\n#EXT-X-ENDLIST\n');
  await server.storage.put(`${prefix}/720p/init-0.mp4`, Buffer.alloc(100, 7));
  await server.storage.put(`${prefix}/720p/seg-1.m4s`, Buffer.alloc(1000, 9));
  await server.storage.put(`${prefix}/poster.jpg`, Buffer.alloc(50, 1));
  return { vodId: vod.id, sessionId: session.id, prefix };
}

/** Everything of user B's that user A must not be able to change, read through the API as B. */
async function snapshotOf(server: Server, tokenB: string, prefixes: string[]): Promise<string> {
  const asB = { authorization: `Bearer ${tokenB}` };
  const urls = [
    '/api/v1/channels/bob',
    '/api/v1/channels/bob/stream-key',
    '/api/v1/vods?channel=bob&limit=100',
    '/api/v1/channels/bob/moderators',
    '/api/v1/channels/bob/bans',
    '/api/v1/channels/bob/chat-audit?limit=200',
    '/api/v1/auth/me',
  ];
  const parts: string[] = [];
  for (const url of urls) {
    const res = await server.app.inject({ url, headers: asB });
    // Signed playback URLs carry an expiry that moves with the clock; followers, likes, comments
    // and views are counts every other user may rightly change (by following, liking, commenting
    // and watching), not B's data.
    const body = res.body.replace(/exp=\d+&sig=[\w-]+/g, 'exp=…').replace(/"(followerCount|likeCount|commentCount|viewCount)":\d+/g, '"$1":…');
    parts.push(`${url} ${res.statusCode} ${body}`);
  }
  for (const prefix of prefixes) {
    for (const object of await server.storage.list(`${prefix}/`)) parts.push(`${object.key} ${object.size}`);
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex') + '\n' + parts.join('\n');
}

function errorShapeProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }): string | null {
  if (!String(res.headers['content-type'] ?? '').startsWith('application/json')) return `content-type ${String(res.headers['content-type'])}`;
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return 'not JSON';
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error || typeof error.code !== 'string' || !/^[A-Z_]+$/.test(error.code) || typeof error.message !== 'string') return 'no error.code / error.message';
  if (Object.keys(body as object).length !== 1) return 'keys beside "error"';
  return null;
}

export async function runHttpFuzz(server: Server, opts: { runs: number; seed: number; onProgress?: (cases: number) => void }): Promise<FuzzResult> {
  // The first account is the instance's admin: made here, so that A and B are ordinary users and
  // the admin API answers A with 403 as it would any user.
  await register(server, 'instance_admin');
  const tokenA = await register(server, 'alice');
  const tokenB = await register(server, 'bob');
  const mine = await recordedVod(server, 'alice', 'public');
  const theirs = await Promise.all((['public', 'unlisted', 'private'] as const).map((v) => recordedVod(server, 'bob', v)));
  const world: FuzzWorld = {
    tokenA,
    slugs: ['alice', 'bob', 'BOB', 'nobody_here'],
    usernames: ['alice', 'bob', 'nobody_here'],
    vodIds: [mine.vodId, ...theirs.map((v) => v.vodId)],
    sessionIds: [mine.sessionId, ...theirs.map((v) => v.sessionId)],
  };
  const prefixesB = theirs.map((v) => v.prefix);

  const doc = (await server.app.inject({ url: '/api/docs/json' })).json() as OpenApiDocument;
  const templates = [...templatesFromOpenApi(doc), ...hiddenTemplates(world)];
  const arbitrary = fc.oneof(...templates.map((t) => requestFor(t, world).map((request) => ({ route: `${t.method} ${t.path}`, request }))));

  const findings = new Map<string, Finding>();
  const note = (kind: Finding['kind'], route: string, status: number, body: string, request: FuzzRequest) => {
    const key = `${kind} ${route} ${status}`;
    const seen = findings.get(key);
    if (seen) {
      seen.count++;
      // Keep the shortest example: the easiest to read and turn into a regression test.
      if (JSON.stringify(request).length < JSON.stringify(seen.request).length) Object.assign(seen, { request, body });
    } else {
      findings.set(key, { kind, route, status, body, request, count: 1 });
    }
  };

  let baseline = await snapshotOf(server, tokenB, prefixesB);
  let sinceSnapshot: { route: string; request: FuzzRequest; status: number }[] = [];
  const checkIsolation = async () => {
    const now = await snapshotOf(server, tokenB, prefixesB);
    if (now !== baseline) {
      const suspects = sinceSnapshot.filter((c) => c.request.method !== 'GET' && c.status < 400);
      const first = suspects[0] ?? sinceSnapshot[0]!;
      note('changed-other-user', first.route, first.status, `before:\n${baseline}\nafter:\n${now}`, first.request);
      baseline = now;
    }
    sinceSnapshot = [];
  };

  const statuses: Record<string, number> = {};
  let cases = 0;
  let unsendable = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(arbitrary, async ({ route, request }) => {
      cases++;
      let res;
      try {
        res = await server.app.inject({ method: request.method as 'GET', url: request.url, headers: request.headers, ...(request.payload !== undefined ? { payload: request.payload } : {}) });
      } catch (err) {
        // light-my-request refuses what Node's HTTP client would too (invalid header characters).
        if ((err as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR' || (err as NodeJS.ErrnoException).code === 'ERR_HTTP_INVALID_HEADER_VALUE') {
          unsendable++;
          return;
        }
        throw err;
      }
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      sinceSnapshot.push({ route, request, status: res.statusCode });
      // Without a built web bundle (tests do not build it) the UI pages say so with a 503: not input's fault.
      // (HEAD answers have no body: the page's text/plain type tells it apart from the API's JSON 503s.)
      if (res.statusCode === 503 && res.headers['content-type'] === 'text/plain; charset=utf-8') return;
      if (res.statusCode >= 500) note('5xx', route, res.statusCode, res.body, request);
      else if (res.statusCode >= 400 && request.method !== 'HEAD') {
        const problem = errorShapeProblem(res);
        if (problem) note('error-shape', route, res.statusCode, `${problem}: ${res.body}`, request);
      }
      if (cases % SNAPSHOT_EVERY === 0) await checkIsolation();
      if (cases % 10_000 === 0) opts.onProgress?.(cases);
    }),
    { numRuns: opts.runs, seed: opts.seed, endOnFailure: true },
  );
  await checkIsolation();
  return { seed: opts.seed, cases, unsendable, statuses, durationMs: Date.now() - started, findings: [...findings.values()] };
}

/** A finding as a reader (or a regression test) needs it, with long strings cut. */
export function describeFinding(f: Finding): string {
  const cut = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  const headers = Object.fromEntries(Object.entries(f.request.headers).map(([k, v]) => [k, cut(v, 120)]));
  return [
    `${f.kind}: ${f.route} → ${f.status} (${f.count}×)`,
    `  ${f.request.method} ${cut(f.request.url)}`,
    `  headers ${JSON.stringify(headers)}`,
    ...(f.request.payload !== undefined ? [`  payload ${JSON.stringify(cut(f.request.payload))}`] : []),
    `  answer ${cut(f.body, 600)}`,
  ].join('\n');
}
