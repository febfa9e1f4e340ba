// Follows one LL-HLS media playlist the way a low-latency player does (blocking reload for the
// next part) and records when each new part appeared, so a test can report the longest stretch
// in which the stream did not advance.
import { parseMediaPlaylist } from './ll-hls-validator.ts';

export interface PlaylistWatch {
  /** Longest time between two successive new parts (ms), and when it ended (ms since epoch). */
  worstGap(): { ms: number; at: number };
  /** Gaps over `ms`, each with its end time. */
  gapsOver(ms: number): Array<{ ms: number; at: number }>;
  /** Forget what was seen so far (e.g. after a warm-up). */
  reset(): void;
  parts(): number;
  stop(): Promise<void>;
}

export function watchPlaylist(url: string): PlaylistWatch {
  let stopped = false;
  let last: { msn: number; part: number } | null = null;
  let lastAt = 0;
  let count = 0;
  let gaps: Array<{ ms: number; at: number }> = [];
  const controller = new AbortController();
  const loop = (async () => {
    while (!stopped) {
      const query = last ? `?_HLS_msn=${last.msn}&_HLS_part=${last.part + 1}` : '';
      let text: string;
      try {
        const res = await fetch(url + query, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(6000)]) });
        text = await res.text();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
      } catch {
        if (stopped) break;
        // A blocking request that timed out or was refused: ask again without blocking.
        last = null;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const now = Date.now();
      const seen = parseMediaPlaylist(text).lastPart;
      if (!seen) continue;
      if (!last || seen.msn > last.msn || (seen.msn === last.msn && seen.part > last.part)) {
        if (lastAt) gaps.push({ ms: now - lastAt, at: now });
        if (lastAt) count += 1;
        lastAt = now;
      }
      last = seen;
    }
  })();
  return {
    worstGap: () => gaps.reduce((w, g) => (g.ms > w.ms ? g : w), { ms: 0, at: 0 }),
    gapsOver: (ms) => gaps.filter((g) => g.ms > ms),
    reset: () => {
      gaps = [];
      count = 0;
    },
    parts: () => count,
    async stop() {
      stopped = true;
      controller.abort();
      await loop;
    },
  };
}

/** VmRSS of a process in MiB, or null if it is gone. */
export async function rssMiB(pid: number): Promise<number | null> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const kb = status?.match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return kb ? Number(kb) / 1024 : null;
}
