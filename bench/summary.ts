/**
 * The console summary of a run (npm start, npm run bench): two tables of medians, each well under
 * 100 columns, one metric a row with its unit and which way is better, and every comparison in
 * words that name the better side. Rows sit under their suite, and under their case when a case
 * has several metrics. The whole picture, with min–max, is the report beside the results
 * (report.ts). After the tables, the performance goals (goals.ts): each goal with its target,
 * the ratio this run measured and its mark, and under it the values the ratio came from (or why
 * the goal is not measured).
 *
 *   Wasm and JS engines        unit   better    Wasm      JS  Wasm vs JS
 *   ─────────────────────────  ─────  ──────  ──────  ──────  ────────────────────────
 *   one-to-one
 *     engine publish           msg/s  higher   10.0M   5.89M  Wasm 1.70× faster
 *   ping-pong
 *     worker↔worker
 *       round trip p50         µs     lower     0.64    0.87  Wasm 1.36× lower latency
 *
 *   Wasm engine and best peer  unit   better    Wasm  best peer         Wasm vs best peer
 *   ─────────────────────────  ─────  ──────  ──────  ────────────────  ─────────────────
 *   one-to-one
 *     engine publish           msg/s  higher   10.0M  postMessage 737K  Wasm 13.6× faster
 */
import { formatNumber } from './format.ts';
import { goalCells, type GoalResult } from './goals.ts';
import { bestPeer, better, compare, groupRows, isEngine, metricName, unitLabel, type ResultEntry, type Row, type Suite } from './results.ts';

/** A table line: a heading (a suite, or a case with several metrics) or a row of cells. */
type Line = { heading: string } | { cells: string[] };

/** The columns after the label: their header, and which are numbers (right-aligned). */
interface Columns {
  header: string[];
  numeric: boolean[];
}

/** A median as a cell: '*' after it when not verified, 'failed' when no run counted. */
function cell(e: ResultEntry | undefined): string {
  if (e === undefined) return '';
  if (!(e.runs > 0) && !e.verified) return 'failed';
  return `${formatNumber(e.median, e.unit)}${e.verified ? '' : '*'}`;
}

/**
 * The lines of one table: every suite's rows that `cells` fills (null: not in this table), under
 * a heading per suite, and per case when the case has several such rows.
 */
function tableLines(suites: readonly Suite[], cells: (suite: Suite, row: Row) => string[] | null): Line[] {
  const lines: Line[] = [];
  for (const suite of suites) {
    const filled = suite.rows.flatMap((row) => {
      const rest = cells(suite, row);
      return rest === null ? [] : [{ row, rest }];
    });
    if (filled.length === 0) continue;
    lines.push({ heading: suite.name });
    const cases = [...new Set(filled.map(({ row }) => row.case))];
    for (const name of cases) {
      const rows = filled.filter(({ row }) => row.case === name);
      const unitAndBetter = (row: Row): string[] => [unitLabel(row.metric, row.unit), better(row.metric, row.unit) ?? ''];
      if (rows.length === 1) {
        const { row, rest } = rows[0]!;
        const label = row.metric === 'msgs_per_s' ? name : `${name}, ${metricName(row.metric)}`;
        lines.push({ cells: [`  ${label}`, ...unitAndBetter(row), ...rest] });
        continue;
      }
      lines.push({ heading: `  ${name}` });
      for (const { row, rest } of rows) lines.push({ cells: [`    ${metricName(row.metric)}`, ...unitAndBetter(row), ...rest] });
    }
  }
  return lines;
}

/** Header, rule and lines, columns as wide as their widest cell; numbers right-aligned. */
function render(title: string, columns: Columns, lines: readonly Line[]): string[] {
  const header = [title, 'unit', 'better', ...columns.header];
  const right = [false, false, false, ...columns.numeric];
  const rows = lines.flatMap((line) => ('cells' in line ? [line.cells] : []));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const join = (cells: readonly string[]): string => cells
    .map((c, i) => (right[i] ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
    .join('  ');
  return [
    join(header),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...lines.map((line) => ('cells' in line ? join(line.cells) : line.heading)),
  ];
}

/**
 * The summary of `entries` as lines: Wasm and JS side by side, then the Wasm engine beside the
 * best peer where the run measured one; a footnote when a median is not verified.
 */
export function summaryLines(entries: readonly ResultEntry[]): string[] {
  const suites = groupRows(entries);
  const engines = tableLines(suites, (_, row) => {
    const wasm = row.byWho.get('wasm');
    const js = row.byWho.get('js');
    if (wasm === undefined && js === undefined) return null;
    const words = wasm && js ? compare(row.metric, row.unit, { who: 'wasm', value: wasm.median }, { who: 'js', value: js.median }) : '';
    return [cell(wasm), cell(js), words];
  });
  const peers = tableLines(suites, (suite, row) => {
    const wasm = row.byWho.get('wasm');
    const peer = bestPeer(suite, row);
    if (wasm === undefined || peer === null) return null;
    const words = compare(row.metric, row.unit, { who: 'wasm', value: wasm.median }, { who: peer.who, value: peer.median });
    return [cell(wasm), `${peer.who} ${formatNumber(peer.median, row.unit)}`, words];
  });
  const out: string[] = [];
  if (engines.length > 0) {
    out.push(...render('Wasm and JS engines', { header: ['Wasm', 'JS', 'Wasm vs JS'], numeric: [true, true, false] }, engines));
  }
  if (peers.length > 0) {
    if (out.length > 0) out.push('');
    out.push(...render('Wasm engine and best peer', { header: ['Wasm', 'best peer', 'Wasm vs best peer'], numeric: [true, false, false] }, peers));
  }
  const peersOnly = entries.some((e) => !isEngine(e.who)) && engines.length === 0 && peers.length === 0;
  if (peersOnly) out.push('(only peers ran: nothing to compare; their numbers are in the results file)');
  if (entries.some((e) => !e.verified && e.runs > 0)) out.push('', '* not verified: see the FAILED lines above');
  return out;
}

/**
 * The performance goals as lines, under 100 columns: per goal a row of goal, target, ratio and
 * result, and under it, indented, the values the ratio came from (or why it is not measured);
 * then how many goals the run met.
 *
 *   Performance goals                                           target   ratio  result
 *   ──────────────────────────────────────────────────────────  ──────  ──────  ────────────
 *   publishBatch 256, main → 1 worker ÷ postMessage              ≥ 70×   26.1×  short
 *       wasm 13.8M ÷ postMessage 528K msg/s
 */
export function goalLines(results: readonly GoalResult[]): string[] {
  if (results.length === 0) return [];
  const header = ['Performance goals', 'target', 'ratio', 'result'];
  const cells = results.map(goalCells);
  const rows = cells.map((c) => [c.goal, c.target, c.ratio, c.mark]);
  const right = [false, false, true, false];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const join = (row: readonly string[]): string => row
    .map((c, i) => (right[i] ? c.padStart(widths[i]!) : i === row.length - 1 ? c : c.padEnd(widths[i]!)))
    .join('  ');
  const met = results.filter((r) => r.mark === 'pass').length;
  const targeted = results.filter((r) => r.target !== null).length;
  const unmeasured = results.filter((r) => r.mark === 'not measured').length;
  return [
    join(header),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...rows.flatMap((row, i) => [join(row), `    ${cells[i]!.from}`]),
    `${met} of ${targeted} goals met${unmeasured > 0 ? `; ${unmeasured} not measured (an entry missing from this run, or unverified)` : ''}`,
  ];
}
