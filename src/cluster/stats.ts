/** The cluster bridge's counters (Cluster.stats()), kept as plain numbers on the main thread. */
export interface ClusterStatsCounters {
  /** Entries read from partitions and handed to the engine (claimed ones included). */
  read: number;
  /** Entries claimed from another consumer (a failed or departed owner) and handed to the engine again: they may have been handled before. */
  redelivered: number;
  /** Entries acknowledged (and deleted from their stream) after local handlers finished. */
  acked: number;
  /** Entries whose acknowledgement Redis refused because the lease had moved on (fencing): the new owner delivers them again. */
  fenced: number;
  /** Entries read under a lease that expired before they were dispatched: not handed to the engine, claimed again. */
  expired: number;
  /** Entries whose bytes are not a message of the topic (another writer's, or a different schema): acknowledged and dropped, reported to onError. */
  malformed: number;
  /** Entries no local subscription took (the topic was unsubscribed here): left pending, the partition given back for its next owner to claim. */
  unrouted: number;
  /** Entries every local receiver refused (admission, shedding, rate limit, a full lane under reject or drop-newest): left pending and claimed again. */
  refused: number;
  leasesAcquired: number;
  leasesLost: number;
}

export function newCounters(): ClusterStatsCounters {
  return { read: 0, redelivered: 0, acked: 0, fenced: 0, expired: 0, malformed: 0, unrouted: 0, refused: 0, leasesAcquired: 0, leasesLost: 0 };
}
