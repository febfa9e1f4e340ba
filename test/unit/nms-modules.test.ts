// The node-media-server classes the RTMP worker runs: what one connection costs before it has sent
// anything, since every scanner, idle socket and truncated handshake gets one.
import { Socket } from 'node:net';
import t from 'tap';
import { loadNms } from '../../ingest/nms-modules.ts';

t.test('an RTMP session costs kilobytes, not the 1 MiB FLV buffer NMS allocates for it', async (t) => {
  const nms = loadNms();
  const before = process.memoryUsage().arrayBuffers;
  const started = process.hrtime.bigint();
  const sessions = Array.from({ length: 200 }, () => new nms.RtmpSession(new Socket()));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const grownMiB = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
  t.comment(`200 sessions: +${grownMiB.toFixed(1)} MiB of buffers, ${ms.toFixed(0)} ms`);
  t.ok(grownMiB < 10, `200 sessions hold under 10 MiB of buffers (${grownMiB.toFixed(1)} MiB)`);
  t.equal(sessions.length, 200);
});

t.test('what RTMP does use of the FLV class still works', async (t) => {
  const nms = loadNms();
  const broadcast = new nms.BroadcastServer('/internal/x');
  t.ok(Buffer.isBuffer((broadcast as unknown as { flvHeader: Buffer }).flvHeader), 'BroadcastServer builds its FLV header (a static method)');
  const require = (await import('node:module')).createRequire(import.meta.url);
  const Flv = require('node-media-server/src/protocol/flv.js') as { parserTag(type: number, time: number, size: number, data: Buffer): { codec_type: number; flags: number } };
  const avcHeader = Buffer.from([0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1f]);
  const packet = Flv.parserTag(9, 0, avcHeader.length, avcHeader);
  t.equal(packet.codec_type, 9, 'tags still parse (the static parserTag the chunk parser calls)');
  t.equal(packet.flags, 2, 'an AVC sequence header');
});
