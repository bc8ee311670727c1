/**
 * A run's latency chart (`<name>-latency.svg`, written by report.ts beside the throughput chart):
 * every latency case's round trips by percentile, one panel per case (suite · case), one line per
 * side in the side's colour (svg.ts: the same colours as the throughput chart), one legend.
 *
 *   Round-trip latency by percentile …
 *   ■ wasm  ■ js  ■ postMessage  ■ atomics
 *   ping-pong · worker↔worker             ping-pong · request() main→worker
 *    10 µs ┤                 ·- -·         10 µs ┤
 *     1 µs ┤──●──●──●──●──●╯               1 µs ┤ …
 *          50 90  99 99.9 99.99 max              50 90  99 99.9 99.99 max
 *   ping-pong · worker↔worker parked      ping-pong · parked baseline: Atomics.wait/notify
 *   …
 *
 * x: percentile p at log10(1 / (1 − p)), the usual latency axis where every further 9 is one
 * step right (50, 90, 99, 99.9, 99.99), so the tail gets as much room as the body. The maximum
 * (percentile 100, at infinity on that axis) stands one step past the last 9, joined to the line
 * by a dashed segment: it is one round trip, not a share of them. y: µs on a log scale, the same
 * scale in every panel, so the panels compare at a glance (spinning games in µs, parked ones in
 * tens). An unverified side's line is faint. Self-contained: no script, font or image outside it.
 */
import { formatMicros, formatScale } from './format.ts';
import { percentileName, sortWho, type LatencyDistribution } from './results.ts';
import { colorOf, logDecades, px, renderLegend, svgOpen, truncate, xml } from './svg.ts';

const WIDTH = 1000;
/** Panels side by side; more cases wrap onto further rows. */
const COLUMNS = 2;
const MARGIN = 10;
const PANEL_GAP = 24;
const ROW_GAP = 18;
/** A panel, top to bottom: its title, the plot, the percentile labels under it. */
const TITLE_H = 22;
const PLOT_H = 200;
const X_LABELS_H = 22;
/** Left of each plot: its µs labels. */
const Y_LABELS_W = 58;
/** Inside each plot, left and right: room for the first and last point's marker. */
const PLOT_PAD = 10;

/** Where percentile `p` (< 100) stands on the x axis, in steps of one 9: 50 → 0.30, 90 → 1, 99 → 2, 99.9 → 3. */
function ninesOf(p: number): number {
  return Math.log10(100 / (100 - p));
}

/** The percentile at `nines` whole steps: 1 → '90', 3 → '99.9'. */
function ninesLabel(nines: number): string {
  return (100 - 10 ** (2 - nines)).toFixed(Math.max(0, nines - 2));
}

/** A µs value on the y axis: '0.1 µs', '10 µs', '1 ms'. */
function microsLabel(us: number): string {
  return us >= 1000 ? `${formatScale(us / 1000)} ms` : `${formatScale(us)} µs`;
}

/** The x axis every panel shares: from p50 (or the lowest percentile drawn) to max, and its ticks. */
interface PercentileAxis {
  left: number;
  /** Where max stands: one step past the last whole 9 drawn (p99.99 at least). */
  maxAt: number;
  ticks: Array<{ at: number; label: string }>;
}

function percentileAxis(distributions: readonly LatencyDistribution[]): PercentileAxis {
  const nines = distributions.flatMap((d) => d.points.filter(([p]) => p < 100).map(([p]) => ninesOf(p)));
  const left = Math.min(ninesOf(50), ...nines);
  // Less a hair: 1/(1 − 0.9999) is 10^4 give or take a rounding error either way.
  const last = Math.max(4, ...nines.map((at) => Math.ceil(at - 1e-9)));
  const ticks = [{ at: ninesOf(50), label: '50' }];
  for (let at = 1; at <= last; at++) ticks.push({ at, label: ninesLabel(at) });
  ticks.push({ at: last + 1, label: 'max' });
  return { left, maxAt: last + 1, ticks };
}

/** One panel: a case and its sides' distributions (sortWho order). */
interface Panel {
  suite: string;
  case: string;
  lines: LatencyDistribution[];
}

function panelsOf(distributions: readonly LatencyDistribution[]): Panel[] {
  const panels = new Map<string, Panel>();
  for (const d of distributions) {
    const key = `${d.suite}\u0000${d.case}`;
    let panel = panels.get(key);
    if (panel === undefined) panels.set(key, (panel = { suite: d.suite, case: d.case, lines: [] }));
    panel.lines.push(d);
  }
  for (const panel of panels.values()) {
    const order = sortWho(panel.lines.map((d) => d.who));
    panel.lines.sort((a, b) => order.indexOf(a.who) - order.indexOf(b.who));
  }
  return [...panels.values()];
}

/** The SVG of the latency chart of `distributions` ('no latency distributions' when there is none). */
export function renderLatencySvg(distributions: readonly LatencyDistribution[]): string {
  const panels = panelsOf(distributions);
  const allWho = sortWho(distributions.map((d) => d.who));
  const { lo, hi } = logDecades(distributions.flatMap((d) => d.points.map(([, v]) => v)), 0, 2);
  const axis = percentileAxis(distributions);

  const { svg: legend, lastLineY } = renderLegend(allWho, WIDTH);
  const top = lastLineY + 30;
  const columns = Math.max(1, Math.min(COLUMNS, panels.length));
  const panelW = (WIDTH - 2 * MARGIN - (columns - 1) * PANEL_GAP) / columns;
  const rowH = TITLE_H + PLOT_H + X_LABELS_H;
  const rows = Math.max(1, Math.ceil(panels.length / columns));
  const plotsBottom = top + rows * rowH + (rows - 1) * ROW_GAP;
  const height = Math.ceil(plotsBottom + 26);

  const body: string[] = [];
  panels.forEach((panel, i) => {
    const panelX = MARGIN + (i % columns) * (panelW + PANEL_GAP);
    const panelY = top + Math.floor(i / columns) * (rowH + ROW_GAP);
    const plotX = panelX + Y_LABELS_W;
    const plotW = panelW - Y_LABELS_W;
    const plotTop = panelY + TITLE_H;
    const plotBottom = plotTop + PLOT_H;
    const x = (at: number): number => plotX + PLOT_PAD + ((at - axis.left) / (axis.maxAt - axis.left)) * (plotW - 2 * PLOT_PAD);
    const y = (us: number): number => plotBottom - ((Math.log10(us) - lo) / (hi - lo)) * PLOT_H;
    const xOf = (p: number): number => x(p >= 100 ? axis.maxAt : ninesOf(p));

    const title = `${panel.suite} · ${panel.case}`;
    body.push(
      `<text x="${px(plotX)}" y="${px(panelY + 12)}" class="lbl"><title>${xml(title)}</title>` +
        `<tspan class="suite">${xml(truncate(panel.suite, 24))} · </tspan>${xml(truncate(panel.case, 56))}</text>`,
      `<rect x="${px(plotX)}" y="${px(plotTop)}" width="${px(plotW)}" height="${PLOT_H}" class="frame"/>`,
    );
    for (let d = lo; d <= hi; d++) {
      const gy = y(10 ** d);
      body.push(
        `<line x1="${px(plotX)}" y1="${px(gy)}" x2="${px(plotX + plotW)}" y2="${px(gy)}" class="grid"/>`,
        `<text x="${px(plotX - 6)}" y="${px(gy)}" text-anchor="end" dominant-baseline="middle" class="axis">${xml(microsLabel(10 ** d))}</text>`,
      );
      if (d < hi) {
        for (const m of [2, 5]) {
          const my = y(m * 10 ** d);
          body.push(`<line x1="${px(plotX)}" y1="${px(my)}" x2="${px(plotX + plotW)}" y2="${px(my)}" class="minor"/>`);
        }
      }
    }
    for (const tick of axis.ticks) {
      const tx = x(tick.at);
      body.push(
        `<line x1="${px(tx)}" y1="${px(plotTop)}" x2="${px(tx)}" y2="${px(plotBottom)}" class="minor"/>`,
        `<text x="${px(tx)}" y="${px(plotBottom + 15)}" text-anchor="middle" class="axis">${xml(tick.label)}</text>`,
      );
    }

    for (const line of panel.lines) {
      const color = colorOf(line.who, allWho);
      const faint = line.verified ? '' : ' stroke-opacity="0.35" fill-opacity="0.35"';
      const points = line.points.filter(([p, us]) => p > 0 && p <= 100 && Number.isFinite(us) && us > 0);
      const spread = points.filter(([p]) => p < 100);
      const max = points.find(([p]) => p >= 100);
      const where = ([p, us]: readonly [number, number]): string => `${px(xOf(p))} ${px(y(us))}`;
      const tag = `${line.who}${line.verified ? '' : ' (UNVERIFIED)'}`;
      body.push(`<g class="side" data-who="${xml(line.who)}">`);
      if (spread.length > 1) body.push(`<path d="M${spread.map(where).join('L')}" class="line" stroke="${color}"${faint}/>`);
      const lastSpread = spread[spread.length - 1];
      if (max !== undefined && lastSpread !== undefined) body.push(`<path d="M${where(lastSpread)}L${where(max)}" class="line tomax" stroke="${color}"${faint}/>`);
      for (const point of points) {
        const tip = `${tag} · ${panel.case}: ${percentileName(point[0])} ${formatMicros(point[1])} µs (median of ${line.runs} run${line.runs === 1 ? '' : 's'})`;
        body.push(`<circle cx="${px(xOf(point[0]))}" cy="${px(y(point[1]))}" r="2.5" fill="${color}"${faint}><title>${xml(tip)}</title></circle>`);
      }
      body.push('</g>');
    }
  });

  const caption = 'percentile (every further 9 one step right; max: the largest round trip, dashed)';
  return [
    ...svgOpen(WIDTH, height, 'Round-trip latency by percentile, µs, log scale', [
      '.suite{fill:#777}.frame{fill:none;stroke:#bbb;stroke-width:1}',
      '.line{fill:none;stroke-width:2;stroke-linejoin:round}.tomax{stroke-dasharray:4 3}',
    ]),
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    '<text x="10" y="22" class="title">Round-trip latency by percentile (µs, log scale; each point the median over the timed runs)</text>',
    ...legend,
    ...(panels.length === 0 ? [`<text x="${MARGIN + Y_LABELS_W}" y="${top + 20}" class="lbl">no latency distributions</text>`] : []),
    ...body,
    `<text x="${px(WIDTH / 2)}" y="${height - 8}" text-anchor="middle" class="axis">${xml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
