/**
 * Reader: the consuming side of cluster topics on one node. One loop reads every partition the
 * node holds (Ownership, ownership.ts) in batches, hands the entries to the engine's workers, and
 * acknowledges each entry only after the local handlers finished it (at-least-once).
 *
 *   read      READ (scripts.ts) per held partition, issued together: up to `batch` new entries
 *             each, only while the lease is ours
 *   claim     a partition just acquired — or one whose read reply was lost, or whose read came
 *             back after the lease's local validity ended — first takes over every entry pending
 *             in its group (CLAIM: a previous owner's reads), once nothing of it is in flight here;
 *             those entries carry their delivery count, so handlers see ctx.deliveries > 1
 *   dispatch  each entry's bytes are published into the engine (ClusterPort.sendBytes), waiting
 *             for whenWritable when a lane is full; then one HandledMarks mark for the whole cycle
 *   ack       once the mark passed (everything dispatched before it was handled), the entries'
 *             ids are acknowledged and deleted (ACK), at most 1000 per script, fenced by the lease
 *
 * Per-key order: a partition's entries are dispatched in stream order, and the engine keeps each
 * key's order per publishing thread (keyed subscriptions); a partition's next read starts only
 * after the previous one was dispatched. Redeliveries (claims) come first, oldest first.
 *
 * Waiting: a cycle that found something goes straight on. One that found nothing, with every
 * held partition readable and read empty, waits on a second connection with XREAD BLOCK from each
 * stream's last generated id (a plain XREAD takes nothing from the group: it only says an entry
 * came), up to WATCH_MS; a new entry wakes it at once, and so does CLIENT UNBLOCK from the main
 * connection when partitions are acquired or the reader stops. Otherwise (a partition waits for
 * acknowledgements, a lease for renewal) it sleeps 1 ms, doubling up to pollMs. At most
 * `maxInFlight` entries per partition are dispatched and not yet acknowledged.
 */
import { REFUSED, SENT_WAIT, UNROUTED, type ClusterPort } from '../engine/cluster-port.ts';
import type { TopicRuntime } from '../engine/topic-runtime.ts';
import { ClusterError } from './errors.ts';
import type { OwnedPartition, Ownership } from './ownership.ts';
import { GROUP } from './placement.ts';
import type { RedisCommands } from './redis.ts';
import { ACK, CLAIM, READ, runScript } from './scripts.ts';
import type { ClusterStatsCounters } from './stats.ts';

/** Entries acknowledged per ACK script (Lua's unpack limit is about 8000 values). */
const ACK_CHUNK = 1000;
/** Batches dispatched and not yet acknowledged, across partitions (marks kept). */
const MAX_BATCHES = 256;
/** Longest XREAD BLOCK while every held partition is empty (new entries, acquisitions and stop end it sooner). */
const WATCH_MS = 1000;

type Entry = [Buffer, Buffer[] | null];

interface Batch {
  readonly markAt: number;
  readonly parts: OwnedPartition[];
  readonly ids: Buffer[][];
}

/** What one read or claim brought. */
interface Haul {
  readonly part: OwnedPartition;
  /** undefined: the lease is no longer ours (fenced). */
  readonly entries: Entry[] | undefined;
  /** Delivery counts (claims), else undefined: first deliveries. */
  readonly deliveries: number[] | undefined;
  readonly claimed: boolean;
}

export interface ReaderOptions {
  readonly node: string;
  readonly batch: number;
  readonly maxInFlight: number;
  readonly pollMs: number;
}

export class Reader {
  private readonly marks: Uint32Array;
  private readonly width: number;
  private readonly batches: Batch[] = [];
  private nextMark = 0;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  /** stop() finished: acknowledgements are no longer retried. */
  private stopped = false;
  /** An XREAD BLOCK is waiting on the watch connection. */
  private watching = false;
  /** The watch connection's CLIENT ID, asked with every XREAD (a reconnection changes it); -1 until known. */
  private watchId = -1;

  constructor(
    private readonly redis: RedisCommands,
    private readonly port: ClusterPort,
    private readonly whenWritable: () => Promise<void>,
    private readonly ownership: Ownership,
    /** Engine topic of each cluster topic (by cluster topic index). */
    private readonly topics: readonly TopicRuntime[],
    private readonly options: ReaderOptions,
    private readonly stats: ClusterStatsCounters,
    private readonly onError: (error: Error) => void,
    /** A second connection for XREAD BLOCK; none: poll. */
    private readonly watch: RedisCommands | undefined,
  ) {
    this.width = port.marks.width;
    this.marks = new Uint32Array(MAX_BATCHES * this.width);
  }

  start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Wakes a sleeping or watching loop (partitions were acquired, or it stops). */
  poke(): void {
    this.wake?.();
    if (this.watching && !this.unblocking) void this.unblock();
  }

  private unblocking = false;

  /**
   * CLIENT UNBLOCK of the watch connection, from the main one, until the XREAD has returned: the
   * two connections race, and an UNBLOCK that reaches Redis before the XREAD does finds nothing
   * blocked (answers 0), so it is sent again 2 ms later.
   */
  private async unblock(): Promise<void> {
    this.unblocking = true;
    try {
      while (this.watching) {
        const unblocked = this.watchId < 0 ? 0 : await this.redis.sendCommand(['CLIENT', 'UNBLOCK', String(this.watchId)]).catch(() => 0);
        if (unblocked === 1 || !this.watching) break;
        await sleep(2);
      }
    } finally {
      this.unblocking = false;
    }
  }

  /** Entries dispatched and not yet acknowledged. */
  get inFlight(): number {
    let n = 0;
    for (const part of this.ownership.held.values()) n += part.inFlight;
    return n;
  }

  /** Stops reading; resolves once everything dispatched was acknowledged (or `timeout` ms passed). */
  async stop(timeout: number): Promise<void> {
    this.running = false;
    this.poke();
    await this.loopDone;
    const deadline = performance.now() + timeout;
    while (this.inFlight > 0 && performance.now() < deadline) {
      this.pumpAcks();
      await sleep(2);
    }
    this.abandon();
  }

  /** Stops retrying acknowledgements and polling for them (close gave up on Redis, or stop ended). */
  abandon(): void {
    this.running = false;
    this.stopped = true;
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  private async loop(): Promise<void> {
    let idle = 1;
    while (this.running) {
      const jobs: Promise<Haul>[] = [];
      const now = performance.now();
      for (const part of this.ownership.held.values()) {
        if (!part.reading) {
          // Lost or given back: once its entries are settled, forget it (and release the lease if still ours).
          if (part.inFlight === 0 && !part.acking) this.ownership.forget(part);
          continue;
        }
        if (now >= part.validUntil || part.inFlight >= this.options.maxInFlight || this.batches.length >= MAX_BATCHES) continue;
        if (part.needsClaim) {
          if (part.inFlight > 0) continue;
          part.needsClaim = false;
          part.state = 'claiming';
          part.claimStart = '0-0';
        }
        jobs.push(part.state === 'claiming' ? this.claim(part) : this.read(part));
      }
      let dispatched = 0;
      if (jobs.length > 0) {
        const hauls = await Promise.all(jobs);
        dispatched = await this.dispatch(hauls);
      }
      this.pumpAcks();
      if (dispatched > 0) {
        idle = 1;
        await new Promise((resolve) => setImmediate(resolve));
      } else if (this.running && await this.watchAll()) {
        idle = 1;
      } else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.wake = undefined;
            resolve();
          }, idle);
          this.wake = () => {
            clearTimeout(timer);
            this.wake = undefined;
            resolve();
          };
        });
        idle = Math.min(idle * 2, this.options.pollMs);
      }
    }
  }

  /**
   * If every held partition is readable and its last read found nothing, waits (XREAD BLOCK) until
   * one of them gets an entry, WATCH_MS passes or poke() unblocks it; true if it waited.
   */
  private async watchAll(): Promise<boolean> {
    if (this.watch === undefined) return false;
    const streams: string[] = [];
    const ids: string[] = [];
    const now = performance.now();
    for (const part of this.ownership.held.values()) {
      // One being given back or lost waits for its acknowledgements, then the loop forgets it: poll.
      if (!part.reading) return false;
      if (part.state !== 'active' || part.lastSeen === undefined || part.needsClaim || now >= part.validUntil || part.inFlight >= this.options.maxInFlight) return false;
      streams.push(part.stream);
      ids.push(part.lastSeen);
    }
    if (streams.length === 0 || this.batches.length >= MAX_BATCHES) return false;
    this.watching = true;
    try {
      // One pipeline: CLIENT ID is answered before the XREAD blocks.
      this.watchId = -1;
      const id = this.watch.sendCommand(['CLIENT', 'ID']);
      const read = this.watch.sendCommand(['XREAD', 'COUNT', '1', 'BLOCK', String(WATCH_MS), 'STREAMS', ...streams, ...ids]);
      const [idReply, readReply] = await Promise.allSettled([id.then((n) => (this.watchId = Number(n))), read]);
      return idReply.status === 'fulfilled' && readReply.status === 'fulfilled';
    } catch {
      return false; // the watch connection's trouble: poll meanwhile
    } finally {
      this.watching = false;
    }
  }

  private async read(part: OwnedPartition): Promise<Haul> {
    try {
      const reply = await runScript(this.redis, READ, [part.lease, part.stream], [part.leaseValue, GROUP, this.options.node, this.options.batch]);
      if (reply === null) return { part, entries: undefined, deliveries: undefined, claimed: false };
      const [entries, lastGenerated] = reply as [Entry[], Buffer];
      part.lastSeen = entries.length === 0 && lastGenerated.length > 0 ? lastGenerated.toString() : undefined;
      return { part, entries, deliveries: undefined, claimed: false };
    } catch (error) {
      // The script may have run with its reply lost: those entries wait in our pending list.
      this.reportRedis(part, error);
      part.needsClaim = true;
      return { part, entries: [], deliveries: undefined, claimed: false };
    }
  }

  private async claim(part: OwnedPartition): Promise<Haul> {
    try {
      const reply = await runScript(this.redis, CLAIM, [part.lease, part.stream], [part.leaseValue, GROUP, this.options.node, part.claimStart, this.options.batch]);
      if (reply === null) return { part, entries: undefined, deliveries: undefined, claimed: true };
      const [next, entries, counts] = reply as [Buffer, Entry[], number[]];
      part.claimStart = next.toString();
      if (part.claimStart === '0-0' && part.state === 'claiming') part.state = 'active';
      return { part, entries, deliveries: counts, claimed: true };
    } catch (error) {
      this.reportRedis(part, error);
      part.needsClaim = true;
      return { part, entries: [], deliveries: undefined, claimed: true };
    }
  }

  /** Publishes every haul's entries into the engine; takes one mark for them all; returns entries dispatched. */
  private async dispatch(hauls: readonly Haul[]): Promise<number> {
    const parts: OwnedPartition[] = [];
    const idLists: Buffer[][] = [];
    let dispatched = 0;
    for (const haul of hauls) {
      const { part, entries } = haul;
      if (entries === undefined) {
        this.ownership.lose(part);
        continue;
      }
      if (entries.length === 0) continue;
      // Read under a lease that may have run out meanwhile (a pause, a stalled loop): hand nothing on.
      if (performance.now() >= part.validUntil || !part.reading) {
        this.stats.expired += entries.length;
        part.needsClaim = true;
        continue;
      }
      const topic = this.topics[part.topic]!;
      const ids: Buffer[] = [];
      for (let i = 0; i < entries.length; i++) {
        const [id, fields] = entries[i]!;
        const bytes = fields !== null && fields.length >= 2 ? fields[1]! : undefined;
        if (bytes === undefined || bytes.length !== topic.schema.size) {
          ids.push(id);
          part.inFlight++;
          this.stats.malformed++;
          this.onError(new ClusterError('ERR_CLUSTER_REDIS', 'entry', `${part.stream} ${id}`, `not a message of topic '${topic.name}' (${bytes?.length ?? 'no'} bytes, the schema has ${topic.schema.size}): acknowledged and dropped`));
          continue;
        }
        const outcome = this.port.sendBytes(topic, bytes, haul.deliveries?.[i] ?? 1);
        if (outcome === UNROUTED || outcome === REFUSED) {
          // Not handed on: this entry and the rest of the haul stay pending in Redis, in order.
          // Refused (admission, shedding, a rate limit; a full lane never refuses): claimed again
          // once nothing of the partition is in flight. Unrouted (no subscription here any more):
          // the partition is given back, and its next owner claims them.
          part.needsClaim = true;
          if (outcome === UNROUTED) {
            this.stats.unrouted += entries.length - i;
            if (part.reading) part.state = 'releasing';
          } else {
            this.stats.refused += entries.length - i;
          }
          break;
        }
        ids.push(id);
        part.inFlight++;
        if (haul.claimed) this.stats.redelivered++;
        this.stats.read++;
        dispatched++;
        if (outcome === SENT_WAIT) {
          await this.whenWritable();
          // The wait may have outlasted the lease: the rest of the haul stays pending, claimed again.
          if (i + 1 < entries.length && (!part.reading || performance.now() >= part.validUntil)) {
            this.stats.expired += entries.length - i - 1;
            part.needsClaim = true;
            break;
          }
        }
      }
      if (ids.length === 0) continue;
      parts.push(part);
      idLists.push(ids);
    }
    if (parts.length > 0) {
      const markAt = this.nextMark;
      this.nextMark = (this.nextMark + this.width) % this.marks.length;
      this.port.marks.mark(this.marks, markAt);
      this.batches.push({ markAt, parts, ids: idLists });
    }
    return dispatched;
  }

  /** Moves the ids of every batch whose mark passed to their partitions' ACK lists and sends them. */
  private pumpAcks(): void {
    const marks = this.port.marks;
    while (this.batches.length > 0 && marks.passed(this.marks, this.batches[0]!.markAt)) {
      const batch = this.batches.shift()!;
      for (let i = 0; i < batch.parts.length; i++) {
        const part = batch.parts[i]!;
        for (const id of batch.ids[i]!) part.toAck.push(id);
      }
    }
    for (const part of this.ownership.held.values()) if (part.toAck.length > 0 && !part.acking) void this.ack(part);
    if (this.ackTimer === undefined && !this.stopped && (this.batches.length > 0 || this.inFlight > 0)) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        this.pumpAcks();
      }, 1);
    }
  }

  private async ack(part: OwnedPartition): Promise<void> {
    part.acking = true;
    while (part.toAck.length > 0) {
      // Chunks off the front; what is left is copied once per chunk (ACK_CHUNK ids each).
      const ids = part.toAck.length <= ACK_CHUNK ? part.toAck : part.toAck.slice(0, ACK_CHUNK);
      part.toAck = ids === part.toAck ? [] : part.toAck.slice(ids.length);
      try {
        const n = Number(await runScript(this.redis, ACK, [part.lease, part.stream], [part.leaseValue, GROUP, ...ids]));
        if (n < 0) {
          // Fenced: the partition moved on; its next owner delivers these again.
          this.stats.fenced += ids.length;
          this.ownership.lose(part);
        } else this.stats.acked += ids.length;
        part.inFlight -= ids.length;
      } catch (error) {
        // Connection trouble: XACK and XDEL are idempotent, so the same ids go again.
        this.reportRedis(part, error);
        part.toAck = ids.concat(part.toAck);
        part.acking = false;
        await sleep(20);
        if (part.toAck.length > 0 && !part.acking && !this.stopped) void this.ack(part);
        return;
      }
    }
    part.acking = false;
  }

  private lastReport = 0;

  /** Connection errors are expected around a Redis restart: reported at most once a second. */
  private reportRedis(part: OwnedPartition, error: unknown): void {
    const now = performance.now();
    if (now - this.lastReport < 1000) return;
    this.lastReport = now;
    this.onError(new ClusterError('ERR_CLUSTER_REDIS', 'stream', part.stream, `${(error as Error)?.message ?? String(error)} (retrying)`, { cause: error }));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
