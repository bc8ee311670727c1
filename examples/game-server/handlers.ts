/**
 * Game-server example: the handler module. Every worker imports it and keeps the state of the
 * players it owns (the keyed `move` subscription sends each player to exactly one worker) in
 * growable typed arrays indexed by player id: no allocation per message once they are sized.
 */
import { defineHandlers } from 'wasm-dispatch';
import { FULL_HEALTH, topics } from './topics.ts';

/** Struct of arrays, indexed by player id. `lastSeq[p]` is -1 until the first move of p. */
let lastSeq = new Int32Array(0);
let posX = new Float32Array(0);
let posY = new Float32Array(0);
let health = new Float64Array(0);
/** Ids of the players this worker owns, in order of first move (storms walk this list). */
let owned = new Uint32Array(0);
let ownedCount = 0;

let worker = -2;
let moves = 0;
let orderErrors = 0;
let storms = 0;
let hits = 0;
let knockoutsSent = 0;
let knockoutsCounted = 0;

/** The bits of an f64 as two u32 words (the state checksum hashes exact values). */
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

function mix(hash: number, value: number): number {
  return Math.imul(hash ^ value, 0x01000193) >>> 0;
}

/**
 * FNV-1a over this worker's players in the order it took them: id, last seq, position, health.
 * Two workers' states are the same exactly when their checksums are (up to hash collisions): the
 * journal replay test compares them.
 */
function stateChecksum(): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < ownedCount; i++) {
    const p = owned[i]!;
    hash = mix(mix(hash, p), lastSeq[p]!);
    for (const value of [posX[p]!, posY[p]!, health[p]!]) {
      bits[0] = value;
      hash = mix(mix(hash, words[0]!), words[1]!);
    }
  }
  return hash;
}

function ensure(player: number): void {
  if (player < lastSeq.length) return;
  const size = Math.max(1024, 2 ** Math.ceil(Math.log2(player + 1)));
  const grow = <A extends Int32Array | Float32Array | Float64Array>(old: A, make: (n: number) => A, fill: number): A => {
    const next = make(size);
    next.fill(fill);
    next.set(old as never);
    return next;
  };
  lastSeq = grow(lastSeq, (n) => new Int32Array(n), -1);
  posX = grow(posX, (n) => new Float32Array(n), 0);
  posY = grow(posY, (n) => new Float32Array(n), 0);
  health = grow(health, (n) => new Float64Array(n), FULL_HEALTH);
}

export default defineHandlers(topics, {
  /** keyed by player: this worker owns `m.player`; its moves must arrive with seq 0, 1, 2, ... */
  move: {
    topic: 'move',
    handle(m) {
      const p = m.player;
      ensure(p);
      const last = lastSeq[p]!;
      if (last < 0) {
        if (ownedCount === owned.length) {
          const next = new Uint32Array(Math.max(256, owned.length * 2));
          next.set(owned);
          owned = next;
        }
        owned[ownedCount++] = p;
      }
      if (m.seq !== last + 1) orderErrors++;
      lastSeq[p] = m.seq;
      posX[p] = m.x;
      posY[p] = m.y;
      moves++;
    },
  },
  /** broadcast: every worker damages the players it owns inside the storm; knockouts respawn. */
  storm: {
    topic: 'storm',
    handle(s, ctx) {
      storms++;
      const r2 = s.radius * s.radius;
      for (let i = 0; i < ownedCount; i++) {
        const p = owned[i]!;
        const dx = posX[p]! - s.x;
        const dy = posY[p]! - s.y;
        if (dx * dx + dy * dy > r2) continue;
        hits++;
        health[p] = health[p]! - s.damage;
        if (health[p]! <= 0) {
          health[p] = FULL_HEALTH;
          knockoutsSent++;
          const k = ctx.writer('knockout'); // allocation-free publishing: set fields, then send
          k.player = p;
          k.storm = s.id;
          k.worker = ctx.worker;
          ctx.send('knockout');
        }
      }
    },
  },
  /** group: one worker keeps the score of each knockout, whichever worker sent it. */
  scoreboard: { topic: 'knockout', handle() { knockoutsCounted++; } },
  /** keyed like `move`: the worker that owns the player answers (its reply is the return value). */
  where: {
    topic: 'where',
    handle(q, ctx) {
      const p = q.player;
      const found = p < lastSeq.length && lastSeq[p]! >= 0;
      return found
        ? { found, x: posX[p]!, y: posY[p]!, seq: lastSeq[p]!, health: health[p]!, worker: ctx.worker }
        : { found, x: 0, y: 0, seq: 0, health: 0, worker: ctx.worker };
    },
  },
  /** broadcast: this worker's counters (requestAll gathers one reply per worker). */
  report: {
    topic: 'report',
    handle(q) {
      const reply = { worker, players: ownedCount, moves, orderErrors, storms, hits, knockoutsSent, knockoutsCounted, checksum: stateChecksum() };
      if (q.reset) {
        lastSeq = new Int32Array(0);
        posX = new Float32Array(0);
        posY = new Float32Array(0);
        health = new Float64Array(0);
        ownedCount = 0;
        moves = orderErrors = storms = hits = knockoutsSent = knockoutsCounted = 0;
      }
      return reply;
    },
  },
}, {
  setup(ctx) { worker = ctx.worker; },
});
