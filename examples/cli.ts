/**
 * The examples' command lines: `main.js [wasm|js] [--name=N …]`, whole-number options only, and
 * the "run when executed, not when imported" check. A bad argument throws an Error naming it.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Parses `argv` (without node and the script): the backend and every given option of `names`. */
export function parseExampleArgs<N extends string>(argv: readonly string[], names: readonly N[]): { backend: 'wasm' | 'js' } & Partial<Record<N, number>> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
  });
  if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== 'wasm' && positionals[0] !== 'js')) {
    throw new Error(`unexpected argument ${positionals.join(' ')}: the backend is wasm or js`);
  }
  const numbers: Partial<Record<N, number>> = {};
  for (const name of names) {
    const text = values[name] as string | undefined;
    if (text === undefined) continue;
    if (!/^\d+$/.test(text)) throw new Error(`--${name}=${text}: must be a whole number`);
    numbers[name] = Number(text);
  }
  return { backend: (positionals[0] ?? 'wasm') as 'wasm' | 'js', ...numbers };
}

/**
 * When the module at `moduleUrl` is the script node was started with: runs `main` on the parsed
 * command line (usage and exit code 2 on a bad one), and sets the exit code from its `ok`.
 */
export async function runIfMain<O>(moduleUrl: string, usage: string, parse: (argv: readonly string[]) => O, main: (options: O) => Promise<{ ok: boolean }>): Promise<void> {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  let options: O;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  const summary = await main(options);
  process.exitCode = summary.ok ? 0 : 1;
}
