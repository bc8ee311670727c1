/**
 * The pipeline example (examples/pipeline) on both backends, at small sizes: every line is parsed
 * or counted malformed, every zone's commands reach its route worker in order, and the device
 * sends (count, id sum, checksum) equal the main thread's model; the per-stage figures add up
 * (what parse passed on is what route took, what route fanned out is what execute took) with
 * nothing refused and no backlog. A second run with 16-record lanes keeps the main thread under
 * back-pressure throughout.
 */
import { describe, expect, test } from '@jest/globals';
import { runPipelineExample, type PipelineExampleSummary } from '../examples/pipeline/main.ts';
import { BACKENDS, STRESS } from './harness.ts';

const LINES = Math.round(20_000 * STRESS);

function expectClean(summary: PipelineExampleSummary): void {
  expect(summary.failures).toEqual([]);
  expect(summary.ok).toBe(true);
  const [parse, route, execute] = summary.stats.stages;
  expect(parse!.delivered).toBe(LINES);
  expect(route!.routed).toBe(LINES - summary.expected.malformed);
  expect(execute!.routed).toBe(summary.expected.sent);
  for (const s of summary.stats.stages) {
    expect(s.delivered).toBe(s.routed);
    expect(s.refused + s.inFlight + s.handlerErrors).toBe(0);
  }
  expect(summary.stats.backlog).toBe(0);
  expect(summary.expected.malformed).toBeGreaterThan(0);
  expect(summary.expected.unchanged).toBeGreaterThan(0); // some commands changed nothing and went no further
  expect(summary.expected.sent).toBeGreaterThan(summary.expected.commands - summary.expected.unchanged); // fan-out
  const sent = summary.reports.reduce((t, r) => t + r.sent, 0);
  expect(sent).toBe(summary.expected.sent);
}

describe.each(BACKENDS)('pipeline example (%s)', (backend) => {
  test(`${LINES} lines through parse → route (2 workers, keyed by zone) → execute: counts and checksums match the model`, async () => {
    const summary = await runPipelineExample({ backend, commands: LINES, zones: 200, malformedEvery: 100 });
    expectClean(summary);
  });

  test('16-record lanes: the main thread waits for whenWritable() and nothing is lost', async () => {
    const summary = await runPipelineExample({ backend, commands: LINES, zones: 200, malformedEvery: 100, ringCapacity: 16, seed: 7 });
    expectClean(summary);
    expect(summary.waits).toBeGreaterThan(0);
  });
});
