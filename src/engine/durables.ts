/**
 * Durables: the engine thread's side of durable subscriptions (SubscribeOptions.durable) — check
 * the option, load a name's acknowledged position, activate its durable-table entry (the journal
 * thread then forwards the journal's records to its workers: src/journal/durable.ts), save the
 * position as the journal thread acknowledges records, and stop it when it is unsubscribed or the
 * engine closes.
 *
 * Positions are saved every SAVE_EVERY_MS while something changed, when a subscription is removed
 * and at close: what a process killed in between had handled since the last save is delivered
 * again after a restart (at-least-once; README "Durable subscriptions" says how much).
 */
import { ConfigError, EngineError } from '../errors.ts';
import type { ControlBlock } from './control-block.ts';
import {
  DURABLE_ACTIVE, DURABLE_FREE, DURABLE_GROUP, DURABLE_KEYED, DURABLE_STOPPED, DURABLE_STOPPING, DurableTable,
} from './durable-table.ts';
import type { JournalShape } from './journal-shape.ts';
import type { DurableStats, JournalStats } from './types.ts';

/** Where durable positions live (Node: src/journal/positions.ts, files in the journal's directory). */
export interface DurablePositions {
  /** Durable `name`'s saved position (the first journal index not yet handled) and topic; undefined for a new name. */
  load(name: string): { readonly topic: string; readonly position: number } | undefined;
  save(name: string, topic: string, position: number): void;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** A save is one small file written and renamed: cheap enough to keep the redelivery window after a killed process short. */
const SAVE_EVERY_MS = 25;
/** How long thread 0 waits for the journal thread to take a durable subscription up, or to confirm it stopped. */
const JOURNAL_THREAD_TIMEOUT_MS = 10_000;

interface Active {
  readonly name: string;
  readonly topic: string;
  saved: number;
}

export class Durables {
  readonly table: DurableTable;
  private readonly active = new Map<number, Active>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly journal: JournalShape,
    slots: number,
    private readonly topicNames: readonly string[],
    private readonly positions: DurablePositions | undefined,
    /** The journal thread's control block (its doorbell). */
    private readonly journalControl: ControlBlock,
  ) {
    this.table = new DurableTable(journal.durable, slots);
  }

  /**
   * Checks a durable subscription's options (ConfigError naming the field): `topic` must be
   * journaled, the mode group or keyed, the name free, its saved position (if any) of this topic.
   * Returns its journaled topic number, mode code and saved position (−1: a new name).
   */
  check(name: unknown, subject: string, topicCount: number, mode: string, balance: string, steal: boolean, workers: readonly number[]): { journaled: number; mode: number; position: number } {
    if (this.positions === undefined) throw new ConfigError('durable', name, 'durable subscriptions need a journal, which is written under Node only');
    if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError('durable', name, 'must be 1-64 characters of A-Z a-z 0-9 . _ -');
    const topic = this.topicNames.indexOf(subject);
    const journaled = topic < 0 || topicCount !== 1 ? -1 : this.journal.topics.indexOf(topic);
    if (journaled < 0) throw new ConfigError('durable', name, `${JSON.stringify(subject)} is not a journaled topic (options.journal.topics): a durable subscription reads the journal`);
    if (mode !== 'group' && mode !== 'keyed') throw new ConfigError('mode', mode, "a durable subscription is 'group' or 'keyed' (one durable subscription per worker gives each all messages)");
    if (balance !== 'round-robin' || steal) throw new ConfigError(balance !== 'round-robin' ? 'balance' : 'steal', balance !== 'round-robin' ? balance : steal, 'does not apply to a durable subscription');
    if (workers.some((w) => w >= 32)) throw new ConfigError('workers', workers, 'a durable subscription takes workers 0..31');
    for (const active of this.active.values()) if (active.name === name) throw new ConfigError('durable', name, 'is already subscribed');
    const saved = this.positions.load(name);
    if (saved !== undefined && saved.topic !== subject) throw new ConfigError('durable', name, `belongs to topic ${JSON.stringify(saved.topic)}`);
    return { journaled, mode: mode === 'keyed' ? DURABLE_KEYED : DURABLE_GROUP, position: saved?.position ?? -1 };
  }

  /**
   * Activates durable `name` in `slot` (its subscription-table entry is active, not routed) from
   * `position` (check()'s; −1 for a new name) and resolves once the journal thread took it up: a
   * new name then starts at the journal's end as the journal thread saw it, so every message
   * published after this resolves reaches it.
   */
  async activate(slot: number, name: string, topic: string, journaled: number, mode: number, position: number, workers: readonly number[], yieldFn: () => Promise<void>): Promise<void> {
    let members = 0;
    for (const w of workers) members |= 1 << w;
    this.table.activate(slot, journaled, mode, members, position);
    this.active.set(slot, { name, topic, saved: position });
    this.timer ??= setInterval(() => this.save(), SAVE_EVERY_MS);
    (this.timer as { unref?: () => void }).unref?.();
    if (!await this.waitForJournalThread(() => this.table.cursor(slot) >= 0, yieldFn)) {
      throw new EngineError('ERR_JOURNAL', 'durable', name, `the journal thread did not take the subscription up within ${JOURNAL_THREAD_TIMEOUT_MS} ms`);
    }
  }

  /** Rings the journal thread until `done()` (true) or JOURNAL_THREAD_TIMEOUT_MS passed (false). */
  private async waitForJournalThread(done: () => boolean, yieldFn: () => Promise<void>): Promise<boolean> {
    const deadline = Date.now() + JOURNAL_THREAD_TIMEOUT_MS;
    while (!done()) {
      if (Date.now() > deadline) return false;
      this.journalControl.ring();
      await yieldFn();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return true;
  }

  /**
   * Stops the durable subscription in `slot`: the journal thread forwards nothing more and
   * confirms once every record it forwarded was handled; then its position is saved and the entry freed.
   */
  async deactivate(slot: number, yieldFn: () => Promise<void>): Promise<void> {
    const active = this.active.get(slot);
    if (active === undefined) return;
    this.table.setState(slot, DURABLE_STOPPING);
    // Not confirmed in time: ACKED as it stands is saved (records handled after it come again).
    await this.waitForJournalThread(() => this.table.state(slot) === DURABLE_STOPPED, yieldFn);
    this.saveOne(slot, active);
    this.active.delete(slot);
    this.table.setState(slot, DURABLE_FREE);
    if (this.active.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Stops every durable subscription (close(), after its drain) and saves their positions. */
  async close(yieldFn: () => Promise<void>): Promise<void> {
    await Promise.all([...this.active.keys()].map((slot) => this.deactivate(slot, yieldFn)));
  }

  /** Saves the positions that moved since their last save. */
  save(): void {
    for (const [slot, active] of this.active) this.saveOne(slot, active);
  }

  private saveOne(slot: number, active: Active): void {
    const acked = this.table.acked(slot);
    if (acked < 0 || acked === active.saved || this.table.state(slot) === DURABLE_FREE) return;
    this.positions!.save(active.name, active.topic, acked);
    active.saved = acked;
  }

  /** Journaled records not yet forwarded to an active durable subscription (drain waits for 0). */
  behind(): number {
    return this.active.size === 0 ? 0 : this.table.behind();
  }

  stats(): JournalStats {
    const next = this.table.journalNext();
    const durable: Record<string, DurableStats> = {};
    for (const [slot, active] of this.active) {
      const forwarded = this.table.cursor(slot);
      durable[active.name] = {
        topic: active.topic, acked: this.table.acked(slot), forwarded,
        behind: this.table.state(slot) === DURABLE_ACTIVE && forwarded >= 0 ? Math.max(0, next - forwarded) : 0,
        dropped: this.table.dropped(slot),
      };
    }
    return { first: this.table.journalFirst(), next, durable };
  }
}
