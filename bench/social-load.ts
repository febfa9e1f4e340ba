// The viewers of `npm run bench:social`, in their own process so the server's CPU is measured
// alone: each viewer watches one video, reports a view after 10 s of "playback" and its position
// every 5 s, over real HTTP. Input on stdin: { base, seconds, viewers: [{ token, vodId }] }.
// Output on stdout: { requests, failures, statusCounts }.
import { text } from 'node:stream/consumers';

interface Input {
  base: string;
  seconds: number;
  viewers: Array<{ token: string; vodId: string }>;
}

const input = JSON.parse(await text(process.stdin)) as Input;
const statusCounts: Record<string, number> = {};
let requests = 0;
let failures = 0;
const call = async (url: string, method: string, token: string, body: unknown) => {
  requests++;
  try {
    const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await res.arrayBuffer();
    statusCounts[res.status] = (statusCounts[res.status] ?? 0) + 1;
    if (!res.ok) failures++;
  } catch {
    failures++;
    statusCounts.network = (statusCounts.network ?? 0) + 1;
  }
};

const endAt = Date.now() + input.seconds * 1000;
await Promise.all(
  input.viewers.map(async (v, i) => {
    // Spread the viewers' report times over the 5 s period, as real players would be.
    await new Promise((r) => setTimeout(r, (i * 5000) / input.viewers.length));
    const started = Date.now();
    let viewSent = false;
    while (Date.now() < endAt) {
      const positionS = (Date.now() - started) / 1000;
      await call(`${input.base}/api/v1/me/history/${v.vodId}`, 'PUT', v.token, { positionS });
      if (!viewSent && positionS >= 10) {
        viewSent = true;
        await call(`${input.base}/api/v1/vods/${v.vodId}/views`, 'POST', v.token, { playedS: Math.floor(positionS) });
      }
      await new Promise((r) => setTimeout(r, 5000));
    }
  }),
);
process.stdout.write(JSON.stringify({ requests, failures, statusCounts }));
