/**
 * Pipeline example: the topics. Imported both by main.ts (the engine's thread) and by handlers.ts
 * (every worker), so both sides share one typed declaration, and the building's directory (which
 * devices each zone has) that the route stage and main's model both use.
 *
 *   raw        a command line as the gateway receives it (an MQTT payload, an HTTP body):
 *            `cmd id=1234 zone=56 seq=7 op=setpoint value=21.5`; stage 1, parse, takes it
 *   command    the parsed command, keyed by zone: stage 2, route, owns each zone on one worker
 *   device     one device's share of a command: stage 3, execute, sends it (simulated I/O)
 *   configure  request/response, broadcast: the simulation's settings, sent to every worker before the run
 *   report     request/response, broadcast: each worker's counters (requestAll)
 */
import { defineSchema, defineTopics } from 'wasm-dispatch';

/** Longest command line the gateway accepts, UTF-8 bytes. */
export const LINE_BYTES = 96;
/** Operations, by their code in `command.op`. */
export const OPS = ['setpoint', 'fan', 'lights'] as const;
/** Most devices in one zone. */
export const MAX_DEVICES_PER_ZONE = 4;

export const topics = defineTopics({
  raw: { schema: defineSchema({ line: { type: 'string', maxBytes: LINE_BYTES } }) },
  command: { schema: defineSchema({ id: 'u32', zone: 'u32', seq: 'u32', op: 'u8', value: 'f32' }), key: 'zone' },
  device: { schema: defineSchema({ id: 'u32', device: 'u32', op: 'u8', value: 'f32' }) },
  /** ioMs: how long the execute stage's simulated send to a device takes. */
  configure: { schema: defineSchema({ ioMs: 'f64' }), reply: defineSchema({ worker: 'i32' }) },
  report: {
    schema: defineSchema({ reset: 'bool' }),
    reply: defineSchema({
      worker: 'i32',
      /** parse: lines turned into commands, lines refused. */
      parsed: 'f64', malformed: 'f64',
      /** route: commands taken, commands that changed nothing (not fanned out), per-zone order errors. */
      commands: 'f64', unchanged: 'f64', orderErrors: 'u32',
      /** execute: device commands sent, the sum of their command ids, the sum of mix(id, device), most sends pending at once. */
      sent: 'f64', idSum: 'f64', mixSum: 'f64', maxPending: 'u32',
    }),
  },
});
export type Topics = typeof topics;

/** The building's directory: zone z has 1 + z mod 4 devices. */
export function devicesOf(zone: number): number {
  return 1 + (zone % MAX_DEVICES_PER_ZONE);
}

/** Device k (0-based) of zone z. */
export function deviceId(zone: number, k: number): number {
  return zone * MAX_DEVICES_PER_ZONE + k;
}

/** A 32-bit mix of a command id and a device (murmur3's finaliser): a checksum term that tells misrouted sends apart. */
export function mix(id: number, device: number): number {
  let h = Math.imul(id, 0x9e3779b1) ^ device;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
