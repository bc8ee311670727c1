/**
 * postMessage baseline of the ping-pong benchmark: two worker_threads joined by a MessageChannel.
 *
 *   main ── {rounds} ──▶ A ── {seq, value} ─── port ──▶ B
 *                        A ◀── {seq, pongValue(value)} ── B
 *   main ◀── {count, checksum, errors, p50 … p9999, max} ── A   (GameReport)
 *
 * Role and port come in workerData. A stamps performance.now() before each ping and, at the pong's
 * arrival, records the round trip, checks the seq and folds the pong value into the checksum: the
 * same GameScore (pp-histogram.ts) as the engine's pong handler. Between messages both threads
 * sleep in their event loops (the "parked" case of the comparison).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { valueOf } from '../engine/checksum.ts';
import { pongValue } from '../engine/pingpong-handlers.ts';
import { GameScore } from './pp-histogram.ts';

interface Ball { seq: number; value: number }

const { role, port } = workerData as { role: 'A' | 'B'; port: MessagePort };
const parent = parentPort!;

if (role === 'B') {
  port.on('message', (ping: Ball) => port.postMessage({ seq: ping.seq, value: pongValue(ping.value) }));
} else {
  const score = new GameScore();
  let sentAt = 0;
  const serve = (seq: number): void => {
    sentAt = performance.now();
    port.postMessage({ seq, value: valueOf(seq) });
  };
  port.on('message', (pong: Ball) => {
    if (score.pong(pong.seq, pong.value, performance.now() - sentAt)) serve(score.count);
    else parent.postMessage(score.report());
  });
  parent.on('message', (start: { rounds: number }) => {
    score.start(start.rounds);
    if (start.rounds > 0) serve(0);
    else parent.postMessage(score.report());
  });
}
parent.postMessage({ ready: true });
