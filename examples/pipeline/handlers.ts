/**
 * Pipeline example: the handler module, imported by every worker. Each worker runs the handlers
 * of its own stage only (the stages run on disjoint workers), and keeps its own counters.
 *
 *   parse    text → fields; a line that is not a well-formed command is counted and dropped
 *   route    owns its zones (keyed by zone): checks each zone's commands arrive in order, keeps
 *            the zone's current state, and fans a command that changes it out to every device
 *            of the zone; a command that changes nothing goes no further
 *   execute  sends one device its command: simulated I/O, `ioMs` of waiting (async handler: up
 *            to the stage's concurrency of sends pending at once per worker)
 */
import { defineHandlers } from 'wasm-dispatch';
import { OPS, deviceId, devicesOf, mix, topics } from './topics.ts';

let worker = -1;
/** Simulated I/O latency of one send, ms (configure). */
let ioMs = 1;
// parse
let parsed = 0;
let malformed = 0;
// route: per zone, the last sequence number and the current value of each operation
let commands = 0;
let unchanged = 0;
let orderErrors = 0;
let lastSeq = new Int32Array(0);
let state = new Float32Array(0);
// execute
let sent = 0;
let idSum = 0;
let mixSum = 0;
let pending = 0;
let maxPending = 0;

/** Grows the route stage's per-zone arrays to hold `zone`. */
function ensureZone(zone: number): void {
  if (zone < lastSeq.length) return;
  const size = Math.max(zone + 1, lastSeq.length * 2, 1024);
  const seq = new Int32Array(size).fill(-1);
  seq.set(lastSeq);
  lastSeq = seq;
  const values = new Float32Array(size * OPS.length).fill(NaN);
  values.set(state);
  state = values;
}

/** The value of `key=` in `line` (space-separated fields), or undefined. */
function field(line: string, key: string): string | undefined {
  const at = line.indexOf(` ${key}=`);
  if (at < 0) return undefined;
  const from = at + key.length + 2;
  const to = line.indexOf(' ', from);
  return line.slice(from, to < 0 ? line.length : to);
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export default defineHandlers(topics, {
  parse: {
    topic: 'raw',
    handle(m, ctx) {
      const line = m.line;
      const id = Number(field(line, 'id'));
      const zone = Number(field(line, 'zone'));
      const seq = Number(field(line, 'seq'));
      const op = OPS.indexOf(field(line, 'op') as (typeof OPS)[number]);
      const value = Number(field(line, 'value'));
      if (!line.startsWith('cmd ') || !Number.isInteger(id) || !Number.isInteger(zone) || !Number.isInteger(seq) || op < 0 || field(line, 'value') === undefined || !Number.isFinite(value)) {
        malformed++;
        return;
      }
      parsed++;
      const out = ctx.writer('command');
      out.id = id; out.zone = zone; out.seq = seq; out.op = op; out.value = value;
      ctx.send('command');
    },
  },
  route: {
    topic: 'command',
    handle(c, ctx) {
      commands++;
      const zone = c.zone;
      ensureZone(zone);
      if (c.seq !== lastSeq[zone]! + 1) orderErrors++;
      lastSeq[zone] = c.seq;
      const at = zone * OPS.length + c.op;
      const value = c.value;
      if (state[at] === value) {
        unchanged++;
        return;
      }
      state[at] = value;
      const out = ctx.writer('device');
      out.id = c.id; out.op = c.op; out.value = value;
      for (let k = 0, n = devicesOf(zone); k < n; k++) {
        out.device = deviceId(zone, k);
        ctx.send('device');
      }
    },
  },
  execute: {
    topic: 'device',
    async handle(d) {
      const id = d.id; // read before the await: the handler's reader stays valid, but say what is used
      const device = d.device;
      maxPending = Math.max(maxPending, ++pending);
      await delay(ioMs); // the device's round trip
      pending--;
      sent++;
      idSum += id;
      mixSum += mix(id, device);
    },
  },
  configure: {
    topic: 'configure',
    handle(c, ctx) {
      ioMs = c.ioMs;
      return { worker: ctx.worker };
    },
  },
  report: {
    topic: 'report',
    handle(q) {
      const reply = { worker, parsed, malformed, commands, unchanged, orderErrors, sent, idSum, mixSum, maxPending };
      if (q.reset) {
        parsed = malformed = commands = unchanged = orderErrors = sent = idSum = mixSum = maxPending = 0;
        lastSeq = new Int32Array(0);
        state = new Float32Array(0);
      }
      return reply;
    },
  },
}, { setup(ctx) { worker = ctx.worker; } });
