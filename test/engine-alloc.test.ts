/**
 * Zero allocations per message on both sides of the engine, on both backends: over ≥ 1 M messages
 * published with writer + send and handled through the flyweight reader, no GC event and (almost)
 * no heap growth on the publishing thread or in the handler's worker. A control run that publishes
 * a fresh object per message must show GC events, proving the detector can see allocation.
 */
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BACKENDS, CORE_BUILD, STRESS } from './harness.ts';
import type { EngineAllocData, EngineAllocReport } from './workers/engine-alloc.ts';

const MESSAGES = Math.max(1_000_000, Math.round(1_000_000 * STRESS));
const PROBE = fileURLToPath(new URL('./workers/engine-alloc.js', import.meta.url));

/** Runs the probe in a child process (killed after `timeoutMs`) and returns its report. */
function probe(data: EngineAllocData, timeoutMs = 120_000): Promise<EngineAllocReport> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [PROBE, JSON.stringify(data)], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`engine-alloc probe failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as EngineAllocReport);
    });
  });
}

describe.each(BACKENDS)('engine allocation (%s)', (backend) => {
  test(`${MESSAGES} messages per window: a window with 0 GC events and < 1 byte of heap growth per message on the publisher and in the handler`, async () => {
    const report = await probe({ backend, messages: MESSAGES, warmup: 500_000, mode: 'writer', coreBuild: CORE_BUILD });
    expect(report.checksumMatches).toBe(true);
    expect(report.handled).toBe(report.published);
    // Allocation per message would show in every window (one short-lived object per message makes
    // ~20 scavenges per million); a machine loaded enough to keep a function unoptimised for a
    // while can put a few scavenges into one window. So: the best window of three.
    const best = (side: 'publisher' | 'handler') => Math.min(...report.windows.map((w) => w[side].gcEvents));
    const leastGrowth = (side: 'publisher' | 'handler') => Math.min(...report.windows.map((w) => w[side].heapGrowthBytes));
    expect({ publisher: best('publisher'), handler: best('handler') }).toEqual({ publisher: 0, handler: 0 });
    // Without a GC, growth is every byte allocated: one boxed double per message would be 12 MB.
    expect(leastGrowth('publisher')).toBeLessThan(MESSAGES);
    expect(leastGrowth('handler')).toBeLessThan(MESSAGES);
  });

  test('control: a fresh object per message is seen (GC events on the publisher in every window)', async () => {
    const report = await probe({ backend, messages: 1_000_000, warmup: 100_000, mode: 'allocating', coreBuild: CORE_BUILD });
    expect(report.checksumMatches).toBe(true);
    expect(Math.min(...report.windows.map((w) => w.publisher.gcEvents))).toBeGreaterThan(5);
  });
});
