/**
 * postMessage baseline of the ping-pong benchmark: two worker_threads joined by a MessageChannel.
 *
 *   main ── {rounds} ──▶ A ── {seq, value} ─── port ──▶ B
 *                        A ◀── {seq, pongValue(value)} ── B
 *   main ◀── {count, checksum, errors, p50, p99, p999} ── A
 *
 * Role and port come in workerData. A stamps performance.now() before each ping and records the
 * round trip at the pong's arrival into an HdrHistogram (pp-histogram.ts); it checks the seq and
 * folds the pong value into the same FNV-1a checksum as the engine's pong handler. Between
 * messages both threads sleep in their event loops (the "parked" case of the comparison).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { CHECKSUM_SEED, checksumStep, valueOf } from '../engine/checksum.ts';
import { pongValue } from '../engine/pingpong-handlers.ts';
import { recordRttMs, rttHistogram, rttPercentilesUs } from './pp-histogram.ts';

interface Ball { seq: number; value: number }

const { role, port } = workerData as { role: 'A' | 'B'; port: MessagePort };
const parent = parentPort!;

if (role === 'B') {
  port.on('message', (ping: Ball) => port.postMessage({ seq: ping.seq, value: pongValue(ping.value) }));
} else {
  const histogram = rttHistogram();
  let rounds = 0;
  let count = 0;
  let checksum = CHECKSUM_SEED;
  let errors = 0;
  let sentAt = 0;
  const serve = (seq: number): void => {
    sentAt = performance.now();
    port.postMessage({ seq, value: valueOf(seq) });
  };
  port.on('message', (pong: Ball) => {
    recordRttMs(histogram, performance.now() - sentAt);
    if (pong.seq !== count) errors++;
    checksum = checksumStep(checksum, pong.value);
    count++;
    if (count < rounds) serve(count);
    else parent.postMessage({ count, checksum, errors, ...rttPercentilesUs(histogram) });
  });
  parent.on('message', (start: { rounds: number }) => {
    rounds = start.rounds;
    count = 0;
    checksum = CHECKSUM_SEED;
    errors = 0;
    histogram.reset();
    if (rounds > 0) serve(0);
    else parent.postMessage({ count, checksum, errors, ...rttPercentilesUs(histogram) });
  });
}
parent.postMessage({ ready: true });
