/**
 * Subjects: topic names as dot-separated tokens and NATS-style patterns over them — `*` matches
 * exactly one token, `>` (last token only) matches one or more — at run time and in the types.
 * A pattern is resolved to the declared topics it matches once, at subscribe time, so routing
 * and the hot path see ordinary topic ids.
 *
 *   'sensor.*.temp'  matches sensor.kitchen.temp, not sensor.kitchen.wall.temp
 *   'sensor.>'       matches sensor.kitchen.temp and sensor.door, not sensor
 */
import type { TopicMap, TopicName } from './types.ts';

/** Whether `subject` is a pattern (has a `*` or `>` token) rather than a topic name. */
export function isPattern(subject: string): boolean {
  const tokens = subject.split('.');
  return tokens.includes('*') || tokens.includes('>');
}

/** Why `pattern` is not a valid pattern, or null. */
export function patternProblem(pattern: string): string | null {
  const tokens = pattern.split('.');
  if (tokens.some((token) => token === '')) return 'has an empty token (two dots in a row, or a dot at an end)';
  const full = tokens.indexOf('>');
  if (full >= 0 && full !== tokens.length - 1) return "may have '>' only as its last token";
  if (tokens.some((token) => token !== '*' && token !== '>' && /[*>]/.test(token))) return "uses '*' or '>' inside a token (wildcards are whole tokens)";
  return null;
}

/** Whether topic `name` matches `pattern` (a name matches itself). */
export function subjectMatches(pattern: string, name: string): boolean {
  const p = pattern.split('.');
  const n = name.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return n.length > i;
    if (i >= n.length) return false;
    if (p[i] !== '*' && p[i] !== n[i]) return false;
  }
  return p.length === n.length;
}

/**
 * The declared topics among `names` that `subject` stands for: the topic itself, or every topic a
 * valid pattern matches; none for an undeclared name or an invalid pattern (patternProblem says why).
 */
export function topicsOf(subject: string, names: readonly string[]): string[] {
  if (!isPattern(subject)) return names.includes(subject) ? [subject] : [];
  if (patternProblem(subject) !== null) return [];
  return names.filter((name) => subjectMatches(subject, name));
}

// ── the same rules in the types ────────────────────────────────────────────────────────────────

type Tokens<S extends string> = S extends `${infer Head}.${infer Rest}` ? [Head, ...Tokens<Rest>] : [S];
type TokensMatch<P extends string[], N extends string[]> =
  P extends ['>'] ? (N extends [string, ...string[]] ? true : false)
  : P extends [infer PH extends string, ...infer PR extends string[]]
    ? N extends [infer NH extends string, ...infer NR extends string[]]
      ? PH extends '*' ? TokensMatch<PR, NR> : PH extends NH ? TokensMatch<PR, NR> : false
      : false
    : N extends [] ? true : false;

/** A subject with a wildcard token. */
export type SubjectPattern = `${string}*${string}` | `${string}>`;

/** The declared topics of T that subject S (a topic name or a pattern) stands for. */
export type TopicsMatching<T extends TopicMap, S extends string> = string extends TopicName<T>
  ? TopicName<T>
  : { [K in TopicName<T>]: TokensMatch<Tokens<S>, Tokens<K>> extends true ? K : never }[TopicName<T>];
