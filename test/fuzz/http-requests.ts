// fast-check arbitraries for bad HTTP requests, built from the server's own OpenAPI document plus
// the hidden media routes (/vod, /hls) it does not list. Each request mixes plausible values (real
// ids and slugs of two users, so authorisation is probed too) with junk: wrong types, huge and
// out-of-range numbers, long strings, unicode edge cases, missing and extra fields, malformed JSON,
// odd headers and path segments.
import fc from 'fast-check';

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

/** What the probes know: user A's token, and ids of both users' resources. */
export interface FuzzWorld {
  tokenA: string;
  slugs: string[];
  vodIds: string[];
  sessionIds: string[];
  usernames: string[];
}

interface OpenApiParameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: JsonSchema;
}
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  format?: string;
  anyOf?: JsonSchema[];
}
interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

export interface RouteTemplate {
  method: string;
  /** OpenAPI style: `/api/v1/channels/{slug}`. */
  path: string;
  query: OpenApiParameter[];
  body: JsonSchema | null;
  /** Extra query parameters a hidden route reads. */
  extraQuery?: Record<string, fc.Arbitrary<string>>;
  /** Values for path parameters of hidden routes, by name. */
  pathValues?: Record<string, fc.Arbitrary<string>>;
}

const HUGE_NUMBERS = ['1e19', '9223372036854775807', '9223372036854775808', '1e308', '1e400', '-1e400', '9007199254740993', '-1', '-0', '0.5', '1e-400', 'NaN', 'Infinity', '-Infinity', '0x10', '1_000', ' 1', '１'];
const UNICODE_EDGES = ['\uD800', '\uDFFF', '\uDBFF\uDC00', '\u0000', '\u202E', '\u200F', '\u200B', '\uFEFF', '\uFFFF', '\uFFFE', 'e\u0301', '𝕏', '👩‍👩‍👧', '\r\n', '\t', '\u2028', 'İ', 'ß', '\u00A0'];
const PATH_JUNK = ['..', '../..', '..%2f..%2fetc%2fpasswd', '%2e%2e', '%2e%2e%2f', '%00', '%', '%zz', '%E0%A4%A', '%C0%AF', '%FF', '.', '', '~', '%20', '%u0041', 'a%2Fb', '\\..\\', 'con', '*', '%252e'];

const junkString = fc.oneof(
  fc.constantFrom(...UNICODE_EDGES, ...HUGE_NUMBERS, '', ' ', 'null', 'true', '[]', '{}', '<script>', "'; DROP TABLE users; --", '${x}', '%s%n'),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.array(fc.constantFrom(...UNICODE_EDGES), { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
  fc.constantFrom(1_000, 5_000, 20_000).chain((n) => fc.constantFrom('a', '\u0000', 'é', '\uD800').map((c) => c.repeat(n))),
);

const jsonNumber = fc.oneof(
  fc.constantFrom(1e19, 9223372036854775807, 1e308, -1e308, 9007199254740993, -1, 0, 0.5, -0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 31, 2 ** 63),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const junkJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: 'small' },
  junkString,
  jsonNumber,
  fc.constantFrom(null, true, false, [], {}, [[[[[[]]]]]], { __proto__: { admin: true } }, { constructor: { prototype: { x: 1 } } }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Mostly-valid or deliberately wrong value for one schema, for bodies and query strings. */
function valueFor(schema: JsonSchema | undefined, world: FuzzWorld): fc.Arbitrary<unknown> {
  const s = schema ?? {};
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  const plausible: fc.Arbitrary<unknown>[] = [];
  if (s.enum) plausible.push(fc.constantFrom(...s.enum));
  if (type === 'integer' || type === 'number') {
    const lo = s.minimum ?? -10, hi = s.maximum ?? 1e6;
    plausible.push(fc.constantFrom(lo, hi, lo - 1, hi + 1), fc.integer({ min: Math.max(lo, -1e9), max: Math.min(hi, 1e9) }));
  }
  if (type === 'string') {
    if (s.format === 'uuid') plausible.push(fc.constantFrom(...world.vodIds, ...world.sessionIds), fc.uuid());
    else if (s.format === 'date-time') plausible.push(fc.constantFrom('2024-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-12-31T23:59:60Z', '2024-01-01T00:00:00+99:99'), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()));
    else if (s.format === 'email') plausible.push(fc.emailAddress(), fc.constantFrom('a@b', '@', 'a@\u0000.com', `${'a'.repeat(300)}@x.io`));
    else plausible.push(fc.constantFrom(...world.slugs, ...world.usernames), fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 50, 300) }));
  }
  if (type === 'boolean') plausible.push(fc.boolean());
  if (type === 'object' || s.properties) plausible.push(objectFor(s, world));
  if (s.anyOf) plausible.push(...s.anyOf.map((sub) => valueFor(sub, world)));
  return plausible.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.oneof(...plausible) }, { weight: 2, arbitrary: junkJsonValue }) : junkJsonValue;
}

function objectFor(schema: JsonSchema, world: FuzzWorld): fc.Arbitrary<Record<string, unknown>> {
  const props = Object.entries(schema.properties ?? {});
  const record: Record<string, fc.Arbitrary<unknown>> = Object.fromEntries(props.map(([k, v]) => [k, valueFor(v, world)]));
  return fc
    .tuple(
      fc.record(record, { requiredKeys: [] }),
      fc.option(fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'role', 'isAdmin', 'ownerId', 'id'), junkString), junkJsonValue, { maxKeys: 3 }), { freq: 4 }),
    )
    .map(([known, extra]) => ({ ...known, ...(extra ?? {}) }));
}

function pathValue(name: string, world: FuzzWorld): fc.Arbitrary<string> {
  const known = name === 'slug' ? world.slugs : name === 'username' ? world.usernames : name === 'id' ? [...world.vodIds, ...world.sessionIds] : world.slugs;
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...PATH_JUNK) },
    { weight: 2, arbitrary: junkString.map((s) => encodeURIComponent(toWellFormed(s)).slice(0, 6000)) },
    { weight: 1, arbitrary: fc.constantFrom(...known).map((k) => k.toUpperCase() + '%00') },
  );
}

// encodeURIComponent throws on a lone surrogate; a raw one goes in as an invalid %-sequence instead.
function toWellFormed(s: string): string {
  return s.replace(/[\uD800-\uDFFF]/g, (c, i: number) => {
    const code = c.charCodeAt(0);
    const pair = code < 0xdc00 ? s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff : s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) < 0xdc00;
    return pair ? c : '\uFFFD';
  });
}

function queryString(template: RouteTemplate, world: FuzzWorld): fc.Arbitrary<string> {
  const declared: Record<string, fc.Arbitrary<string>> = Object.fromEntries(
    template.query.map((p) => [p.name, fc.oneof(valueFor(p.schema, world).map(asQueryText), fc.constantFrom(...HUGE_NUMBERS), junkString)]),
  );
  const all = { ...declared, ...(template.extraQuery ?? {}) };
  return fc
    .tuple(
      fc.record(all, { requiredKeys: [] }),
      fc.option(fc.dictionary(fc.constantFrom('x', 'limit', '__proto__', 'from[]', 'a[b]', ''), junkString, { maxKeys: 2 }), { freq: 5 }),
      fc.option(fc.constantFrom('&&', '&=&', '&from=1&from=2', '&limit=1&limit=1e400', '&%', '&%E0%A4%A=1', '#frag'), { freq: 6 }),
    )
    .map(([known, extra, raw]) => {
      const params = { ...known, ...(extra ?? {}) };
      const text = Object.entries(params)
        .map(([k, v]) => `${encodeURIComponent(toWellFormed(k))}=${encodeURIComponent(toWellFormed(String(v)))}`)
        .join('&');
      const full = text + (raw ?? '');
      return full === '' ? '' : `?${full}`;
    });
}

function asQueryText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? '';
}

const HEADER_JUNK = fc.oneof(
  fc.constantFrom('', ' ', '*/*', 'application/json', 'x', 'a'.repeat(8_000), '\u00e9\u00ff'),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-8',
  'application/json; charset=utf-16',
  'application/json; charset=utf-16le',
  'application/json; charset="latin1"',
  'application/json; charset=',
  'application/json; charset',
  'application/json;;;',
  'application/json; charset=utf-8; charset=utf-16',
  'application/JSON',
  'application/json-patch+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/plain',
  'text/plain; charset=utf-8',
  '*/*',
  '',
  'application/',
  ';',
  '\u00e9/json',
];

const RANGES = [
  'bytes=0-0',
  'bytes=0-99',
  'bytes=-1',
  'bytes=-0',
  'bytes=500-',
  'bytes=999-',
  'bytes=1000-',
  'bytes=9007199254740993-',
  'bytes=0-99999999999999999999',
  'bytes=-99999999999999999999',
  'bytes=5-2',
  'bytes=0-1,4-5',
  'bytes=abc',
  'bytes=',
  'bytes=--1',
  'items=0-1',
  'bytes=1e3-',
  `bytes=${'9'.repeat(400)}-`,
  'bytes=0-0,'.repeat(200),
];

function headersFor(world: FuzzWorld): fc.Arbitrary<Record<string, string>> {
  return fc
    .record(
      {
        authorization: fc.oneof(
          { weight: 4, arbitrary: fc.constant(`Bearer ${world.tokenA}`) },
          { weight: 1, arbitrary: fc.constant(`Bearer ${world.tokenA}x`) },
          { weight: 1, arbitrary: fc.constant(`bearer ${world.tokenA}`) },
          { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Basic YTpi', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', `Bearer ${'a'.repeat(3000)}`, 'Bearer a.b.c') },
          { weight: 1, arbitrary: HEADER_JUNK },
        ),
        'content-type': fc.oneof(
          { weight: 6, arbitrary: fc.constant('application/json') },
          { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
          { weight: 1, arbitrary: HEADER_JUNK },
        ),
        range: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...RANGES) }, { weight: 1, arbitrary: HEADER_JUNK }),
        accept: fc.constantFrom('*/*', 'application/xml', 'text/html;q=0', 'application/json;q=0, */*;q=0', '', 'image/*'),
        cookie: fc.oneof(fc.constantFrom('a=b', 'session=../../x', '=;;=;'), fc.constantFrom(4_000, 16_000).map((n) => `big=${'c'.repeat(n)}`)),
        'accept-encoding': fc.constantFrom('gzip', 'br;q=1, *;q=0', 'identity;q=0'),
        'x-forwarded-for': fc.constantFrom('1.2.3.4', '::1, 999.1.1.1', 'unknown', ''),
        'if-none-match': fc.constantFrom('*', '"x"', 'W/'),
      },
      { requiredKeys: [] },
    );
}

function bodyFor(template: RouteTemplate, world: FuzzWorld): fc.Arbitrary<string | undefined> {
  const raw = fc.oneof(
    fc.constantFrom('', '{', '{"a":', 'nul', '[1,]', '{"a":1,}', '\uFEFF{}', '{"a":"\\uD800"}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '"' + 'x'.repeat(20_000) + '"', '['.repeat(5_000)),
    fc.string({ unit: 'binary', maxLength: 100 }),
  );
  const structured = template.body ? valueFor(template.body, world) : junkJsonValue;
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 5, arbitrary: structured.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 2, arbitrary: raw },
  );
}

/** One request against one route template. */
export function requestFor(template: RouteTemplate, world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const names = [...template.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const pathArbs = names.map((n) => template.pathValues?.[n] ?? pathValue(n, world));
  return fc
    .tuple(
      fc.tuple(...pathArbs),
      queryString(template, world),
      headersFor(world),
      bodyFor(template, world),
      fc.oneof({ weight: 12, arbitrary: fc.constant(template.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'TRACE') }),
    )
    .map(([values, query, headers, payload, method]) => {
      let i = 0;
      const url = template.path.replace(/\{[^}]+\}/g, () => values[i++]!) + query;
      const withBody = payload !== undefined && method !== 'GET' && method !== 'HEAD';
      return { method, url, headers, ...(withBody ? { payload } : {}) };
    });
}

/** Every operation of the OpenAPI document as a template. */
export function templatesFromOpenApi(doc: OpenApiDocument): RouteTemplate[] {
  const out: RouteTemplate[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const body = op.requestBody?.content?.['application/json']?.schema ?? null;
      out.push({ method: method.toUpperCase(), path, query: (op.parameters ?? []).filter((p) => p.in === 'query'), body });
    }
  }
  return out;
}

/** The media routes hidden from the OpenAPI document. */
export function hiddenTemplates(world: FuzzWorld): RouteTemplate[] {
  const junkSegment = fc.oneof(fc.constantFrom(...PATH_JUNK), junkString.map((s) => encodeURIComponent(toWellFormed(s)).slice(0, 400)));
  const vodFile = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('master.m3u8', 'poster.jpg', 'sprite.jpg', 'thumbnails.vtt', '720p/index.m3u8', '720p/init-0.mp4', '720p/seg-1.m4s', '720p/seg-999999999.m4s') },
    { weight: 2, arbitrary: fc.constantFrom('../../../etc/passwd', '..%2f..%2f..%2fetc%2fpasswd', '720p/../../x', '720p/.seg-1.m4s.meta.json', '720p/seg-1.m4s%00.jpg', '720p//seg-1.m4s', '%2e%2e/%2e%2e/x', '720p/seg-99999999999999999999.m4s') },
    { weight: 1, arbitrary: junkSegment },
  );
  const session = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...world.sessionIds) }, { weight: 1, arbitrary: fc.uuid() }, { weight: 1, arbitrary: junkSegment });
  const rendition = fc.oneof(fc.constantFrom('720p', 'source', '240p'), junkSegment);
  const hlsQuery = {
    _HLS_msn: fc.oneof(fc.constantFrom('0', '1', '99999', ...HUGE_NUMBERS), junkString),
    _HLS_part: fc.oneof(fc.constantFrom('0', '3', ...HUGE_NUMBERS), junkString),
    _HLS_skip: fc.constantFrom('YES', 'v2', 'NO', '', 'yes'),
  };
  const vodQuery = { exp: fc.oneof(fc.constantFrom('0', '9999999999', ...HUGE_NUMBERS), junkString), sig: fc.oneof(fc.constantFrom('', 'x', 'a'.repeat(64)), junkString) };
  return [
    { method: 'GET', path: '/vod/{id}/{file}', query: [], body: null, pathValues: { file: vodFile }, extraQuery: vodQuery },
    { method: 'HEAD', path: '/vod/{id}/{file}', query: [], body: null, pathValues: { file: vodFile }, extraQuery: vodQuery },
    { method: 'GET', path: '/hls/{session}/master.m3u8', query: [], body: null, pathValues: { session } },
    { method: 'GET', path: '/hls/{session}/{rendition}/index.m3u8', query: [], body: null, pathValues: { session, rendition }, extraQuery: hlsQuery },
    { method: 'GET', path: '/hls/{session}/{rendition}/{file}', query: [], body: null, pathValues: { session, rendition, file: fc.oneof(fc.constantFrom('init-0.mp4', 'part-0.m4s', 'seg-1.m4s', 'part-999999999.m4s'), junkSegment) } },
    // Paths no route matches: the not-found handler and the router's own errors.
    { method: 'GET', path: '/{a}/{b}', query: [], body: null, pathValues: { a: fc.constantFrom('api', 'hls', 'vod', 'api%2Fv1', '%zz', 'a'.repeat(300)), b: junkSegment } },
  ];
}
