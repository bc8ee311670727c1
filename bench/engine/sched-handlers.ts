/**
 * Handler module of the scheduling benchmark: `job` records its queue wait (now − stamp, µs) per
 * class, then busy-waits `micros` µs; `report` returns counts and p50/p99 waits per class.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { schedTopics } from './sched-topics.ts';

const CAP = 1 << 20;
const waits = [new Float64Array(CAP), new Float64Array(CAP), new Float64Array(CAP)];
const counts = new Uint32Array(3);
const now = (): number => performance.timeOrigin + performance.now();

function quantile(values: Float64Array, n: number, q: number): number {
  if (n === 0) return 0;
  const sorted = values.slice(0, Math.min(n, CAP)).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function work(job: { stamp: number; micros: number; cls: number }): void {
  const start = now();
  const cls = job.cls;
  const n = counts[cls]!;
  if (n < CAP) waits[cls]![n] = (start - job.stamp) * 1000;
  counts[cls] = n + 1;
  const end = start + job.micros / 1000;
  while (now() < end) { /* the job's cost */ }
}

export default defineHandlers(schedTopics, {
  task: { topic: 'task', handle(task) { work(task); } },
  job: { topic: 'job', handle(job) { work(job); } },
  report: {
    topic: 'report',
    handle(q) {
      const reply = {
        high: counts[0]!, normal: counts[1]!, low: counts[2]!,
        highP50: quantile(waits[0]!, counts[0]!, 0.5), highP99: quantile(waits[0]!, counts[0]!, 0.99),
        normalP50: quantile(waits[1]!, counts[1]!, 0.5), normalP99: quantile(waits[1]!, counts[1]!, 0.99),
        lowP50: quantile(waits[2]!, counts[2]!, 0.5), lowP99: quantile(waits[2]!, counts[2]!, 0.99),
      };
      if (q.reset) counts.fill(0);
      return reply;
    },
  },
});
