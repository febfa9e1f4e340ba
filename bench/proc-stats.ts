// CPU and memory of a process tree, read from /proc (Linux): the benchmarks measure the server
// with its ingest worker and packager ffmpegs, without the load generators.
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_S = 100;

interface ProcInfo {
  pid: number;
  ppid: number;
  cpuS: number;
  rssBytes: number;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    // utime + stime, plus cutime + cstime: the CPU of children already waited for, so short-lived
    // ones (a thumbnail's ffmpeg) count even when they start and end between two samples.
    const cpuTicks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return { pid, ppid: Number(fields[1]), cpuS: cpuTicks / TICKS_PER_S, rssBytes: rssKb * 1024 };
  } catch {
    return null;
  }
}

/** The process `root` and its descendants, skipping the subtrees rooted at `exclude`. */
export function treeStats(root: number, exclude: Set<number>): { cpuS: number; rssBytes: number; pids: number[] } {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => readProc(Number(d))).filter((p): p is ProcInfo => p !== null);
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const self = all.find((p) => p.pid === root);
  const out = { cpuS: 0, rssBytes: 0, pids: [] as number[] };
  const walk = (p: ProcInfo) => {
    if (exclude.has(p.pid)) return;
    out.cpuS += p.cpuS;
    out.rssBytes += p.rssBytes;
    out.pids.push(p.pid);
    for (const c of children.get(p.pid) ?? []) walk(c);
  };
  if (self) walk(self);
  return out;
}

/**
 * CPU seconds used by each pid between two samples. A child that ended in between counts through
 * its parent's waited-for CPU (all of it, a share from before the first sample included).
 */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

export function cpuByPid(pids: number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, readProc(pid)?.cpuS ?? 0]));
}
