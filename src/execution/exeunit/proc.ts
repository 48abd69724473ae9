/**
 * Process trees through /proc (Linux): the descendants of a process, their CPU time, killing a tree.
 * The runtime's processes stay in the supervisor's process group, so the daemon can also end a crashed
 * supervisor's whole group at once.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in seconds. */
  cpu: number;
}

function readStat(pid: number | 'self'): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return {
      pid: Number(text.slice(0, text.indexOf(' '))),
      ppid: Number(fields[1]),
      cpu: ticks / CLOCK_TICKS,
    };
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const stats: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== undefined) stats.push(stat);
  }
  return stats;
}

/** Live descendants of `root` (not `root` itself). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const stat of allStats()) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/**
 * CPU seconds of this process and every process below it: live ones from their stat, ended ones through the
 * reaped-children fields of their parents.
 */
export function treeCpuSeconds(root: number = process.pid): number {
  const self = readStat(root === process.pid ? 'self' : root);
  let total = self?.cpu ?? process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  for (const pid of descendants(root)) total += readStat(pid)?.cpu ?? 0;
  return total;
}

/** Sends `signal` to `pid` and all its descendants (children first found, so none is re-parented unseen). */
export function signalTree(pid: number, signal: NodeJS.Signals, alsoPids: number[] = []): number[] {
  const pids = [...new Set([pid, ...descendants(pid), ...alsoPids])];
  for (const target of pids) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
  return pids;
}
