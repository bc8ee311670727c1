/**
 * Turns bench/results/latest.json data into a human report next to it:
 *   latest.md  - environment, one table per suite (every backend side by side, wasm/js and
 *                engine ÷ best peer ratios) and an "Honesty" section (where Wasm loses, what failed);
 *   latest.svg - a self-contained log-scale bar chart of every throughput row (msgs_per_s).
 * Deterministic: the only time in the output is the one the env object holds.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { formatNumber, formatRate, formatRatio as formatRatioNumber, formatScale } from './format.ts';
import { WHO_ORDER, type ResultEntry } from './results.ts';
const ENGINES = new Set(['wasm', 'js']);
const COLORS: Record<string, string> = {
  wasm: '#654ff0',
  js: '#c99a00',
  postMessage: '#2a9d8f',
  'ringbuf.js': '#e76f51',
  'sab-ring': '#8ab17d',
  piscina: '#d62828',
  tinypool: '#457b9d',
  events: '#6d597a',
  eventemitter3: '#b56576',
  mitt: '#1d3557',
};
const EXTRA_COLORS = ['#7f7f7f', '#17becf', '#bcbd22', '#8c564b', '#e377c2'];

type Direction = 'higher' | 'lower' | 'unknown';

/** Whether a bigger median is better for this metric. */
function direction(metric: string, unit: string): Direction {
  const m = metric.toLowerCase();
  if (unit === 'msg/s' || m.includes('per_s') || unit === '×' || m.includes('speedup')) return 'higher';
  if (unit === 'µs' || unit === 'us' || unit === 'ms' || unit === 'ns' || m.endsWith('_us') || m.includes('rtt') || m.includes('latency')) return 'lower';
  if (unit === 'B' || unit === 'events' || m.includes('gc') || m.includes('bytes')) return 'lower';
  return 'unknown';
}

function isLatency(metric: string, unit: string): boolean {
  const m = metric.toLowerCase();
  return unit === 'µs' || unit === 'us' || unit === 'ms' || unit === 'ns' || m.endsWith('_us') || m.includes('rtt') || m.includes('latency');
}

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

/** Engines first, then peers in WHO_ORDER; anything else after them, alphabetically. */
function whoRank(who: string): number {
  const i = (WHO_ORDER as readonly string[]).indexOf(who);
  return i === -1 ? WHO_ORDER.length : i;
}

function sortWho(whos: Iterable<string>): string[] {
  return [...new Set(whos)].sort((a, b) => whoRank(a) - whoRank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function colorOf(who: string, allWho: readonly string[]): string {
  const known = COLORS[who];
  if (known !== undefined) return known;
  const extras = allWho.filter((w) => COLORS[w] === undefined);
  return EXTRA_COLORS[Math.max(0, extras.indexOf(who)) % EXTRA_COLORS.length]!;
}

// ---------------------------------------------------------------------------------------------
// Number formatting

function unitLabel(metric: string, unit: string): string {
  if (unit === 'B' && metric.toLowerCase().includes('per_msg')) return 'B/msg';
  if (unit === 'msg/s') return 'msg/s';
  return unit;
}

function formatCell(e: ResultEntry | undefined): string {
  if (e === undefined) return '';
  const spread = Number.isFinite(e.min) || Number.isFinite(e.max)
    ? ` [${formatNumber(e.min, e.unit)}–${formatNumber(e.max, e.unit)}]`
    : '';
  const flag = e.verified ? '' : ' ⚠';
  return `${formatNumber(e.median, e.unit)}${spread}${flag}`;
}

/** a ÷ b as '1.27×', or '' when it is not a finite number (missing, NaN, 0/0, x/0). */
function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}

function formatRatio(r: number): string {
  return Number.isFinite(r) ? `${formatRatioNumber(r)}×` : '';
}

function md(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

// ---------------------------------------------------------------------------------------------
// Grouping

interface Row {
  suite: string;
  case: string;
  metric: string;
  unit: string;
  byWho: Map<string, ResultEntry>;
}

interface Suite {
  name: string;
  rows: Row[];
  whos: string[];
}

/** Suites and rows (case, metric) in order of first appearance; one entry per who per row. */
function group(entries: readonly ResultEntry[]): Suite[] {
  const suites = new Map<string, { rows: Map<string, Row>; whos: Set<string> }>();
  for (const e of entries) {
    let suite = suites.get(e.suite);
    if (suite === undefined) suites.set(e.suite, (suite = { rows: new Map(), whos: new Set() }));
    const key = `${e.case}\u0000${e.metric}`;
    let row = suite.rows.get(key);
    if (row === undefined) suite.rows.set(key, (row = { suite: e.suite, case: e.case, metric: e.metric, unit: e.unit, byWho: new Map() }));
    if (!row.byWho.has(e.who)) row.byWho.set(e.who, e);
    suite.whos.add(e.who);
  }
  return [...suites].map(([name, s]) => ({ name, rows: [...s.rows.values()], whos: sortWho(s.whos) }));
}

/** The best peer's median for the row (highest or lowest by the metric's direction). */
function bestPeer(row: Row): { who: string; median: number } | null {
  const dir = direction(row.metric, row.unit);
  if (dir === 'unknown') return null;
  let best: { who: string; median: number } | null = null;
  for (const who of sortWho(row.byWho.keys())) {
    if (ENGINES.has(who)) continue;
    const m = row.byWho.get(who)!.median;
    if (!Number.isFinite(m)) continue;
    if (best === null || (dir === 'higher' ? m > best.median : m < best.median)) best = { who, median: m };
  }
  return best;
}

/** Peer entries of rows in `suite` with the same metric that hold no engine (wasm/js) at all. */
function peerOnlyRows(suite: Suite, row: Row): Map<string, ResultEntry> {
  const peers = new Map<string, ResultEntry>();
  for (const other of suite.rows) {
    if (other === row || other.metric !== row.metric || [...other.byWho.keys()].some((w) => ENGINES.has(w))) continue;
    for (const [who, e] of other.byWho) {
      const prev = peers.get(who);
      const better = direction(row.metric, row.unit) === 'lower' ? e.median < prev?.median! : e.median > prev?.median!;
      if (prev === undefined || !Number.isFinite(prev.median) || better) peers.set(who, e);
    }
  }
  return peers;
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

function renderMarkdown(env: unknown, entries: readonly ResultEntry[], svgName: string): string {
  const out: string[] = [];
  out.push('# wasm-dispatch benchmark report', '');
  out.push(...envLines(env), '');
  out.push(
    'Cells are `median [min–max]` over the runs; the unit is in the metric column. ' +
      'Rates are compact: K = 10³, M = 10⁶. ⚠ marks an unverified entry (see Honesty).',
    '',
    '- **wasm/js** is the Wasm median divided by the JS median. For throughput and speedup (higher is better) ' +
      'above 1 means Wasm is faster; for latency (µs) and memory (GC events, B/msg) lower is better, so **below 1 means Wasm is faster / leaner**.',
    '- **engine ÷ best peer** is the Wasm engine median divided by the best non-engine backend in the same row ' +
      '(highest peer for throughput, lowest peer for latency and memory); where a suite measures a peer as its own case ' +
      '(marked "case", e.g. one-to-one\'s postMessage baseline) that case stands in. So for throughput above 1 means the engine wins; ' +
      'for latency and memory below 1 means the engine wins. It is blank where the row has no peer or the peer is 0 (e.g. 0 GC events).',
    '',
    `Throughput chart: [${svgName}](${svgName})`,
    '',
  );

  const suites = group(entries);
  for (const suite of suites) {
    const hasPeers = suite.rows.some((r) => [...r.byWho.keys()].some((w) => !ENGINES.has(w)));
    out.push(`## ${md(suite.name)}`, '');
    const header = ['case', 'metric', ...suite.whos, 'wasm/js'];
    if (hasPeers) header.push('engine ÷ best peer');
    out.push(`| ${header.map(md).join(' | ')} |`);
    out.push(`|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const row of suite.rows) {
      const cells = [md(row.case), md(`${row.metric} (${unitLabel(row.metric, row.unit)})`)];
      for (const who of suite.whos) cells.push(md(formatCell(row.byWho.get(who))));
      cells.push(formatRatio(ratio(row.byWho.get('wasm')?.median, row.byWho.get('js')?.median)));
      if (hasPeers) {
        let peer = bestPeer(row);
        let where = '';
        if (peer === null && row.byWho.has('wasm')) {
          // Peers measured as their own case in this suite (e.g. a 'postMessage' case) stand in.
          peer = bestPeer({ ...row, byWho: peerOnlyRows(suite, row) });
          where = ' case';
        }
        const r = peer === null ? NaN : ratio(row.byWho.get('wasm')?.median, peer.median);
        cells.push(Number.isFinite(r) ? `${formatRatio(r)} (vs ${md(peer!.who)}${where})` : '');
      }
      out.push(`| ${cells.join(' | ')} |`);
    }
    out.push('');
  }

  out.push('## Honesty', '');
  const rows = suites.flatMap((s) => s.rows);
  const losses: string[] = [];
  const peerWins: string[] = [];
  for (const row of rows) {
    const dir = direction(row.metric, row.unit);
    const wasm = row.byWho.get('wasm')?.median;
    const js = row.byWho.get('js')?.median;
    const where = `${md(row.suite)} / ${md(row.case)} — ${md(row.metric)}`;
    if (dir !== 'unknown' && wasm !== undefined && js !== undefined && Number.isFinite(wasm) && Number.isFinite(js)) {
      const r = ratio(wasm, js);
      const rText = Number.isFinite(r) ? formatRatio(r) : `${formatNumber(wasm, row.unit)} vs ${formatNumber(js, row.unit)}`;
      const unit = unitLabel(row.metric, row.unit);
      const values = `wasm ${formatNumber(wasm, row.unit)} vs js ${formatNumber(js, row.unit)} ${unit}`;
      const memory = !isLatency(row.metric, row.unit) && dir === 'lower';
      // Memory ties (both 0 GC events) are no loss; for speed, a tie means Wasm is not faster.
      const lost = dir === 'higher' ? wasm <= js : memory ? wasm > js : wasm >= js;
      const shaky = !row.byWho.get('wasm')!.verified || !row.byWho.get('js')!.verified ? ' — unverified, see below' : '';
      if (lost) losses.push(`- ${where}: wasm/js ${rText} (${values})${shaky}`);
    }
    const peer = bestPeer(row);
    if (peer !== null && wasm !== undefined && Number.isFinite(wasm)) {
      const beaten = dir === 'higher' ? peer.median > wasm : peer.median < wasm;
      if (beaten) {
        const r = ratio(wasm, peer.median);
        peerWins.push(
          `- ${where}: ${md(peer.who)} ${formatNumber(peer.median, row.unit)} vs wasm ${formatNumber(wasm, row.unit)} ${unitLabel(row.metric, row.unit)}` +
            `${Number.isFinite(r) ? ` (engine ÷ peer ${formatRatio(r)})` : ''}`,
        );
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

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function n(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

/** 10^d as an axis label: '10K/s', '1M/s'. */
function tickLabel(d: number): string {
  return `${formatScale(10 ** d)}/s`;
}

function renderSvg(entries: readonly ResultEntry[]): string {
  const rows = group(entries.filter((e) => e.metric === 'msgs_per_s')).flatMap((s) => s.rows);
  const allWho = sortWho(rows.flatMap((r) => [...r.byWho.keys()]));
  const values = rows.flatMap((r) => [...r.byWho.values()].flatMap((e) => [e.median, e.min, e.max])).filter((v) => Number.isFinite(v) && v > 0);
  let lo = values.length > 0 ? Math.floor(Math.log10(Math.min(...values))) : 4;
  let hi = values.length > 0 ? Math.ceil(Math.log10(Math.max(...values))) : 9;
  if (hi <= lo) hi = lo + 1;
  lo = Math.min(lo, hi - 1);

  const width = 1000;
  // Legend first: it wraps onto as many lines as it needs, and the plot starts below it.
  const legend: string[] = [];
  let lx = 10;
  let ly = 34;
  for (const who of allWho) {
    const w = 16 + [...who].length * 7 + 18;
    if (lx + w > width - 10 && lx > 10) {
      lx = 10;
      ly += 18;
    }
    legend.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${colorOf(who, allWho)}"/>`);
    legend.push(`<text x="${lx + 16}" y="${ly + 6}" dominant-baseline="middle" class="lbl">${xml(who)}</text>`);
    lx += w;
  }
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
      `<text x="${labelW - 10}" y="${n(mid - 7)}" text-anchor="end" dominant-baseline="middle" class="suite">${xml(truncate(row.suite, 40))}</text>`,
      `<text x="${labelW - 10}" y="${n(mid + 7)}" text-anchor="end" dominant-baseline="middle" class="lbl"><title>${xml(`${row.suite} · ${row.case}`)}</title>${xml(truncate(row.case, 38))}</text>`,
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
        body.push(`<rect x="${plotX}" y="${n(by)}" width="${n(Math.max(1, end - plotX))}" height="${barH}" fill="${color}" fill-opacity="${opacity}"><title>${tip}</title></rect>`);
        if (Number.isFinite(e.min) && Number.isFinite(e.max) && e.min > 0 && e.max > 0 && e.max > e.min) {
          const a = x(e.min);
          const b = x(e.max);
          body.push(`<path d="M${n(a)} ${n(cy)}H${n(b)}M${n(a)} ${n(cy - 3)}V${n(cy + 3)}M${n(b)} ${n(cy - 3)}V${n(cy + 3)}" class="wh"/>`);
        }
        const labelX = Math.max(end, Number.isFinite(e.max) && e.max > 0 ? x(e.max) : end) + 5;
        const text = `${xml(formatRate(e.median))}${e.verified ? '' : ' ⚠'}`;
        if (labelX + 6 * (text.length + who.length + 1) < width) {
          body.push(`<text x="${n(labelX)}" y="${n(cy)}" dominant-baseline="middle" class="val">${text} <tspan class="who">${xml(who)}</tspan></text>`);
        } else {
          body.push(`<text x="${n(end - 4)}" y="${n(cy)}" text-anchor="end" dominant-baseline="middle" class="val in">${text} ${xml(who)}</text>`);
        }
      } else {
        body.push(`<text x="${plotX + 5}" y="${n(cy)}" dominant-baseline="middle" class="val">n/a <tspan class="who">${xml(who)}</tspan></text>`);
      }
    });
    y += groupH + groupGap;
  }
  const plotBottom = Math.max(y - groupGap + 6, top + 20);
  const height = Math.ceil(plotBottom + 36);

  const grid: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d);
    grid.push(`<line x1="${n(gx)}" y1="${top - 6}" x2="${n(gx)}" y2="${n(plotBottom)}" class="grid"/>`);
    grid.push(`<text x="${n(gx)}" y="${n(plotBottom + 16)}" text-anchor="middle" class="axis">${xml(tickLabel(d))}</text>`);
    if (d < hi) {
      for (const m of [2, 5]) {
        const mx = x(m * 10 ** d);
        grid.push(`<line x1="${n(mx)}" y1="${top - 6}" x2="${n(mx)}" y2="${n(plotBottom)}" class="minor"/>`);
      }
    }
  }


  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Throughput, messages per second, log scale">`,
    '<style>',
    'text{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;fill:#222}',
    '.title{font-size:16px;font-weight:600}.lbl{font-size:12px}.val{font-size:11px}.who{fill:#777}.in{fill:#fff}.suite{font-size:10px;fill:#777}.axis{font-size:11px;fill:#555}',
    '.grid{stroke:#bbb;stroke-width:1}.minor{stroke:#e6e6e6;stroke-width:1}.wh{stroke:#000;stroke-opacity:0.55;stroke-width:1;fill:none}',
    '</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" class="title">Throughput (median msg/s, log scale; whiskers = min–max)</text>`,
    ...legend,
    ...grid,
    ...(rows.length === 0 ? [`<text x="${plotX + 10}" y="${top + 10}" class="lbl">no throughput entries</text>`] : []),
    ...body,
    `<text x="${n(plotX + plotW / 2)}" y="${height - 6}" text-anchor="middle" class="axis">messages per second (log scale)</text>`,
    '</svg>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

/**
 * Writes `latest.md` and `latest.svg` into `dir` (created if missing) and returns their URLs.
 * Entries missing fields or holding NaN/0 are tolerated: they print as '—' / 'n/a'.
 */
export function writeReport(results: { env: unknown; entries: readonly ResultEntry[] }, dir: URL): { markdown: URL; svg: URL } {
  const base = dir.href.endsWith('/') ? dir : new URL(`${dir.href}/`);
  mkdirSync(base, { recursive: true });
  const entries = (Array.isArray(results?.entries) ? results.entries : [])
    .map((e: unknown) => normalise(e))
    .filter((e): e is ResultEntry => e !== null);
  const markdown = new URL('latest.md', base);
  const svg = new URL('latest.svg', base);
  writeFileSync(markdown, renderMarkdown(results?.env, entries, 'latest.svg'));
  writeFileSync(svg, renderSvg(entries));
  return { markdown, svg };
}
