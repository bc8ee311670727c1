/**
 * Shared by the cross-thread router test (test/router-threads.test.ts) and its workers: what each
 * table version holds, and the control words in the main thread's scratch block.
 *
 * Every lane names the version whose table it was published in: lane = version << 8 | tag. So a
 * reader that entered version v can check that every lane it routed says v (no torn table, no
 * buffer recycled under it) and that the set is exactly version v's (no half-built table).
 *
 * Version v >= 2 (version 1 is routerInit's empty table), in slot order:
 *   for i = 0, 1, …: topic 0 broadcast (tag i) if i < B, topic 0 MODE_GROUP key 7 (tag 0x40 + i) if
 *   i < G, topic 0 MODE_KEYED key 9 (tag 0x80 + i) if i < K, topic 1 broadcast (tag 0xC0 + i) if i < T
 *   with B = 1 + v % 3, G = 1 + v % 4, K = 1 + v % 5, T = 1 + v % 2. Topics 2 and 3 stay empty.
 * Topic 0 therefore routes to [b0, group member, keyed member, b1, …] (groups by first slot).
 */
import { MODE_BROADCAST, MODE_GROUP, MODE_KEYED } from '../../assembly/layout/router.ts';

export const ROUTER_TOPICS = 4;
export const ROUTER_SUBSCRIPTIONS = 16;
/** Router thread indices: the writer, then the readers. */
export const WRITER_THREAD = 0;
export const READER_THREADS = [1, 2] as const;
export const THREAD_COUNT = 1 + READER_THREADS.length;

export const GROUP_KEY = 7;
export const KEYED_KEY = 9;
const TAG_GROUP = 0x40;
const TAG_KEYED = 0x80;
const TAG_TOPIC1 = 0xc0;

/** Control words (byte offsets in the main thread's scratch block), each on its own 128 bytes. */
export const CONTROL_STATE_OFFSET = 0;
export const CONTROL_READY_OFFSET = 128;
/** Reader r's last entered version: CONTROL_SEEN_OFFSET + r·CONTROL_STRIDE. */
export const CONTROL_SEEN_OFFSET = 256;
export const CONTROL_STRIDE = 128;
export const CONTROL_BYTES = CONTROL_SEEN_OFFSET + READER_THREADS.length * CONTROL_STRIDE;
/** CONTROL_STATE values: running, writer finished (final version published), aborted (a failure). */
export const STATE_RUNNING = 0;
export const STATE_DONE = 1;
export const STATE_ABORT = 2;
/** The writer waits until every reader has entered the newest version once per this many. */
export const HANDSHAKE_EVERY = 50;

export interface RouterThreadData {
  router: number;
  control: number;
  deadline: number;
  /** Versions the writer publishes after the initial one. */
  versions: number;
}
export interface RouterWriterReport { errors: string[]; published: number; busy: number; finalVersion: number }
export interface RouterReaderReport { errors: string[]; entries: number; routes: number; versionsSeen: number; lastVersion: number }

export const laneOf = (version: number, tag: number): number => ((version << 8) | tag) >>> 0;
export const versionOfLane = (lane: number): number => lane >>> 8;

export interface VersionShape { broadcasts: number; members: number; keyed: number; topic1: number }
export function shapeOf(version: number): VersionShape {
  if (version < 2) return { broadcasts: 0, members: 0, keyed: 0, topic1: 0 };
  return { broadcasts: 1 + (version % 3), members: 1 + (version % 4), keyed: 1 + (version % 5), topic1: 1 + (version % 2) };
}

/** Version v's subscriptions in add (= slot) order: [topic, lane, mode, group]. */
export function subscriptionsOf(version: number): [number, number, number, number][] {
  const s = shapeOf(version);
  const subs: [number, number, number, number][] = [];
  for (let i = 0; i < Math.max(s.broadcasts, s.members, s.keyed, s.topic1); i++) {
    if (i < s.broadcasts) subs.push([0, laneOf(version, i), MODE_BROADCAST, 0]);
    if (i < s.members) subs.push([0, laneOf(version, TAG_GROUP + i), MODE_GROUP, GROUP_KEY]);
    if (i < s.keyed) subs.push([0, laneOf(version, TAG_KEYED + i), MODE_KEYED, KEYED_KEY]);
    if (i < s.topic1) subs.push([1, laneOf(version, TAG_TOPIC1 + i), MODE_BROADCAST, 0]);
  }
  return subs;
}

/**
 * Checks one topic-0 route of version `version` read from `lanes` (length `n`): exact broadcast
 * lanes in order, the keyed member for `keyHash`, and a group member. Returns the group member's
 * index (for the round-robin check), or a problem as a string.
 */
export function checkTopic0(version: number, lanes: Uint32Array, at: number, n: number, keyHash: number): number | string {
  const s = shapeOf(version);
  if (s.broadcasts === 0) return n === 0 ? -1 : `version ${version}: topic 0 gave ${n} lanes, expected 0`;
  if (n !== s.broadcasts + 2) return `version ${version}: topic 0 gave ${n} lanes, expected ${s.broadcasts + 2}`;
  const lane = (i: number): number => lanes[at + i]!;
  for (let i = 0; i < n; i++) {
    if (versionOfLane(lane(i)) !== version) return `version ${version}: lane ${i} is ${lane(i).toString(16)}, from version ${versionOfLane(lane(i))}`;
  }
  if (lane(0) !== laneOf(version, 0)) return `version ${version}: first broadcast ${lane(0).toString(16)}`;
  for (let i = 1; i < s.broadcasts; i++) {
    if (lane(2 + i) !== laneOf(version, i)) return `version ${version}: broadcast ${i} is ${lane(2 + i).toString(16)}`;
  }
  const keyedLane = laneOf(version, TAG_KEYED + (keyHash >>> 0) % s.keyed);
  if (lane(2) !== keyedLane) return `version ${version}: keyed ${lane(2).toString(16)}, expected ${keyedLane.toString(16)}`;
  const member = (lane(1) & 0xff) - TAG_GROUP;
  if (member < 0 || member >= s.members) return `version ${version}: group lane ${lane(1).toString(16)} is not a member`;
  return member;
}

/** Checks one topic-1 route of version `version`; null when right. */
export function checkTopic1(version: number, lanes: Uint32Array, at: number, n: number): string | null {
  const s = shapeOf(version);
  if (n !== s.topic1) return `version ${version}: topic 1 gave ${n} lanes, expected ${s.topic1}`;
  for (let i = 0; i < n; i++) {
    if (lanes[at + i] !== laneOf(version, TAG_TOPIC1 + i)) return `version ${version}: topic 1 lane ${i} is ${lanes[at + i]!.toString(16)}`;
  }
  return null;
}
