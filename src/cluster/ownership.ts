/**
 * Ownership: which partitions this node holds, kept true by one heartbeat loop.
 *
 * Every heartbeatMs the node (1) renews the lease of every partition it holds (RENEW: a lease
 * someone else now holds is lost), (2) marks itself alive in the members set of every topic it has a
 * local subscription of, leaves the others, and reads who else is alive (HEARTBEAT, Redis's clock), (3) computes each partition's rendezvous owner over the live
 * members (placement.ts), (4) gives back partitions that should now be another member's — once
 * everything it read from them was handled and acknowledged, so the next owner starts exactly
 * where it stopped — and (5) acquires free partitions that should be its own (ACQUIRE: a new
 * fencing token). A node that dies stops renewing: its leases and its membership expire after
 * leaseMs, and the survivors take its partitions at their next heartbeat.
 *
 * The node also keeps, per partition, how long its lease is surely valid by its own monotonic
 * clock (sent time of the last successful renewal + leaseMs − a margin). The reader (reader.ts)
 * dispatches nothing read under a lease past that point: a node that was paused (SIGSTOP, a long
 * GC) wakes up, finds its leases expired, and drops what it read instead of handing it to its
 * workers; its next READ or ACK is refused by Redis anyway (scripts.ts).
 */
import { ClusterError } from './errors.ts';
import type { ClusterStatsCounters } from './stats.ts';
import { fenceKey, leaseKey, membersKey, ownerOf, streamKey } from './placement.ts';
import type { RedisCommands } from './redis.ts';
import { ACQUIRE, HEARTBEAT, RELEASE, RENEW, runScript } from './scripts.ts';

/** claiming: taking over pending entries; active: reading; releasing: handing back; lost: no longer ours. */
export type PartitionState = 'claiming' | 'active' | 'releasing' | 'lost';

export class OwnedPartition {
  state: PartitionState = 'claiming';
  /** XAUTOCLAIM cursor while claiming. */
  claimStart = '0-0';
  /**
   * Every entry pending in the group must be claimed (again) once nothing of this partition is in
   * flight here: after acquisition is done by the claiming state; later, after a lost read reply,
   * entries left pending (refused, unrouted, read under an expired lease), or a hand-back undone.
   */
  needsClaim = false;
  /** After a read that found nothing: the stream's last generated id (entries after it are new); else undefined. */
  lastSeen: string | undefined;
  /** Entries dispatched to the engine and not yet acknowledged (or given up). */
  inFlight = 0;
  /** Ids handled and waiting for their ACK (as Redis sent them). */
  toAck: Buffer[] = [];
  acking = false;
  /** performance.now() until which the lease is surely ours. */
  validUntil: number;
  readonly stream: string;
  readonly lease: string;

  constructor(
    readonly topic: number,
    readonly topicName: string,
    readonly partition: number,
    /** `{node}/{token}`: the lease's value while ours. */
    readonly leaseValue: string,
    readonly token: number,
    name: string,
    validUntil: number,
  ) {
    this.stream = streamKey(name, topicName, partition);
    this.lease = leaseKey(name, topicName, partition);
    this.validUntil = validUntil;
  }

  get reading(): boolean {
    return this.state === 'claiming' || this.state === 'active';
  }
}

/** A change of what this node holds (ClusterOptions.onOwnership). */
export interface OwnershipChange {
  readonly topic: string;
  readonly partition: number;
  /** acquired: a lease taken (with a new fencing token); lost: Redis said the lease is someone else's, or it ran out; released: given back (rebalancing, close). */
  readonly change: 'acquired' | 'lost' | 'released';
  readonly token: number;
}

export interface OwnershipOptions {
  readonly name: string;
  readonly node: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly topics: readonly { readonly name: string; readonly partitions: number }[];
  /** Whether the engine has a subscription of cluster topic `t` now: only then is the node a member of it. */
  readonly subscribed: (t: number) => boolean;
}

export class Ownership {
  /** Held partitions by `topic index · 65536 + partition`. */
  readonly held = new Map<number, OwnedPartition>();
  /** Live members of each topic as of the last heartbeat. */
  members: (readonly string[])[];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private beating: Promise<void> | undefined;
  /** Safety margin below the lease: clocks drift, renewals take a round trip. */
  private readonly margin: number;
  private lastReport = -Infinity;
  /** ms until the next beat: heartbeatMs, or sooner when a member or a wanted lease is about to expire. */
  private nextBeat: number;

  constructor(
    private readonly redis: RedisCommands,
    private readonly options: OwnershipOptions,
    private readonly stats: ClusterStatsCounters,
    private readonly onError: (error: Error) => void,
    /** Called at every change of what this node holds (the reader starts claiming what was acquired). */
    private readonly onChange: (change: OwnershipChange) => void,
  ) {
    this.margin = Math.max(5, options.leaseMs / 10);
    this.nextBeat = options.heartbeatMs;
    this.members = options.topics.map(() => []);
  }

  /** Beats again `ms` from now if that is sooner than planned (a dead member's partitions free up then). */
  private soon(ms: number): void {
    if (ms >= 0) this.nextBeat = Math.min(this.nextBeat, Math.max(5, ms + 2));
  }

  /** The first heartbeat (membership and first acquisitions), then one every heartbeatMs. */
  async start(): Promise<void> {
    this.running = true;
    await this.beat();
    this.schedule();
  }

  /** Stops the loop without a word to Redis (close gave up on it): the leases run out by themselves. */
  abandon(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Stops the loop; releases every partition (the reader must have finished with them) and leaves the members set. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.beating;
    const releases: Promise<unknown>[] = [];
    for (const part of this.held.values()) {
      if (part.state !== 'lost') this.onChange({ topic: part.topicName, partition: part.partition, change: 'released', token: part.token });
      releases.push(runScript(this.redis, RELEASE, [part.lease], [part.leaseValue]).catch(() => undefined));
    }
    this.held.clear();
    await Promise.all(releases);
    await Promise.all(this.options.topics.map((topic) => runScript(this.redis, HEARTBEAT, [membersKey(this.options.name, topic.name)], [this.options.node, 0]).catch(() => undefined)));
  }

  /** Marks a partition lost: Redis refused its lease (renewal, read or acknowledgement). */
  lose(part: OwnedPartition): void {
    if (part.state === 'lost') return;
    part.state = 'lost';
    this.stats.leasesLost++;
    this.onChange({ topic: part.topicName, partition: part.partition, change: 'lost', token: part.token });
  }

  /** Forgets a partition that was lost or given back, once nothing of it is in flight; deletes its lease if it is still ours. */
  forget(part: OwnedPartition): void {
    if (this.held.get(part.topic * 65536 + part.partition) !== part) return;
    this.held.delete(part.topic * 65536 + part.partition);
    if (part.state === 'releasing') this.onChange({ topic: part.topicName, partition: part.partition, change: 'released', token: part.token });
    void runScript(this.redis, RELEASE, [part.lease], [part.leaseValue]).catch(() => undefined);
  }

  private schedule(): void {
    if (!this.running) return;
    const delay = this.nextBeat;
    this.nextBeat = this.options.heartbeatMs;
    this.timer = setTimeout(() => {
      this.beating = this.beat().finally(() => this.schedule());
    }, delay);
  }

  private async beat(): Promise<void> {
    const { name, node, leaseMs } = this.options;
    const sent = performance.now();
    try {
      // (1) renewals, (2) membership: issued together, one round trip.
      const parts = [...this.held.values()];
      const renewals = parts.map((part) => (part.state === 'lost' ? Promise.resolve(0) : runScript(this.redis, RENEW, [part.lease], [part.leaseValue, leaseMs])));
      // A node is a member of the topics it has a subscription of (and leaves the others).
      const subscribed = this.options.topics.map((_, t) => this.options.subscribed(t));
      // allSettled at once: with the connection gone every reply rejects, and none may go unhandled.
      const membersReplies = Promise.allSettled(this.options.topics.map((topic, t) => runScript(this.redis, HEARTBEAT, [membersKey(name, topic.name)], [node, subscribed[t] ? leaseMs : 0])));
      const renewed = await Promise.allSettled(renewals);
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        const result = renewed[i]!;
        if (result.status === 'fulfilled' && result.value === 1) part.validUntil = sent + leaseMs - this.margin;
        // Not ours any more — unless the reader forgot it meanwhile (released: no loss).
        else if (result.status === 'fulfilled' && this.held.get(part.topic * 65536 + part.partition) === part) this.lose(part);
      }
      const replies = await membersReplies;
      for (let t = 0; t < replies.length; t++) {
        const reply = replies[t]!;
        if (reply.status === 'rejected') throw reply.reason;
        const [members, soonest] = reply.value as [Buffer[], number];
        this.members[t] = members.map((m) => m.toString());
        this.soon(soonest);
      }
      if (!this.running) return;
      // (3) who should own what, (4) give back, (5) acquire.
      const acquisitions: Promise<void>[] = [];
      for (let t = 0; t < this.options.topics.length; t++) {
        const topic = this.options.topics[t]!;
        for (let p = 0; p < topic.partitions; p++) {
          const mine = subscribed[t]! && ownerOf(this.members[t]!, topic.name, p) === node;
          const part = this.held.get(t * 65536 + p);
          if (part !== undefined) {
            if (!mine && part.reading) part.state = 'releasing';
            else if (mine && part.state === 'releasing') {
              // Kept after all: whatever it was doing (a claim under way, entries left pending) is redone by a claim.
              part.state = 'active';
              part.needsClaim = true;
            }
          } else if (mine) {
            acquisitions.push(this.acquire(t, topic.name, p, sent));
          }
        }
      }
      await Promise.all(acquisitions);
    } catch (error) {
      // Redis unreachable: leases run out by themselves (validUntil); try again next beat.
      // Reported at most once a second: a restart fails every beat meanwhile.
      if (performance.now() - this.lastReport >= 1000 && this.running) {
        this.lastReport = performance.now();
        this.onError(new ClusterError('ERR_CLUSTER_REDIS', 'heartbeat', this.options.node, `${(error as Error)?.message ?? String(error)} (retrying)`, { cause: error }));
      }
    }
  }

  private async acquire(topic: number, topicName: string, partition: number, sent: number): Promise<void> {
    const { name, node, leaseMs } = this.options;
    const token = Number(await runScript(this.redis, ACQUIRE, [leaseKey(name, topicName, partition), fenceKey(name, topicName, partition)], [node, leaseMs]));
    if (token < 0) {
      this.soon(-token); // held: try again as it runs out
      return;
    }
    if (!this.running) {
      await runScript(this.redis, RELEASE, [leaseKey(name, topicName, partition)], [`${node}/${token}`]);
      return;
    }
    this.stats.leasesAcquired++;
    this.held.set(topic * 65536 + partition, new OwnedPartition(topic, topicName, partition, `${node}/${token}`, token, name, sent + leaseMs - this.margin));
    this.onChange({ topic: topicName, partition, change: 'acquired', token });
  }
}
