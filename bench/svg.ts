/**
 * What the report's charts (report.ts: the throughput bars; latency-chart.ts: round trips by
 * percentile) draw alike, so a side looks the same in both: its colour (colorOf), the legend of
 * sides (a swatch and a name per side, wrapping onto as many lines as it needs), the stylesheet
 * of their shared classes, the decades a log axis spans, and how text and coordinates are written
 * into the SVG.
 */

/** Each side's colour; a side not listed takes one of EXTRA_COLORS (colorOf). */
const COLORS: Record<string, string> = {
  wasm: '#654ff0',
  js: '#c99a00',
  postMessage: '#2a9d8f',
  atomics: '#0096c7',
  'ringbuf.js': '#e76f51',
  'sab-ring': '#8ab17d',
  piscina: '#d62828',
  tinypool: '#457b9d',
  events: '#6d597a',
  eventemitter3: '#b56576',
  mitt: '#1d3557',
};
const EXTRA_COLORS = ['#7f7f7f', '#17becf', '#bcbd22', '#8c564b', '#e377c2'];

/** The colour of `who` in a chart whose sides are `allWho` (an unlisted side: by its place among the unlisted ones). */
export function colorOf(who: string, allWho: readonly string[]): string {
  const known = COLORS[who];
  if (known !== undefined) return known;
  const extras = allWho.filter((w) => COLORS[w] === undefined);
  return EXTRA_COLORS[Math.max(0, extras.indexOf(who)) % EXTRA_COLORS.length]!;
}

/** `text` escaped for SVG text and attribute values. */
export function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** `text` cut to `max` characters, its last one '…' when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** A coordinate as the SVG text writes it: rounded to 0.1 px. */
export function px(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

/** The classes both charts use: fonts, the title, labels, axis text, major and minor grid lines. */
export const CHART_STYLE = [
  'text{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;fill:#222}',
  '.title{font-size:16px;font-weight:600}.lbl{font-size:12px}.axis{font-size:11px;fill:#555}',
  '.grid{stroke:#bbb;stroke-width:1}.minor{stroke:#e6e6e6;stroke-width:1}',
].join('\n');

/** The legend's first line, below the chart's title. */
const LEGEND_TOP = 34;

/**
 * The legend of `allWho` (in that order: sortWho's) across a chart `width` wide: `svg`, and
 * `lastLineY`, the top of its last line (the plot starts below it).
 */
export function renderLegend(allWho: readonly string[], width: number): { svg: string[]; lastLineY: number } {
  const svg: string[] = [];
  let lx = 10;
  let ly = LEGEND_TOP;
  for (const who of allWho) {
    const w = 16 + [...who].length * 7 + 18;
    if (lx + w > width - 10 && lx > 10) {
      lx = 10;
      ly += 18;
    }
    svg.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${colorOf(who, allWho)}"/>`);
    svg.push(`<text x="${lx + 16}" y="${ly + 6}" dominant-baseline="middle" class="lbl">${xml(who)}</text>`);
    lx += w;
  }
  return { svg, lastLineY: ly };
}

/**
 * The decades a log axis spans to show `values` (the positive finite ones): `lo` and `hi` as
 * powers of ten, at least one apart; [fallbackLo, fallbackHi] when there is none.
 */
export function logDecades(values: readonly number[], fallbackLo: number, fallbackHi: number): { lo: number; hi: number } {
  const shown = values.filter((v) => Number.isFinite(v) && v > 0);
  let lo = shown.length > 0 ? Math.floor(Math.log10(Math.min(...shown))) : fallbackLo;
  let hi = shown.length > 0 ? Math.ceil(Math.log10(Math.max(...shown))) : fallbackHi;
  if (hi <= lo) hi = lo + 1;
  lo = Math.min(lo, hi - 1);
  return { lo, hi };
}

/** The opening lines of a chart: the XML declaration, the <svg> element (`label` for screen readers) and its stylesheet (CHART_STYLE and `style`). */
export function svgOpen(width: number, height: number, label: string, style: readonly string[]): string[] {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${xml(label)}">`,
    '<style>',
    CHART_STYLE,
    ...style,
    '</style>',
  ];
}
