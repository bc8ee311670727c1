/**
 * Retention (journal thread): deletes a journal's oldest whole segments once they are older than
 * `maxAgeMs` (by the time their file was last written) or while the journal is larger than
 * `maxBytes` — never the newest segment, which the writer appends to. Looked at no more than once
 * a second, after a commit. A durable subscription whose position was in a deleted segment
 * resumes at the oldest record kept and counts the ones it missed as dropped (durable.ts).
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listSegments } from './directory.ts';
import { indexNameOf } from './format.ts';

const CHECK_EVERY_MS = 1000;

export class Retention {
  private nextCheck = 0;
  /** Index of the oldest record kept. */
  first: number;

  constructor(private readonly dir: string, private readonly maxAgeMs: number, private readonly maxBytes: number) {
    this.first = listSegments(dir)[0]?.firstIndex ?? 0;
  }

  /** Applies the limits if a second passed since the last look; returns the first index kept. */
  apply(now: number): number {
    if ((this.maxAgeMs === 0 && this.maxBytes === 0) || now < this.nextCheck) return this.first;
    this.nextCheck = now + CHECK_EVERY_MS;
    const segments = listSegments(this.dir).map((segment) => {
      const stat = statSync(join(this.dir, segment.name));
      return { ...segment, size: stat.size, written: stat.mtimeMs };
    });
    let total = segments.reduce((sum, segment) => sum + segment.size, 0);
    let kept = 0;
    while (kept < segments.length - 1) {
      const oldest = segments[kept]!;
      const tooOld = this.maxAgeMs > 0 && now - oldest.written > this.maxAgeMs;
      const tooBig = this.maxBytes > 0 && total > this.maxBytes;
      if (!tooOld && !tooBig) break;
      rmSync(join(this.dir, oldest.name), { force: true });
      rmSync(join(this.dir, indexNameOf(oldest.name)), { force: true });
      total -= oldest.size;
      kept++;
    }
    this.first = segments[kept]?.firstIndex ?? this.first;
    return this.first;
  }
}
