/**
 * Durable positions on disk (Node): one small JSON file per durable name in the journal's
 * `durable/` directory, `{ "topic": "order", "position": 4711 }` — the first journal index that
 * name has not had handled. Written to a temporary file and renamed over the old one, so a process
 * killed mid-save leaves the old position or the new one, never a torn file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DurablePositions } from '../engine/durables.ts';
import { journalPath } from './directory.ts';

export const DURABLE_DIR = 'durable';

/** The positions kept in journal directory `dir` (a path, or a file: URL's href). */
export function durablePositions(dir: string): DurablePositions {
  const root = join(journalPath(dir), DURABLE_DIR);
  const file = (name: string): string => join(root, `${name}.json`);
  return {
    load(name) {
      let text: string;
      try {
        text = readFileSync(file(name), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      const saved = JSON.parse(text) as { topic?: unknown; position?: unknown };
      if (typeof saved.topic !== 'string' || typeof saved.position !== 'number' || !Number.isInteger(saved.position) || saved.position < 0) {
        throw new Error(`${file(name)}: not a durable position ({ topic, position })`);
      }
      return { topic: saved.topic, position: saved.position };
    },
    save(name, topic, position) {
      mkdirSync(root, { recursive: true });
      const temporary = `${file(name)}.tmp`;
      writeFileSync(temporary, JSON.stringify({ topic, position }));
      renameSync(temporary, file(name));
    },
  };
}
