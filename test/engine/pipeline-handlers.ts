/**
 * Handler module of the pipeline suite (see pipeline-topics.ts). ingest and route pass each
 * message on with the thread's staging writer (ctx.writer + ctx.send); route checks per-key order
 * first; execute busy-waits `work` µs, then adds up what reaches the end. While the gate is closed, execute returns a promise
 * that settles when it opens: its record stays in its lane, which fills, and the stages before it
 * wait for space.
 */
import { defineHandlers } from '../../src/engine/types.ts';
import { KEYS_MAX, pipelineTopics } from './pipeline-topics.ts';

let worker = -1;
let ingested = 0;
let routed = 0;
let executed = 0;
let sum = 0;
let sumSquares = 0;
let orderErrors = 0;
let lastSeq = new Int32Array(KEYS_MAX).fill(-1);

let open = true;
let held = 0;
let opened: Promise<void> = Promise.resolve();
let openGate: () => void = () => {};

function execute(id: number): void {
  executed++;
  sum += id;
  sumSquares += id * id;
}

export default defineHandlers(pipelineTopics, {
  ingest: {
    topic: 'ingest',
    handle(m, ctx) {
      ingested++;
      const out = ctx.writer('route');
      out.id = m.id; out.key = m.key; out.seq = m.seq; out.work = m.work; out.fail = m.fail;
      ctx.send('route');
    },
  },
  route: {
    topic: 'route',
    handle(m, ctx) {
      routed++;
      const key = m.key;
      if (key < KEYS_MAX) {
        if (m.seq !== lastSeq[key]! + 1) orderErrors++;
        lastSeq[key] = m.seq;
      }
      if (m.fail) throw new Error(`route: message ${m.id} fails (as told)`);
      const out = ctx.writer('execute');
      out.id = m.id; out.key = m.key; out.seq = m.seq; out.work = m.work; out.fail = false;
      ctx.send('execute');
    },
  },
  execute: {
    topic: 'execute',
    handle(m) {
      const id = m.id;
      if (m.work > 0) {
        const end = performance.now() + m.work / 1000;
        while (performance.now() < end) { /* a slow stage: CPU it spends per message */ }
      }
      if (open) {
        execute(id);
        return;
      }
      held++;
      return opened.then(() => {
        held--;
        execute(id);
      });
    },
  },
  gate: {
    topic: 'gate',
    handle(g, ctx) {
      if (!g.open && open) {
        open = false;
        // A held delivery waits on this promise alone (no timer, no I/O): the worker must stay up.
        opened = new Promise<void>((resolve) => { openGate = resolve; });
      } else if (g.open && !open) {
        open = true;
        openGate();
      }
      return { worker: ctx.worker, held };
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      let keys = 0;
      for (let k = 0; k < KEYS_MAX; k++) if (lastSeq[k]! >= 0) keys++;
      const reply = { worker, ingested, routed, executed, sum, sumSquares, orderErrors, keys };
      if (q.reset) {
        ingested = routed = executed = sum = sumSquares = orderErrors = 0;
        lastSeq = new Int32Array(KEYS_MAX).fill(-1);
      }
      return reply;
    },
  },
}, { setup(ctx) { worker = ctx.worker; } });
