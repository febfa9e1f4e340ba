// Found by the RTMP fuzzer: before a publish is accepted, every chunk stream a client opens makes
// NMS allocate (and keep, for the whole connection) a buffer of the length the client announces.
// 32 headers of ~12 bytes announcing 64 KiB each made the worker hold 2 MiB per socket until the
// command timeout. A connection that asks for more than a small total is dropped at once.
import { createServer, type Socket } from 'node:net';
import t from 'tap';
import { PassThrough } from 'node:stream';
import { MediaPipeWriter } from '../../ingest/media-pipe.ts';
import { loadNms } from '../../ingest/nms-modules.ts';
import { RtmpConnection } from '../../ingest/rtmp-connection.ts';
import { c0c1, c2, chunks, runScript } from '../helpers/rtmp-fuzz-client.ts';

async function worker(t: { teardown(fn: () => unknown): void }) {
  const nms = loadNms();
  nms.logger.log = () => {};
  const connections: RtmpConnection[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket: Socket) => {
    sockets.push(socket);
    connections.push(
      new RtmpConnection(connections.length + 1, socket, {
        nms,
        live: new Map(),
        options: { commandTimeoutMs: 10_000, publisherIdleMs: 10_000, mediaInfoTimeoutMs: 3000 },
        media: new MediaPipeWriter(new PassThrough().resume()),
        send: () => {},
        log: () => {},
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

/** On `count` chunk streams, the first 128-byte chunk (the default chunk size) of a `length`-byte message. */
const announce = (count: number, length: number) =>
  Buffer.concat(Array.from({ length: count }, (_, i) => chunks({ csid: 10 + i, type: 20, payload: Buffer.alloc(128, 2), announcedLength: length })));

t.test('many chunk streams announcing large messages before publish: dropped at once', async (t) => {
  const port = await worker(t);
  const result = await runScript(port, [{ send: c0c1() }, { awaitBytes: 3073 }, { send: c2() }, { send: announce(30, 60_000) }], { deadlineMs: 3000, lingerMs: 2000 });
  t.ok(result.closedByServer, `the server closed the connection (after ${result.ms} ms)`);
  t.ok(result.ms < 1500, 'without waiting for the command timeout');
});

t.test('an ordinary client is not affected: a few chunk streams with small messages', async (t) => {
  const port = await worker(t);
  const result = await runScript(port, [{ send: c0c1() }, { awaitBytes: 3073 }, { send: c2() }, { send: announce(6, 4000) }], { deadlineMs: 3000, lingerMs: 800 });
  t.notOk(result.closedByServer, 'the connection stays open');
});
