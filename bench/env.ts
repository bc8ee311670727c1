/**
 * The environment a benchmark ran in: machine, runtime, package versions, and how busy the
 * machine already was. Numbers from a shared 2-core VM mean little without the last item, so it
 * samples the whole machine's CPU use (/proc/stat) for a second before the run, while this process
 * sleeps: what it sees is other processes' load.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Everything recorded next to the results in bench/results/latest.json. */
export interface BenchEnv {
  /** ISO time the run started. */
  date: string;
  machine: { cpuModel: string; cpus: number; totalMemMiB: number; platform: string; arch: string; kernel: string };
  runtime: { node: string; v8: string };
  packages: Record<string, string>;
  /** Load of other processes, sampled before the run (and load averages after it, see main.ts). */
  load: {
    /** os.loadavg() [1, 5, 15 min] before the run. */
    loadavgBefore: number[];
    /** Machine-wide busy CPU % over `sampleMs` before the run (100 = every core busy); null off Linux. */
    busyPercentBefore: number | null;
    sampleMs: number;
    /** os.loadavg() after the run; filled in by main.ts. */
    loadavgAfter?: number[];
  };
}

const PACKAGES = ['assemblyscript', 'benchmark', 'typescript'] as const;

/** The project's root: this file runs from build/bench/. */
export const PROJECT_ROOT = new URL('../../', import.meta.url);

/** Reads the machine and runtime facts, then samples CPU use for `sampleMs` (this thread idles). */
export async function collectEnv(sampleMs = 1000): Promise<BenchEnv> {
  const cpus = os.cpus();
  const packages: Record<string, string> = { 'wasm-dispatch': packageVersion('package.json') };
  for (const name of PACKAGES) packages[name] = packageVersion(`node_modules/${name}/package.json`);
  const loadavgBefore = os.loadavg().map(round2);
  const busyPercentBefore = await sampleBusyPercent(sampleMs);
  return {
    date: new Date().toISOString(),
    machine: {
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      cpus: cpus.length,
      totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
      platform: os.platform(),
      arch: os.arch(),
      kernel: os.release(),
    },
    runtime: { node: process.versions.node, v8: process.versions.v8 },
    packages,
    load: { loadavgBefore, busyPercentBefore, sampleMs },
  };
}

/** One line for the console. */
export function describeEnv(env: BenchEnv): string {
  const m = env.machine;
  const busy = env.load.busyPercentBefore === null ? 'n/a' : `${env.load.busyPercentBefore.toFixed(0)}%`;
  const pkgs = Object.entries(env.packages).map(([name, version]) => `${name} ${version}`).join(', ');
  return [
    `${m.cpuModel} × ${m.cpus}, ${m.totalMemMiB} MiB, ${m.platform}/${m.arch} ${m.kernel}`,
    `Node ${env.runtime.node} (V8 ${env.runtime.v8}); ${pkgs}`,
    `machine busy before the run: ${busy} over ${env.load.sampleMs} ms; loadavg ${env.load.loadavgBefore.join(' / ')}`,
  ].join('\n');
}

/** Busy CPU % of the whole machine before the run (other processes) at which a run warns. */
export const BUSY_PERCENT_WARNING = 30;
/** 1-minute load average per core before the run at which a run warns. */
export const LOAD_PER_CORE_WARNING = 1;

/**
 * A warning when the machine was busy before the run: its busy CPU share just before it (other
 * processes) at least BUSY_PERCENT_WARNING, or its 1-minute load average per core at least
 * LOAD_PER_CORE_WARNING (load that comes and goes between samples shows there). Its figures will
 * be lower and noisier than on an idle machine. Null when it was quiet.
 */
export function busyWarning(env: BenchEnv): string | null {
  const busy = env.load.busyPercentBefore;
  const load = env.load.loadavgBefore[0] ?? 0;
  const cores = `${env.machine.cpus} core${env.machine.cpus === 1 ? '' : 's'}`;
  const busyNow = busy !== null && busy >= BUSY_PERCENT_WARNING;
  const loaded = load / Math.max(1, env.machine.cpus) >= LOAD_PER_CORE_WARNING;
  if (!busyNow && !loaded) return null;
  const measured = [
    ...(busy === null ? [] : [`${busy.toFixed(0)}% of the CPUs busy in the ${env.load.sampleMs} ms just before it`]),
    `load average ${load} over the last minute on ${cores}`,
  ];
  if (!busyNow) measured.reverse();
  return `warning: the machine was busy before the run (${measured.join('; ')}): expect lower, noisier figures than on an idle machine`;
}

function packageVersion(path: string): string {
  try {
    const json = JSON.parse(readFileSync(new URL(path, PROJECT_ROOT), 'utf8')) as { version?: unknown };
    return typeof json.version === 'string' ? json.version : 'unknown';
  } catch {
    return 'not installed';
  }
}

/** Busy share of all CPUs between two /proc/stat reads `ms` apart (idle and iowait count as idle). */
async function sampleBusyPercent(ms: number): Promise<number | null> {
  const before = readCpuTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = readCpuTimes();
  if (!before || !after) return null;
  const total = after.total - before.total;
  if (total <= 0) return null;
  return round2((100 * (total - (after.idle - before.idle))) / total);
}

function readCpuTimes(): { total: number; idle: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already
    // counted in user, so only the first eight fields add up to the total.
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 5 || fields.some((n) => !Number.isFinite(n))) return null;
    const total = fields.reduce((a, b) => a + b, 0);
    return { total, idle: fields[3]! + fields[4]! };
  } catch {
    return null;
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
