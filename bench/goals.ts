/**
 * The performance goals of a run: each one a ratio of two entries of the same run (found by suite,
 * case, who and metric), a target, and a mark: `pass` or `short`, or `not measured` when an entry
 * it needs is missing from the run or unverified — no value ever stands in for one. Rows with no
 * target are informational and marked `measured`. evaluateGoals computes them; the console
 * (summary.ts goalLines), the report (report.ts) and the results file (`goals`) show the same
 * GoalResults, in the words goalCells gives them.
 *
 * The entries each goal reads (suite / case / who / metric; the suite file that writes them):
 *
 *   publishBatch ÷ postMessage       one-to-one / engine publishBatch 256 / wasm / msgs_per_s   (engine-throughput.ts)
 *                                    ÷ one-to-one / postMessage baseline / postMessage / msgs_per_s
 *   publishBatch ÷ SAB ring          one-to-one / messages, batch 256 / wasm ÷ sab-ring / msgs_per_s (one-to-one.ts)
 *   publish() ÷ postMessage          one-to-one / engine publish / wasm ÷ the postMessage baseline above
 *   broadcast ÷ one-to-one           fan-out / broadcast 1→2 publishBatch 256, deliveries / wasm / msgs_per_s
 *                                    ÷ one-to-one / engine publishBatch 256 / wasm / msgs_per_s
 *   request() ÷ best pool            request-response / engine ÷ best pool / wasm / speedup
 *                                    (from: add a+b, 2 workers: wasm ÷ the better of piscina, tinypool)
 *   requestBatch() ÷ best pool       request-response / requestBatch ÷ best pool / wasm / speedup
 *                                    (from, when they give that speedup: a msgs_per_s case naming
 *                                    requestBatch, wasm ÷ the best pool of add a+b, 2 workers)
 *   spinning ping-pong ÷ raw rings   ping-pong / worker↔worker / wasm ÷ sab-ring / rtt_p50_us   (engine-pingpong.ts)
 *   Wasm ÷ JS                        one-to-one / engine publishBatch 256 / wasm ÷ js / msgs_per_s
 *   zero GC events                   memory / publisher and consumer / wasm and js / gc_events  (memory.ts)
 *   beside a 56 KiB topic (info)     one-to-one / messages, batch 256, beside a 56 KiB topic / wasm
 *                                    ÷ one-to-one / messages, batch 256 / wasm / msgs_per_s       (one-to-one.ts)
 *   large messages (informational)   large-messages / 4 KiB, engine ÷ postMessage transfer / wasm / speedup
 *                                    large-messages / 60 KiB, engine ÷ postMessage transfer / wasm / speedup
 *                                    (the engine's messages/s over postMessage's with the payload
 *                                    transferred: the same bytes a message, so the MB/s ratio; 60 KiB
 *                                    as the largest size an engine message holds, 64 KiB if one
 *                                    ever does). The suite may not be in the tree yet, and its names
 *                                    may move: a case is matched by suite, metric, the size in its
 *                                    name ("64 KiB" is never taken for "4 KiB") and the word
 *                                    "transfer", not "broadcast" (its clone, memcpy and broadcast
 *                                    speedups are other rows); wasm first, else any side.
 */
import { formatCount, formatNumber, formatRatio } from './format.ts';
import { better, roundForJson, type ResultEntry } from './results.ts';

/** A case name matched by a pattern, for cases whose exact name the goals do not rely on. */
export interface CasePattern {
  pattern: RegExp;
  /** How the case is named in a note: 'a case naming 4 KiB'. */
  name: string;
}

/** Which entry of the run a goal reads. */
export interface EntryQuery {
  suite: string;
  case: string | CasePattern;
  metric: string;
  /**
   * One side; several, of which the best by the metric's direction counts (every one of them must
   * be in the run and verified: the best of a partial set is not the best); or null: any side,
   * wasm first.
   */
  who: string | readonly string[] | null;
  /** How the value is named where it is shown ('wasm 13.8M ÷ postMessage 529K msg/s'); the side's name by default. */
  label?: string;
}

/** A target: the goal's value against a bound, in its unit. */
export interface GoalTarget {
  op: '≥' | '≤' | '=';
  value: number;
  unit: '×' | 'events';
}

/** numerator ÷ denominator against a target. */
interface RatioGoal {
  kind: 'ratio';
  id: string;
  goal: string;
  numerator: EntryQuery;
  denominator: EntryQuery;
  /** null for an informational row. */
  target: GoalTarget | null;
}

/**
 * An entry that is itself a ratio (a suite's speedup), against a target or, without one,
 * informational. `operands`, when given, are the two entries the suite divided: shown beside it
 * when they give its value (within OPERANDS_AGREE), left out otherwise.
 */
interface EntryGoal {
  kind: 'entry';
  id: string;
  goal: string;
  entry: EntryQuery;
  operands?: readonly [EntryQuery, EntryQuery];
  target: GoalTarget | null;
}

/** Every entry 0 (GC events): pass when all are. */
interface ZeroGoal {
  kind: 'zero';
  id: string;
  goal: string;
  entries: readonly EntryQuery[];
}

export type Goal = RatioGoal | EntryGoal | ZeroGoal;

export type GoalMark = 'pass' | 'short' | 'not measured' | 'measured';

/** One value a goal came from: the entry and its median. */
export interface GoalSource {
  suite: string;
  case: string;
  who: string;
  metric: string;
  unit: string;
  /** The entry's median. */
  value: number;
  /** How the value is named where it is shown. */
  label: string;
}

/** One goal as a run met it, as the results file stores it (under `goals`). */
export interface GoalResult {
  id: string;
  goal: string;
  /** The ratio (the zero-GC goal: the most GC events of any side); null when not measured. */
  value: number | null;
  unit: '×' | 'events';
  /** The medians it came from: numerator, then denominator (the zero-GC goal: every side); [] when not measured. */
  from: GoalSource[];
  /** null for an informational row. */
  target: GoalTarget | null;
  mark: GoalMark;
  /** Why the goal is not measured: the entry missing from the run, or unverified. */
  note?: string;
}

/** How close a speedup's operands must come to its value to be shown as what it came from. */
const OPERANDS_AGREE = 0.01;

const POOLS = ['piscina', 'tinypool'] as const;
const PUBLISH_BATCH = { suite: 'one-to-one', case: 'engine publishBatch 256', metric: 'msgs_per_s' } as const;
const POST_MESSAGE: EntryQuery = { suite: 'one-to-one', case: 'postMessage baseline', metric: 'msgs_per_s', who: 'postMessage' };
const MESSAGES_BATCH = { suite: 'one-to-one', case: 'messages, batch 256', metric: 'msgs_per_s' } as const;
const REQUESTS = { suite: 'request-response', case: 'add a+b, 2 workers', metric: 'msgs_per_s' } as const;
const SPINNING = { suite: 'ping-pong', case: 'worker↔worker', metric: 'rtt_p50_us' } as const;
const at = (op: GoalTarget['op'], value: number, unit: GoalTarget['unit'] = '×'): GoalTarget => ({ op, value, unit });

/**
 * A speedup of the large-messages suite over postMessage with transfer, main → 1 worker: its case
 * names one of `kib` (e.g. [60, 64]: '60 KiB' or '64 KiB', never '4 KiB' inside '64 KiB') and
 * 'transfer', and not 'broadcast'.
 */
function largeMessages(kib: readonly number[]): EntryQuery {
  const size = `(?:|.*[^0-9.])(?:${kib.join('|')})\\s*KiB`;
  return {
    suite: 'large-messages', metric: 'speedup', who: null,
    case: { pattern: new RegExp(`^(?!.*broadcast)(?=.*transfer)${size}`, 'i'), name: `${kib.join(' or ')} KiB, engine ÷ postMessage transfer` },
  };
}

/** The goals, in the order they are shown. */
export const GOALS: readonly Goal[] = [
  {
    kind: 'ratio', id: 'publishBatch-postMessage', goal: 'publishBatch 256, main → 1 worker ÷ postMessage',
    numerator: { ...PUBLISH_BATCH, who: 'wasm' }, denominator: POST_MESSAGE, target: at('≥', 70),
  },
  {
    kind: 'ratio', id: 'publishBatch-sab-ring', goal: 'publishBatch 256 ÷ a plain SAB ring, same 24 B messages',
    numerator: { ...MESSAGES_BATCH, who: 'wasm' }, denominator: { ...MESSAGES_BATCH, who: 'sab-ring' }, target: at('≥', 0.5),
  },
  {
    kind: 'ratio', id: 'publish-postMessage', goal: 'publish() per message, main → 1 worker ÷ postMessage',
    numerator: { suite: 'one-to-one', case: 'engine publish', metric: 'msgs_per_s', who: 'wasm' }, denominator: POST_MESSAGE, target: at('≥', 40),
  },
  {
    kind: 'ratio', id: 'broadcast-one-to-one', goal: 'broadcast 1 → 2 deliveries ÷ publishBatch 256 to 1 worker',
    numerator: { suite: 'fan-out', case: 'broadcast 1→2 publishBatch 256, deliveries', metric: 'msgs_per_s', who: 'wasm', label: 'deliveries' },
    denominator: { ...PUBLISH_BATCH, who: 'wasm', label: 'one-to-one' }, target: at('≥', 0.7),
  },
  {
    kind: 'entry', id: 'request-pool', goal: 'request(), 2 workers ÷ the best worker pool',
    entry: { suite: 'request-response', case: 'engine ÷ best pool', metric: 'speedup', who: 'wasm' },
    operands: [{ ...REQUESTS, who: 'wasm' }, { ...REQUESTS, who: POOLS }], target: at('≥', 10),
  },
  {
    kind: 'entry', id: 'requestBatch-pool', goal: 'requestBatch() ÷ the best worker pool',
    entry: { suite: 'request-response', case: 'requestBatch ÷ best pool', metric: 'speedup', who: 'wasm' },
    operands: [
      { suite: 'request-response', case: { pattern: /requestBatch/, name: 'a case naming requestBatch' }, metric: 'msgs_per_s', who: 'wasm' },
      { ...REQUESTS, who: POOLS },
    ],
    target: at('≥', 30),
  },
  {
    kind: 'ratio', id: 'ping-pong-sab-ring', goal: 'spinning worker ↔ worker ping-pong p50 ÷ two raw SAB rings',
    numerator: { ...SPINNING, who: 'wasm' }, denominator: { ...SPINNING, who: 'sab-ring' }, target: at('≤', 1.5),
  },
  {
    kind: 'ratio', id: 'wasm-js', goal: 'Wasm ÷ JS engine, publishBatch 256 to 1 worker',
    numerator: { ...PUBLISH_BATCH, who: 'wasm' }, denominator: { ...PUBLISH_BATCH, who: 'js' }, target: at('≥', 1.5),
  },
  {
    kind: 'zero', id: 'zero-gc', goal: 'GC events, Wasm and JS engines, publisher and consumer',
    entries: (['wasm', 'js'] as const).flatMap((who) => (['publisher', 'consumer'] as const).map(
      (side): EntryQuery => ({ suite: 'memory', case: side, metric: 'gc_events', who, label: `${who} ${side}` }),
    )),
  },
  {
    kind: 'ratio', id: 'beside-56KiB', goal: 'publishBatch 256 beside a declared 56 KiB topic ÷ without it',
    numerator: { ...MESSAGES_BATCH, case: 'messages, batch 256, beside a 56 KiB topic', who: 'wasm', label: 'beside 56 KiB' },
    denominator: { ...MESSAGES_BATCH, who: 'wasm', label: 'alone' }, target: null,
  },
  {
    kind: 'entry', id: 'large-4KiB', goal: '4 KiB messages: engine MB/s ÷ postMessage with transfer',
    entry: largeMessages([4]), target: null,
  },
  {
    kind: 'entry', id: 'large-60-64KiB', goal: '60–64 KiB messages: engine MB/s ÷ postMessage with transfer',
    entry: largeMessages([60, 64]), target: null,
  },
];

// ---------------------------------------------------------------------------------------------
// Finding entries

/** An entry found for a query, or why there is none to use. */
type Lookup = { source: GoalSource } | { problem: string };

function caseMatches(wanted: string | CasePattern, name: string): boolean {
  return typeof wanted === 'string' ? name === wanted : wanted.pattern.test(name);
}

/** 'one-to-one / postMessage baseline / postMessage' (the metric after it in brackets when `withMetric`). */
export function describeQuery(query: EntryQuery, who: string | null = null, withMetric = false): string {
  const name = typeof query.case === 'string' ? query.case : query.case.name;
  const side = who ?? (query.who === null ? 'any side' : typeof query.who === 'string' ? query.who : query.who.join(' and '));
  return `${query.suite} / ${name} / ${side}${withMetric ? ` (${query.metric})` : ''}`;
}

function sourceOf(entry: ResultEntry, query: EntryQuery): GoalSource {
  return {
    suite: entry.suite, case: entry.case, who: entry.who, metric: entry.metric, unit: entry.unit, value: entry.median,
    label: query.label ?? entry.who,
  };
}

/** A problem with `entry` for `query` (missing, unverified, no value), or null when it can be used. */
function problemWith(entry: ResultEntry | undefined, query: EntryQuery, who: string): string | null {
  if (entry === undefined) return `missing: ${describeQuery(query, who, true)}`;
  if (!entry.verified) return `unverified: ${describeQuery(query, entry.who)}${entry.error === undefined ? '' : ` (${entry.error})`}`;
  if (!Number.isFinite(entry.median)) return `no value: ${describeQuery(query, entry.who)}`;
  return null;
}

/** The entry `query` names in `entries` (for several sides, the best of them), or why there is none to use. */
export function findEntry(entries: readonly ResultEntry[], query: EntryQuery): Lookup {
  const matches = entries.filter((e) => e.suite === query.suite && e.metric === query.metric && caseMatches(query.case, e.case));
  if (query.who === null) {
    const entry = matches.find((e) => e.who === 'wasm') ?? matches[0];
    const problem = problemWith(entry, query, 'any side');
    return problem === null ? { source: sourceOf(entry!, query) } : { problem };
  }
  const whos = typeof query.who === 'string' ? [query.who] : query.who;
  let best: ResultEntry | null = null;
  for (const who of whos) {
    const entry = matches.find((e) => e.who === who);
    const problem = problemWith(entry, query, who);
    if (problem !== null) return { problem };
    const way = better(entry!.metric, entry!.unit) ?? 'higher';
    if (best === null || (way === 'higher' ? entry!.median > best.median : entry!.median < best.median)) best = entry!;
  }
  return { source: sourceOf(best!, query) };
}

// ---------------------------------------------------------------------------------------------
// Evaluating

/** How far past its bound a ratio may fall and still meet it: the rounding of one division (0.9 / 0.6 is 1.5000000000000002). */
const BOUND_SLACK = 1e-9;

function meets(value: number, target: GoalTarget): boolean {
  const slack = Math.abs(target.value) * BOUND_SLACK;
  if (target.op === '≥') return value >= target.value - slack;
  if (target.op === '≤') return value <= target.value + slack;
  return value === target.value;
}

function notMeasured(goal: Goal, unit: GoalResult['unit'], target: GoalTarget | null, problems: readonly string[]): GoalResult {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return { id: goal.id, goal: goal.goal, value: null, unit, from: [], target, mark: 'not measured', note: `${problems[0]}${more}` };
}

function measured(goal: Goal, value: number, unit: GoalResult['unit'], from: GoalSource[], target: GoalTarget | null): GoalResult {
  const mark: GoalMark = target === null ? 'measured' : meets(value, target) ? 'pass' : 'short';
  return { id: goal.id, goal: goal.goal, value, unit, from, target, mark };
}

function problems(lookups: readonly Lookup[]): string[] {
  return lookups.flatMap((l) => ('problem' in l ? [l.problem] : []));
}

function sources(lookups: readonly Lookup[]): GoalSource[] {
  return lookups.flatMap((l) => ('source' in l ? [l.source] : []));
}

/** One goal against the entries of one run. */
export function evaluateGoal(goal: Goal, entries: readonly ResultEntry[]): GoalResult {
  switch (goal.kind) {
    case 'ratio': {
      const lookups = [findEntry(entries, goal.numerator), findEntry(entries, goal.denominator)];
      const missing = problems(lookups);
      if (missing.length > 0) return notMeasured(goal, '×', goal.target, missing);
      const [numerator, denominator] = sources(lookups) as [GoalSource, GoalSource];
      if (!(denominator.value > 0)) return notMeasured(goal, '×', goal.target, [`no ratio: ${denominator.label} is ${denominator.value}`]);
      return measured(goal, numerator.value / denominator.value, '×', [numerator, denominator], goal.target);
    }
    case 'entry': {
      const lookup = findEntry(entries, goal.entry);
      if ('problem' in lookup) return notMeasured(goal, '×', goal.target, [lookup.problem]);
      let from = [lookup.source];
      if (goal.operands !== undefined) {
        const operands = sources(goal.operands.map((query) => findEntry(entries, query)));
        if (operands.length === 2 && operands[1]!.value > 0) {
          const ratio = operands[0]!.value / operands[1]!.value;
          if (Math.abs(ratio / lookup.source.value - 1) <= OPERANDS_AGREE) from = operands;
        }
      }
      return measured(goal, lookup.source.value, '×', from, goal.target);
    }
    case 'zero': {
      const target = at('=', 0, 'events');
      const lookups = goal.entries.map((query) => findEntry(entries, query));
      const missing = problems(lookups);
      if (missing.length > 0) return notMeasured(goal, 'events', target, missing);
      const from = sources(lookups);
      return measured(goal, Math.max(...from.map((s) => s.value)), 'events', from, target);
    }
  }
}

/** Every goal of GOALS (or of `goals`) against the entries of one run, in order. */
export function evaluateGoals(entries: readonly ResultEntry[], goals: readonly Goal[] = GOALS): GoalResult[] {
  return goals.map((goal) => evaluateGoal(goal, entries));
}

/** The goals as a results file stores them: values rounded by roundForJson, each in its unit. */
export function roundGoals(results: readonly GoalResult[]): GoalResult[] {
  return results.map((r) => ({
    ...r,
    value: r.value === null ? null : roundForJson(r.value, r.unit),
    from: r.from.map((s) => ({ ...s, value: roundForJson(s.value, s.unit) })),
  }));
}

// ---------------------------------------------------------------------------------------------
// Words

/** A goal's cells as the console and the report show them. */
export interface GoalCells {
  goal: string;
  /** '≥ 70×', '≤ 1.5×', '0 events', '—' (informational). */
  target: string;
  /** '26.1×', '0 events', '—' when not measured. */
  ratio: string;
  mark: GoalMark;
  /** What the ratio came from ('wasm 13.8M ÷ postMessage 529K msg/s'), or why it is not measured. */
  from: string;
}

function targetText(target: GoalTarget | null): string {
  if (target === null) return '—';
  return target.op === '=' ? `${formatCount(target.value)} ${target.unit}` : `${target.op} ${target.value}×`;
}

/** 'wasm 13.8M ÷ postMessage 529K msg/s'; a single source by its case, every value of several by label. */
function fromText(result: GoalResult): string {
  const from = result.from;
  const value = (s: GoalSource): string => formatNumber(s.value, s.unit);
  if (from.length === 2 && result.unit === '×' && from[0]!.unit === from[1]!.unit) {
    return `${from[0]!.label} ${value(from[0]!)} ÷ ${from[1]!.label} ${value(from[1]!)} ${from[0]!.unit}`;
  }
  if (from.length === 1) return `${from[0]!.suite} / ${from[0]!.case} / ${from[0]!.who}`;
  return from.map((s) => `${s.label} ${value(s)}`).join(', ');
}

export function goalCells(result: GoalResult): GoalCells {
  const ratio = result.value === null ? '—' : result.unit === '×' ? `${formatRatio(result.value)}×` : `${formatCount(result.value)} ${result.unit}`;
  return { goal: result.goal, target: targetText(result.target), ratio, mark: result.mark, from: result.note ?? fromText(result) };
}
