// RenditionPackager keeps parts in memory and writes only init sections and segments: every part a
// playlist lists can be fetched, with the bytes the muxer gave, and memory does not grow with the
// stream's length.
import t from 'tap';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { RenditionPackager } from '../../packager/rendition-packager.ts';
import { renderMediaPlaylist } from '../../packager/ll-hls-playlist.ts';

const TIMESCALE = 1000;

t.test('parts come from memory while listed, segments from disk', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'spillway-packager-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const packager = new RenditionPackager({ name: 'source', dir, partTarget: 0.2, segmentTarget: 2, targetDuration: 2, windowSegments: 6, log: pino({ level: 'silent' }) });
  await packager.onInit({ data: Buffer.from('init'), timescale: TIMESCALE });
  const sent = new Map<number, Buffer>();
  // 60 s of 200 ms parts, a keyframe every 2 s.
  for (let i = 0; i < 300; i++) {
    const data = Buffer.from(`part ${i} `.repeat(20));
    sent.set(i, data);
    await packager.onFragment({ data, baseMediaDecodeTime: i * 200, duration: 200, independent: i % 10 === 0 });
  }
  await packager.idle();

  const playlist = renderMediaPlaylist(packager.state);
  const listed = [...playlist.matchAll(/#EXT-X-PART:.*URI="part-(\d+)\.m4s"/g)].map((m) => Number(m[1]));
  t.ok(listed.length >= 15, `the playlist lists the last target durations' parts (${listed.length})`);
  for (const n of listed) t.same(await packager.part(n), sent.get(n), `listed part ${n} is served with the muxer's bytes`);
  t.equal(await packager.part(0), undefined, 'a part from a minute ago is no longer served');
  t.equal(await packager.part(300), undefined, 'the next part does not exist yet');
  t.equal(packager.nextPartNumber, 300);
  // In memory: the parts being built (290-299) and those of the newest segment on disk (280-289).
  // The older listed parts are read from their segment files.
  t.equal(packager.partsInMemory, 20, 'two segments of parts are held in memory, not every listed one');
  const older = packager.state.segments.at(-2)!;
  const olderPart = Number(/part-(\d+)/.exec(older.parts[0]!.uri)![1]);
  t.ok(listed.includes(olderPart), `part ${olderPart} is listed`);
  await rm(path.join(dir, older.uri));
  t.equal(await packager.part(olderPart), undefined, 'it was read from its segment file: without the file it is gone');
  t.same(await packager.part(285), sent.get(285), 'a part of the newest segment on disk is still served from memory');

  const files = await readdir(dir);
  t.notOk(files.some((f) => f.startsWith('part-')), 'no part is written to disk');
  const newest = packager.state.segments.at(-1)!;
  const onDisk = await readFile(path.join(dir, newest.uri));
  const numbers = [...Array(newest.parts.length).keys()].map((k) => 290 - newest.parts.length + k);
  t.same(onDisk, Buffer.concat(numbers.map((n) => sent.get(n)!)), 'the newest segment file is its parts, in order');
  t.ok(files.includes('init-0.mp4'), 'the init section is on disk');
});

t.test("a run's trailing fragment without video is not a part", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'spillway-packager-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const packager = new RenditionPackager({ name: '240p', dir, partTarget: 0.1, segmentTarget: 1, targetDuration: 1, windowSegments: 6, log: pino({ level: 'silent' }) });
  await packager.onInit({ data: Buffer.from('init'), timescale: TIMESCALE });
  for (let i = 0; i < 14; i++) await packager.onFragment({ data: Buffer.from(`p${i}`), baseMediaDecodeTime: i * 100, duration: 100, independent: i % 10 === 0 });
  // What ffmpeg writes when its input ends: a short last part, then the audio tail with no video.
  await packager.onFragment({ data: Buffer.from('p14'), baseMediaDecodeTime: 1400, duration: 67, independent: false });
  await packager.onFragment({ data: Buffer.from('audio tail'), baseMediaDecodeTime: 1467, duration: 0, independent: false });
  await packager.onInit({ data: Buffer.from('init'), timescale: TIMESCALE });
  await packager.onFragment({ data: Buffer.from('next run'), baseMediaDecodeTime: 0, duration: 100, independent: true });
  await packager.idle();

  const closed = packager.state.segments.at(-1)!;
  t.same(closed.parts.map((p) => p.duration), [0.1, 0.1, 0.1, 0.1, 0.067], 'the short part is the last of its segment');
  t.notOk(renderMediaPlaylist(packager.state).includes('DURATION=0.0,'), 'no part of zero duration is listed');
  t.equal(packager.state.pendingParts.length, 1, 'the next run goes on');
});
