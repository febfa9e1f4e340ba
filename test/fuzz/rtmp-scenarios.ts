// fast-check arbitraries for hostile RTMP clients: each attack is a list of steps for one socket
// (see ../helpers/rtmp-fuzz-client.ts). The categories follow the ways a client can be wrong:
// its handshake, its chunk layer, its AMF, where it puts the stream key, what it sends before it
// may, and how it holds (or half-closes) the connection.
import fc from 'fast-check';
import { amf, c0c1, c2, chunks, command, setChunkSize, type Step } from '../helpers/rtmp-fuzz-client.ts';

export interface Attack {
  kind: string;
  steps: Step[];
  lingerMs: number;
}

const handshake = fc.constantFrom<Step[]>(
  [{ send: c0c1() }, { awaitBytes: 3073 }, { send: c2() }],
  [{ send: Buffer.concat([c0c1(), c2()]) }],
);

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const linger = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 150 }) }, { weight: 1, arbitrary: fc.integer({ min: 150, max: 1500 }) });
const ending = fc.constantFrom<Step[]>([], [], [{ end: true }]);

/** Wrong version bytes, truncated or oversized C1, garbage instead of a handshake. */
const badHandshake = fc.record({
  version: fc.oneof(fc.constant(3), fc.constant(6), fc.integer({ min: 0, max: 255 })),
  body: fc.oneof(bytes(3200), fc.integer({ min: 0, max: 1535 }).map((n) => c0c1().subarray(1, 1 + n))),
  ending,
  lingerMs: linger,
}).map(({ version, body, ending, lingerMs }): Attack => ({ kind: 'handshake', steps: [{ send: Buffer.concat([Buffer.from([version]), body]) }, ...ending], lingerMs }));

const csid = fc.oneof(fc.integer({ min: 2, max: 63 }), fc.integer({ min: 64, max: 319 }), fc.integer({ min: 320, max: 65599 }), fc.constantFrom(0, 1));
const messageType = fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 6, 8, 9, 15, 16, 17, 18, 19, 20, 22), fc.integer({ min: 0, max: 255 }));
const length = fc.oneof(fc.constant(undefined), fc.constantFrom(0, 0xffffff, 65_536, 65_535 + 1024), fc.integer({ min: 0, max: 0xffffff }));
const timestamp = fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(0xffffff, 0xffffffff));

/** Valid handshake, then chunks with any fmt, id, type, length and chunk size; or raw bytes. */
const chunkGarbage = fc.record({
  hs: handshake,
  messages: fc.array(
    fc.oneof(
      fc.record({ fmt: fc.integer({ min: 0, max: 3 }), csid, type: messageType, payload: bytes(700), announcedLength: length, timestamp, chunkSize: fc.integer({ min: 1, max: 4096 }) }).map((m) => chunks(m)),
      bytes(400),
    ),
    { minLength: 1, maxLength: 6 },
  ),
  ending,
  lingerMs: linger,
}).map(({ hs, messages, ending, lingerMs }): Attack => ({ kind: 'chunks', steps: [...hs, ...messages.map((send) => ({ send })), ...ending], lingerMs }));

const absurdChunkSize = fc.oneof(fc.constantFrom(0, 1, 2, 127, 0x7fffffff, 0x80000000, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

const connectArgs = (app: Buffer, tcUrl: Buffer | null) =>
  amf.obj([['app', app], ...(tcUrl ? ([['tcUrl', tcUrl]] as Array<[string, Buffer]>) : []), ['flashVer', amf.str('FMLE/3.0')]]);

/** `depth` nested objects (or one-element strict arrays) around a null, built in one pass. */
const deep = (depth: number, strict: boolean): Buffer => {
  const open = strict ? Buffer.from([0x0a, 0, 0, 0, 1]) : Buffer.from([0x03, 0, 1, 0x61]);
  const close = strict ? Buffer.alloc(0) : Buffer.from([0, 0, 0x09]);
  return Buffer.concat([...Array<Buffer>(depth).fill(open), amf.nul(), ...Array<Buffer>(depth).fill(close)]);
};

/** connect without tcUrl, with the wrong types, huge strings, lying lengths, deep nesting. */
const malformedAmf = fc.record({
  hs: handshake,
  chunkSize: fc.oneof(fc.constant(null), absurdChunkSize),
  app: fc.oneof(fc.constant(amf.str('live')), fc.constant(amf.num(1)), fc.constant(amf.nul()), fc.string({ maxLength: 40 }).map((s) => amf.str(s)), fc.integer({ min: 0, max: 65_535 }).map((n) => amf.str('x', n))),
  tcUrl: fc.oneof(
    fc.constant(null),
    fc.constant(amf.str('rtmp://127.0.0.1/live')),
    fc.constantFrom(amf.str(''), amf.str('not a url'), amf.num(7), amf.nul(), amf.obj([])),
    fc.integer({ min: 1000, max: 60_000 }).map((n) => amf.longStr('rtmp://h/' + 'a'.repeat(n))),
    fc.constant(amf.longStr('rtmp://h/live', 0xffffffff)),
  ),
  extra: fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.integer({ min: 1, max: 12_000 }).map((d) => deep(d, false)),
    fc.integer({ min: 1, max: 12_000 }).map((d) => deep(d, true)),
    fc.constant(amf.strict([], 0xffffffff)),
    fc.constant(amf.ecma([['k', amf.num(1)]], 0xffffffff)),
    bytes(300),
  ),
  name: fc.oneof(fc.constant('connect'), fc.constant('createStream'), fc.constant('publish'), fc.constant('play'), fc.string({ maxLength: 20 })),
  cut: fc.option(fc.integer({ min: 0, max: 64 })),
  ending,
  lingerMs: linger,
}).map(({ hs, chunkSize, app, tcUrl, extra, name, cut, ending, lingerMs }): Attack => {
  let body = command(name, 1, Buffer.concat([connectArgs(app, tcUrl)]), extra);
  if (cut !== null) body = body.subarray(0, Math.max(0, body.length - cut));
  const size = chunkSize === null ? 128 : Math.min(Math.max(chunkSize, 1), 65_536);
  const steps: Step[] = [...hs, ...(chunkSize === null ? [] : [{ send: setChunkSize(chunkSize) }]), { send: chunks({ csid: 3, type: 20, payload: body, chunkSize: size }) }, ...ending];
  return { kind: 'amf', steps, lingerMs };
});

/** A whole publish (or play) with the key in odd places: app with slashes, query strings, wrong app. */
const oddPublish = (key: string) =>
  fc.record({
    hs: handshake,
    target: fc.constantFrom<[string, string]>(
      ['live', key],
      ['live', `${key}?x=1`],
      ['live', `?key=${key}`],
      [`live/${key}`, ''],
      [`live/${key}`, 'x'],
      [`live?key=${key}`, key],
      ['live/', key],
      ['', key],
      ['live', ''],
      ['live', `../${key}`],
      ['internal', 'no-such-session'],
      ['live', 'live_' + 'A'.repeat(43)],
    ),
    verb: fc.constantFrom('publish', 'publish', 'play', 'FCPublish'),
    createStream: fc.boolean(),
    twice: fc.boolean(),
    media: fc.array(fc.record({ type: fc.constantFrom(8, 9, 18), payload: bytes(300) }), { maxLength: 4 }),
    ending,
    lingerMs: linger,
  }).map(({ hs, target: [app, name], verb, createStream, twice, media, ending, lingerMs }): Attack => {
    const tcUrl = `rtmp://127.0.0.1/${app}`;
    const publish = chunks({ csid: 8, type: 20, streamId: 1, payload: command(verb, 3, amf.nul(), amf.str(name), amf.str('live')) });
    const steps: Step[] = [
      ...hs,
      { send: chunks({ csid: 3, type: 20, payload: command('connect', 1, connectArgs(amf.str(app), amf.str(tcUrl))) }) },
      ...(createStream ? [{ send: chunks({ csid: 3, type: 20, payload: command('createStream', 2, amf.nul()) }) }] : []),
      { send: publish },
      ...(twice ? [{ send: publish }] : []),
      ...media.map((m) => ({ send: chunks({ csid: 6, type: m.type, streamId: 1, payload: m.payload }) })),
      ...ending,
    ];
    return { kind: 'publish', steps, lingerMs };
  });

const avcHeader = Buffer.from([0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1f, 0x01, 0x00, 0x04, 0x68, 0xee, 0x3c, 0x80]);

/** Audio, video and data messages before any publish (with or without a connect). */
const mediaBeforePublish = fc.record({
  hs: handshake,
  connect: fc.boolean(),
  media: fc.array(
    fc.record({
      type: fc.constantFrom(8, 9, 18, 15, 22),
      payload: fc.oneof(bytes(2000), fc.constant(avcHeader), fc.constant(Buffer.concat([amf.str('@setDataFrame'), amf.str('onMetaData'), amf.ecma([['width', amf.str('wide')], ['videocodecid', amf.obj([])]])]))),
    }),
    { minLength: 1, maxLength: 8 },
  ),
  lingerMs: linger,
}).map(({ hs, connect, media, lingerMs }): Attack => ({
  kind: 'media',
  steps: [
    ...hs,
    ...(connect ? [{ send: chunks({ csid: 3, type: 20, payload: command('connect', 1, connectArgs(amf.str('live'), amf.str('rtmp://127.0.0.1/live'))) }) }] : []),
    ...media.map((m) => ({ send: chunks({ csid: 5, type: m.type, streamId: 1, payload: m.payload }) })),
  ],
  lingerMs,
}));

/** Connect and stay silent, or stop mid-handshake; sometimes half-closed. */
const idle = fc.record({
  sent: fc.constantFrom<Step[]>([], [{ send: Buffer.from([3]) }], [{ send: c0c1().subarray(0, 700) }], [{ send: c0c1() }, { awaitBytes: 3073 }]),
  ending,
  lingerMs: fc.integer({ min: 100, max: 2000 }),
}).map(({ sent, ending, lingerMs }): Attack => ({ kind: 'idle', steps: [...sent, ...ending], lingerMs }));

export function rtmpAttack(key: string): fc.Arbitrary<Attack> {
  return fc.oneof(
    { weight: 3, arbitrary: badHandshake },
    { weight: 3, arbitrary: chunkGarbage },
    { weight: 3, arbitrary: malformedAmf },
    { weight: 3, arbitrary: oddPublish(key) },
    { weight: 2, arbitrary: mediaBeforePublish },
    { weight: 2, arbitrary: idle },
  );
}

/** A case: a few attacks at once, as a scanner or a broken encoder farm would. */
export function rtmpCase(key: string): fc.Arbitrary<Attack[]> {
  return fc.array(rtmpAttack(key), { minLength: 1, maxLength: 4 });
}
