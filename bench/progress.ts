/**
 * What a person sees while a benchmark runs. On a terminal: one status line on stderr, redrawn in
 * place, with a bar through the current step (moves of the demo, runs of a case), what the step
 * is, and the time so far. Elsewhere (a pipe, a file, CI): no status line; a step that asks for
 * them gets a plain line at each quarter instead. Log lines go through `line()`, which lifts the
 * status line out of their way and puts it back after them.
 *
 *     [##########----------]  9/14 runs  ping-pong worker↔worker parked · postMessage  0:32
 */
import { formatCount } from './format.ts';

const BAR_WIDTH = 20;

export class Progress {
  private readonly tty: boolean;
  private readonly started = performance.now();
  private status = '';
  private quarterStep = '';
  private quarter = -1;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = stream.isTTY === true;
  }

  /** Prints a log line (stdout), keeping the status line below it. */
  line(text: string): void {
    this.clear();
    console.log(text);
    this.draw();
  }

  /**
   * `step` is at `done` of `total` `unit`. On a terminal the status line shows it; elsewhere,
   * with `quarters`, a plain line at 0, 25, 50, 75 and 100 % of each step.
   */
  update(step: string, done: number, total: number, unit: string, quarters = false): void {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    if (this.tty && done >= total) {
      this.done(); // a finished step leaves no status line behind the log lines that follow it
    } else if (this.tty) {
      const filled = Math.round(fraction * BAR_WIDTH);
      const elapsed = Math.floor((performance.now() - this.started) / 1000);
      const clock = `${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, '0')}`;
      const text = `  [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${formatCount(done)}/${formatCount(total)} ${unit}  ${step}  ${clock}`;
      const columns = this.stream.columns || 100; // 0 when the terminal reports no size
      this.status = text.length >= columns ? `${text.slice(0, columns - 2)}…` : text;
      this.clear();
      this.draw();
    } else if (quarters) {
      if (step !== this.quarterStep) {
        this.quarterStep = step;
        this.quarter = -1;
      }
      const quarter = Math.floor(fraction * 4);
      if (quarter > this.quarter) {
        this.quarter = quarter;
        console.log(`  ${step}: ${String(quarter * 25).padStart(3)}% (${formatCount(done)} of ${formatCount(total)} ${unit})`);
      }
    }
  }

  /** Removes the status line (before a summary, or when the run ends). */
  done(): void {
    this.clear();
    this.status = '';
  }

  private clear(): void {
    if (this.tty && this.status !== '') this.stream.write('\r\x1b[K');
  }

  private draw(): void {
    if (this.tty && this.status !== '') this.stream.write(this.status);
  }
}
