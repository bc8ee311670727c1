/**
 * A run's files: the results (`<name>.json`: env, options, every entry rounded, the latency
 * cases' distributions rounded, when the run measured any, and the performance goals as the run
 * met them, goals.ts) and, from them, a human report beside them:
 *   <name>.md          - environment, one table per suite (every side, Wasm vs JS and Wasm vs the
 *                        best peer in words), the performance goals (target, ratio, pass / short /
 *                        not measured, what each ratio came from), the round trips by percentile
 *                        of each latency distribution, and an "Honesty" section (where Wasm loses,
 *                        what failed);
 *   <name>.svg         - a self-contained log-scale bar chart of every throughput row (msgs_per_s);
 *   <name>-latency.svg - a self-contained chart of the latency distributions (latency-chart.ts),
 *                        only when there are some: results files older than the distributions,
 *                        and runs whose cases measured none, have no latency chart.
 * A person's runs write into bench/results/local/ (ignored by git); the committed reference run
 * in bench/results/ is rewritten only on purpose (--reference). Deterministic: the only time in
 * the output is the one the env object holds.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from './env.ts';
import { formatNumber, formatRate, formatScale } from './format.ts';
import { evaluateGoals, goalCells, roundGoals, type GoalResult } from './goals.ts';
import { renderLatencySvg } from './latency-chart.ts';
import {
  bestPeer, better, compare, groupRows, isEngine, metricName, percentileName, roundDistributions, roundEntries, sortWho, unitLabel,
  type LatencyDistribution, type PercentilePoint, type ResultEntry, type Row, type Suite,
} from './results.ts';
import { colorOf, logDecades, px, renderLegend, svgOpen, truncate, xml } from './svg.ts';

/** The committed reference results (README and docs cite them). */
export const REFERENCE_DIR = new URL('bench/results/', PROJECT_ROOT);
/** Where a person's runs go: ignored by git, so running a benchmark leaves the clone clean. */
export const LOCAL_DIR = new URL('bench/results/local/', PROJECT_ROOT);

function num(value: unknown): number {
  return typeof value === 'number' ? value : NaN;
}

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : fallback;
}

/** Copies the fields defensively: missing strings become '?', missing numbers NaN. */
function normalise(raw: unknown): ResultEntry | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const e = raw as Record<string, unknown>;
  const entry: ResultEntry = {
    suite: str(e.suite, '?'),
    case: str(e.case, '?'),
    who: str(e.who, '?'),
    metric: str(e.metric, '?'),
    unit: str(e.unit, ''),
    median: num(e.median),
    min: num(e.min),
    max: num(e.max),
    runs: num(e.runs),
    verified: e.verified === true,
  };
  if (typeof e.error === 'string') entry.error = e.error;
  return entry;
}

/**
 * A distribution copied defensively: null unless it has points in µs; missing strings become '?',
 * points are kept where the percentile is in (0, 100], sorted by it, a missing value NaN.
 */
function normaliseDistribution(raw: unknown): LatencyDistribution | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const d = raw as Record<string, unknown>;
  if (d.unit !== 'µs' || !Array.isArray(d.points)) return null;
  const points = d.points
    .filter((point): point is unknown[] => Array.isArray(point) && typeof point[0] === 'number' && point[0] > 0 && point[0] <= 100)
    .map((point): PercentilePoint => [point[0] as number, num(point[1])])
    .sort((a, b) => a[0] - b[0]);
  return { suite: str(d.suite, '?'), case: str(d.case, '?'), who: str(d.who, '?'), unit: 'µs', runs: num(d.runs), verified: d.verified === true, points };
}

function formatCell(e: ResultEntry | undefined): string {
  if (e === undefined) return '';
  const spread = Number.isFinite(e.min) || Number.isFinite(e.max)
    ? ` [${formatNumber(e.min, e.unit)}–${formatNumber(e.max, e.unit)}]`
    : '';
  const flag = e.verified ? '' : ' ⚠';
  return `${formatNumber(e.median, e.unit)}${spread}${flag}`;
}

function md(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Wasm against JS in `row`, in words ('' unless both ran). */
function wasmVsJs(row: Row): string {
  const wasm = row.byWho.get('wasm');
  const js = row.byWho.get('js');
  return wasm && js ? compare(row.metric, row.unit, { who: 'wasm', value: wasm.median }, { who: 'js', value: js.median }) : '';
}

/** The Wasm engine against the best peer beside `row`, in words naming the peer ('' without both). */
function wasmVsPeer(suite: Suite, row: Row): string {
  const wasm = row.byWho.get('wasm');
  const peer = bestPeer(suite, row);
  if (wasm === undefined || peer === null) return '';
  const words = compare(row.metric, row.unit, { who: 'wasm', value: wasm.median }, { who: peer.who, value: peer.median });
  if (words === '') return '';
  // The words name the winner; when that is Wasm, name the peer it beat.
  const named = words === 'equal' ? `equal to ${peer.who}` : words.startsWith('Wasm ') ? `${words} than ${peer.who}` : words;
  return `${named}${peer.ownCase === null ? '' : ' (own case)'}`;
}

// ---------------------------------------------------------------------------------------------
// Markdown

function envLines(env: unknown): string[] {
  const e = (typeof env === 'object' && env !== null ? env : {}) as Record<string, unknown>;
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
  const machine = obj(e.machine);
  const runtime = obj(e.runtime);
  const packages = obj(e.packages);
  const load = obj(e.load);
  const list = (v: unknown): string => (Array.isArray(v) ? v.map((x) => str(x, '?')).join(' / ') : 'n/a');
  const lines: string[] = [];
  if (typeof e.date === 'string') lines.push(`- **Run started:** ${e.date}`);
  const cpus = num(machine.cpus);
  const mem = num(machine.totalMemMiB);
  lines.push(
    `- **Machine:** ${str(machine.cpuModel, 'unknown CPU')}${Number.isFinite(cpus) ? ` × ${cpus}` : ''}` +
      `${Number.isFinite(mem) ? `, ${mem} MiB` : ''}, ${str(machine.platform, '?')}/${str(machine.arch, '?')} ${str(machine.kernel)}`.trimEnd(),
  );
  lines.push(`- **Node:** ${str(runtime.node, 'unknown')} (V8 ${str(runtime.v8, 'unknown')})`);
  const pkgs = Object.entries(packages).map(([name, version]) => `${name} ${str(version, '?')}`);
  lines.push(`- **Packages:** ${pkgs.length > 0 ? pkgs.join(', ') : 'n/a'}`);
  const busy = num(load.busyPercentBefore);
  const sampleMs = num(load.sampleMs);
  lines.push(
    `- **Load:** machine busy before the run ${Number.isFinite(busy) ? `${busy.toFixed(0)}%` : 'n/a'}` +
      `${Number.isFinite(sampleMs) ? ` (sampled over ${sampleMs} ms)` : ''}; ` +
      `loadavg (1/5/15 min) before ${list(load.loadavgBefore)}, after ${list(load.loadavgAfter)}`,
  );
  return lines;
}

/**
 * The latency section: one row per distribution (case, side; the suite before the case when there
 * are several), one column per percentile any of them has, the µs at each; [] without distributions.
 */
function latencyTable(distributions: readonly LatencyDistribution[]): string[] {
  if (distributions.length === 0) return [];
  const percentiles = [...new Set(distributions.flatMap((d) => d.points.map(([p]) => p)))].sort((a, b) => a - b);
  const suites = new Set(distributions.map((d) => d.suite));
  const out: string[] = [];
  out.push('## Round-trip latency by percentile', '');
  out.push(
    'Each side\'s round trips in µs by percentile, each value the median over the timed runs of that percentile of the ' +
      'run\'s HdrHistogram (at p50, p99 and p99.9 the same medians as the tables above); max is a run\'s largest round trip ' +
      '(in a run of fewer than 10,000 round trips, p99.99 is too). ⚠ marks a side with an unverified run.',
    '',
  );
  const header = ['case', 'who', ...percentiles.map(percentileName), 'runs'];
  out.push(`| ${header.map(md).join(' | ')} |`);
  out.push(`|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const d of distributions) {
    const byPercentile = new Map(d.points);
    const name = suites.size > 1 ? `${d.suite} / ${d.case}` : d.case;
    const cells = [md(name), md(`${d.who}${d.verified ? '' : ' ⚠'}`)];
    for (const p of percentiles) cells.push(md(byPercentile.has(p) ? formatNumber(byPercentile.get(p)!, d.unit) : ''));
    cells.push(Number.isFinite(d.runs) ? String(d.runs) : '');
    out.push(`| ${cells.join(' | ')} |`);
  }
  out.push('');
  return out;
}

/** The goals section: one row per goal, its target, the ratio, the mark and what it came from. */
function goalsTable(goals: readonly GoalResult[]): string[] {
  if (goals.length === 0) return [];
  const out: string[] = [];
  out.push('## Performance goals', '');
  out.push(
    'Each goal is a ratio of two entries of this run (medians), against its target: **pass** or **short**. ' +
      '**not measured**: an entry it needs is missing from this run (a partial run, a suite not run) or unverified; ' +
      'nothing stands in for it. Rows without a target are informational (**measured**).',
    '',
  );
  const header = ['goal', 'target', 'ratio', 'result', 'from'];
  out.push(`| ${header.join(' | ')} |`);
  out.push('| --- | --- | ---: | --- | --- |');
  for (const goal of goals) {
    const c = goalCells(goal);
    const mark = c.mark === 'pass' || c.mark === 'short' ? `**${c.mark}**` : c.mark;
    out.push(`| ${[md(c.goal), md(c.target), md(c.ratio), mark, md(c.from)].join(' | ')} |`);
  }
  out.push('');
  return out;
}

function renderMarkdown(
  env: unknown, entries: readonly ResultEntry[], distributions: readonly LatencyDistribution[], goals: readonly GoalResult[],
  svgName: string, latencySvgName: string | null,
): string {
  const out: string[] = [];
  out.push('# wasm-dispatch benchmark report', '');
  out.push(...envLines(env), '');
  out.push(
    'Cells are `median [min–max]` over the runs, in the unit the metric column names; **better** says ' +
      'which way a metric is better. Rates are compact: K = 10³, M = 10⁶. ⚠ marks an unverified entry (see Honesty).',
    '',
    '- **Wasm vs JS** names the better engine backend and by how much, in the metric\'s own direction ' +
      '(throughput: faster; latency: lower; memory: fewer GC events or bytes).',
    '- **Wasm vs best peer** compares the Wasm engine with the best peer measured beside it (highest throughput, ' +
      'lowest latency or memory). "Own case" marks a peer measured in a case of its own that stands beside this one ' +
      '(one-to-one\'s postMessage baseline beside the engine\'s main → worker cases; the Atomics.wait/notify game beside the parked one).',
    '',
    `Throughput chart: [${svgName}](${svgName})`,
    '',
    latencySvgName === null
      ? 'Latency chart: none (no latency distributions in this run).'
      : `Latency chart: [${latencySvgName}](${latencySvgName}) (round trips by percentile; table under "Round-trip latency by percentile")`,
    '',
  );

  const suites = groupRows(entries);
  for (const suite of suites) {
    const hasPeers = suite.whos.some((w) => !isEngine(w));
    out.push(`## ${md(suite.name)}`, '');
    const header = ['case', 'metric', 'better', ...suite.whos, 'Wasm vs JS'];
    if (hasPeers) header.push('Wasm vs best peer');
    out.push(`| ${header.map(md).join(' | ')} |`);
    out.push(`|${header.map((_, i) => (i < 3 ? ' --- ' : i < 3 + suite.whos.length ? ' ---: ' : ' --- ')).join('|')}|`);
    for (const row of suite.rows) {
      const cells = [md(row.case), md(`${metricName(row.metric)} (${unitLabel(row.metric, row.unit)})`), better(row.metric, row.unit) ?? ''];
      for (const who of suite.whos) cells.push(md(formatCell(row.byWho.get(who))));
      cells.push(md(wasmVsJs(row)));
      if (hasPeers) cells.push(md(wasmVsPeer(suite, row)));
      out.push(`| ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  out.push(...goalsTable(goals));
  out.push(...latencyTable(distributions));

  out.push('## Honesty', '');
  const losses: string[] = [];
  const peerWins: string[] = [];
  for (const suite of suites) {
    for (const row of suite.rows) {
      const way = better(row.metric, row.unit);
      const wasm = row.byWho.get('wasm');
      const js = row.byWho.get('js');
      const where = `${md(row.suite)} / ${md(row.case)} — ${md(metricName(row.metric))}`;
      const unit = unitLabel(row.metric, row.unit);
      if (way !== null && wasm !== undefined && js !== undefined && Number.isFinite(wasm.median) && Number.isFinite(js.median)) {
        // Memory ties (both 0 GC events) are no loss; for speed, a tie means Wasm is not faster.
        const memory = way === 'lower' && (row.unit === 'B' || row.unit === 'events');
        const lost = way === 'higher' ? wasm.median <= js.median : memory ? wasm.median > js.median : wasm.median >= js.median;
        const shaky = !wasm.verified || !js.verified ? ' — unverified, see below' : '';
        const values = `wasm ${formatNumber(wasm.median, row.unit)} vs js ${formatNumber(js.median, row.unit)} ${unit}`;
        if (lost) losses.push(`- ${where}: ${md(wasmVsJs(row))} (${values})${shaky}`);
      }
      const peer = bestPeer(suite, row);
      if (way !== null && peer !== null && wasm !== undefined && Number.isFinite(wasm.median)) {
        const beaten = way === 'higher' ? peer.median > wasm.median : peer.median < wasm.median;
        if (beaten) {
          const words = compare(row.metric, row.unit, { who: peer.who, value: peer.median }, { who: 'wasm', value: wasm.median });
          peerWins.push(`- ${where}: ${md(words)} than the Wasm engine (${md(peer.who)} ${formatNumber(peer.median, row.unit)} vs wasm ${formatNumber(wasm.median, row.unit)} ${unit})`);
        }
      }
    }
  }
  out.push('### Where Wasm is not faster (or leaner) than JS', '');
  out.push(...(losses.length > 0 ? losses : ['- none: Wasm beats JS in every row that has both.']), '');
  out.push('### Where a peer beats the Wasm engine', '');
  out.push(...(peerWins.length > 0 ? peerWins : ['- none.']), '');
  out.push('### Unverified entries', '');
  const failed = entries.filter((e) => !e.verified || e.error !== undefined);
  if (failed.length === 0) out.push('- none: every entry was verified.');
  for (const e of failed) {
    out.push(`- ${md(e.suite)} / ${md(e.case)} / ${md(e.who)} — ${md(e.metric)}: ${e.verified ? 'verified, but reported' : 'NOT verified'}: ${md(e.error ?? 'no error message')}`);
  }
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// SVG

/** 10^d as an axis label: '10K/s', '1M/s'. */
function tickLabel(d: number): string {
  return `${formatScale(10 ** d)}/s`;
}

function renderSvg(entries: readonly ResultEntry[]): string {
  const rows = groupRows(entries.filter((e) => e.metric === 'msgs_per_s')).flatMap((s) => s.rows);
  const allWho = sortWho(rows.flatMap((r) => [...r.byWho.keys()]));
  const { lo, hi } = logDecades(rows.flatMap((r) => [...r.byWho.values()].flatMap((e) => [e.median, e.min, e.max])), 4, 9);

  const width = 1000;
  // Legend first: it wraps onto as many lines as it needs, and the plot starts below it.
  const { svg: legend, lastLineY: ly } = renderLegend(allWho, width);
  const labelW = 270;
  const valueW = 90;
  const plotX = labelW;
  const plotW = width - labelW - valueW - 10;
  const top = ly + 32;
  const barH = 13;
  const barGap = 3;
  const groupGap = 14;
  const x = (v: number): number => plotX + ((Math.log10(v) - lo) / (hi - lo)) * plotW;

  const body: string[] = [];
  let y = top;
  for (const row of rows) {
    const whos = sortWho(row.byWho.keys());
    const groupH = Math.max(2, whos.length) * (barH + barGap) - barGap;
    const mid = y + groupH / 2;
    body.push(
      `<text x="${labelW - 10}" y="${px(mid - 7)}" text-anchor="end" dominant-baseline="middle" class="suite">${xml(truncate(row.suite, 40))}</text>`,
      `<text x="${labelW - 10}" y="${px(mid + 7)}" text-anchor="end" dominant-baseline="middle" class="lbl"><title>${xml(`${row.suite} · ${row.case}`)}</title>${xml(truncate(row.case, 38))}</text>`,
    );
    whos.forEach((who, i) => {
      const e = row.byWho.get(who)!;
      const by = y + i * (barH + barGap);
      const cy = by + barH / 2;
      const color = colorOf(who, allWho);
      const opacity = e.verified ? '1' : '0.35';
      const tip = xml(`${who}: ${formatRate(e.median)} msg/s [${formatRate(e.min)}–${formatRate(e.max)}]${e.verified ? '' : ' UNVERIFIED'}`);
      if (Number.isFinite(e.median) && e.median > 0) {
        const end = x(e.median);
        body.push(`<rect x="${plotX}" y="${px(by)}" width="${px(Math.max(1, end - plotX))}" height="${barH}" fill="${color}" fill-opacity="${opacity}"><title>${tip}</title></rect>`);
        if (Number.isFinite(e.min) && Number.isFinite(e.max) && e.min > 0 && e.max > 0 && e.max > e.min) {
          const a = x(e.min);
          const b = x(e.max);
          body.push(`<path d="M${px(a)} ${px(cy)}H${px(b)}M${px(a)} ${px(cy - 3)}V${px(cy + 3)}M${px(b)} ${px(cy - 3)}V${px(cy + 3)}" class="wh"/>`);
        }
        const labelX = Math.max(end, Number.isFinite(e.max) && e.max > 0 ? x(e.max) : end) + 5;
        const text = `${xml(formatRate(e.median))}${e.verified ? '' : ' ⚠'}`;
        if (labelX + 6 * (text.length + who.length + 1) < width) {
          body.push(`<text x="${px(labelX)}" y="${px(cy)}" dominant-baseline="middle" class="val">${text} <tspan class="who">${xml(who)}</tspan></text>`);
        } else {
          body.push(`<text x="${px(end - 4)}" y="${px(cy)}" text-anchor="end" dominant-baseline="middle" class="val in">${text} ${xml(who)}</text>`);
        }
      } else {
        body.push(`<text x="${plotX + 5}" y="${px(cy)}" dominant-baseline="middle" class="val">n/a <tspan class="who">${xml(who)}</tspan></text>`);
      }
    });
    y += groupH + groupGap;
  }
  const plotBottom = Math.max(y - groupGap + 6, top + 20);
  const height = Math.ceil(plotBottom + 36);

  const grid: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d);
    grid.push(`<line x1="${px(gx)}" y1="${top - 6}" x2="${px(gx)}" y2="${px(plotBottom)}" class="grid"/>`);
    grid.push(`<text x="${px(gx)}" y="${px(plotBottom + 16)}" text-anchor="middle" class="axis">${xml(tickLabel(d))}</text>`);
    if (d < hi) {
      for (const m of [2, 5]) {
        const mx = x(m * 10 ** d);
        grid.push(`<line x1="${px(mx)}" y1="${top - 6}" x2="${px(mx)}" y2="${px(plotBottom)}" class="minor"/>`);
      }
    }
  }


  return [
    ...svgOpen(width, height, 'Throughput, messages per second, log scale', [
      '.val{font-size:11px}.who{fill:#777}.in{fill:#fff}.suite{font-size:10px;fill:#777}.wh{stroke:#000;stroke-opacity:0.55;stroke-width:1;fill:none}',
    ]),
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" class="title">Throughput (median msg/s, log scale; whiskers = min–max)</text>`,
    ...legend,
    ...grid,
    ...(rows.length === 0 ? [`<text x="${plotX + 10}" y="${top + 10}" class="lbl">no throughput entries</text>`] : []),
    ...body,
    `<text x="${px(plotX + plotW / 2)}" y="${height - 6}" text-anchor="middle" class="axis">messages per second (log scale)</text>`,
    '</svg>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

/** The files of a report, as writeReport wrote them; `latencySvg` null when there was no distribution to chart. */
export interface ReportFiles {
  markdown: URL;
  svg: URL;
  latencySvg: URL | null;
}

/**
 * Writes `<name>.md`, `<name>.svg` and, when `results` holds latency distributions,
 * `<name>-latency.svg` into `dir` (created if missing) and returns their URLs. Without
 * distributions (an older results file, a run that measured none) a `<name>-latency.svg` left by
 * an earlier run of the same name is removed, so the files beside a report are always its own.
 * Entries or distributions missing fields or holding NaN/0 are tolerated: they print as '—' / 'n/a'.
 * The goals section shows `results.goals` when given (writeRun passes the ones it saved, computed
 * from the unrounded entries), otherwise the goals evaluated from the entries.
 */
export function writeReport(
  results: { env: unknown; entries: readonly ResultEntry[]; distributions?: readonly LatencyDistribution[]; goals?: readonly GoalResult[] },
  dir: URL, name = 'latest',
): ReportFiles {
  const base = dir.href.endsWith('/') ? dir : new URL(`${dir.href}/`);
  mkdirSync(base, { recursive: true });
  const entries = (Array.isArray(results?.entries) ? results.entries : [])
    .map((e: unknown) => normalise(e))
    .filter((e): e is ResultEntry => e !== null);
  const distributions = (Array.isArray(results?.distributions) ? results.distributions : [])
    .map((d: unknown) => normaliseDistribution(d))
    .filter((d): d is LatencyDistribution => d !== null);
  const markdown = new URL(`${name}.md`, base);
  const svg = new URL(`${name}.svg`, base);
  const latency = new URL(`${name}-latency.svg`, base);
  const latencySvg = distributions.length > 0 ? latency : null;
  const goals = results?.goals ?? evaluateGoals(entries);
  writeFileSync(markdown, renderMarkdown(results?.env, entries, distributions, goals, `${name}.svg`, latencySvg === null ? null : `${name}-latency.svg`));
  writeFileSync(svg, renderSvg(entries));
  if (latencySvg === null) rmSync(latency, { force: true });
  else writeFileSync(latencySvg, renderLatencySvg(distributions));
  return { markdown, svg, latencySvg };
}

/** The files of one run, as writeRun wrote them. */
export interface RunFiles extends ReportFiles {
  json: URL;
}

/**
 * Writes a run into `dir`: `<name>.json` (env, options if given, entries rounded by roundEntries,
 * distributions if given, rounded by roundDistributions, and `goals`: the performance goals,
 * `run.goals` if given, else evaluated from the unrounded entries, rounded by roundGoals) and its
 * report and charts beside it (writeReport).
 */
export function writeRun(
  run: { env: unknown; options?: unknown; entries: readonly ResultEntry[]; distributions?: readonly LatencyDistribution[]; goals?: readonly GoalResult[] },
  dir: URL, name: string,
): RunFiles {
  const base = dir.href.endsWith('/') ? dir : new URL(`${dir.href}/`);
  mkdirSync(base, { recursive: true });
  const entries = roundEntries(run.entries);
  const distributions = run.distributions === undefined ? undefined : roundDistributions(run.distributions);
  const goals = roundGoals(run.goals ?? evaluateGoals(run.entries));
  const json = new URL(`${name}.json`, base);
  const saved = {
    env: run.env,
    ...(run.options === undefined ? {} : { options: run.options }),
    entries,
    ...(distributions === undefined ? {} : { distributions }),
    goals,
  };
  writeFileSync(json, `${JSON.stringify(saved, null, 2)}\n`);
  return { json, ...writeReport({ env: run.env, entries, ...(distributions === undefined ? {} : { distributions }), goals }, base, name) };
}

/** A file's path as a person types it: relative to the current directory when it is under it. */
function shown(url: URL): string {
  const path = relative(process.cwd(), fileURLToPath(url));
  return path.startsWith('..') ? fileURLToPath(url) : path;
}

/**
 * Where a run's files went, for the console's last lines; for a person's run (not `reference`),
 * also that git ignores them and how `command` (e.g. 'npm start --') replaces the reference run.
 */
export function whereFilesWent(files: RunFiles, reference: boolean, command: string): string[] {
  const beside = files.latencySvg === null
    ? `a report (${shown(files.markdown)}) and a chart (${shown(files.svg)})`
    : `a report (${shown(files.markdown)}), a throughput chart (${shown(files.svg)}) and a latency chart (${shown(files.latencySvg)})`;
  const lines = [`Results: ${shown(files.json)}, with ${beside} beside it.`];
  if (!reference) lines.push(`git ignores ${shown(LOCAL_DIR)}/; the committed reference run stays in ${shown(REFERENCE_DIR)}/ (${command} --reference replaces it).`);
  return lines;
}
