/**
 * What the journal tests write, derived from the record index alone, so any record read back can
 * be checked without keeping what was written: its payload (length and bytes), topic and thread.
 * Shared by the suites and by the crash test's child process (crash-writer.ts).
 */
export { random } from '../../examples/random.ts';

export const TOPICS = [
  { name: 'order', spec: { id: 'u32', amount: 'f64' }, size: 16 },
  { name: 'fill', spec: { id: 'u32' }, size: 4 },
  { name: 'blob', spec: null, size: 0 },
] as const;

/** Payload length of record `index`: mostly short (the CRC's table loop), every fifth long (zlib's CRC, Buffer copy). */
export function payloadLength(index: number): number {
  return ((index * 37) % 97) + (index % 5 === 0 ? 160 : 0);
}

export const MAX_TEST_PAYLOAD = 96 + 160;

/** Writes record `index`'s payload into `into` from 0; returns its length. */
export function fillPayload(index: number, into: Uint8Array): number {
  const length = payloadLength(index);
  for (let i = 0; i < length; i++) into[i] = (index * 31 + i * 7 + (index >>> 8)) & 0xff;
  return length;
}

/** null if `payload` is record `index`'s, else what is wrong. */
export function checkPayload(index: number, payload: Uint8Array): string | null {
  const length = payloadLength(index);
  if (payload.length !== length) return `record ${index}: payload length ${payload.length}, expected ${length}`;
  for (let i = 0; i < length; i++) {
    if (payload[i] !== ((index * 31 + i * 7 + (index >>> 8)) & 0xff)) return `record ${index}: payload byte ${i} differs`;
  }
  return null;
}

export function topicOf(index: number): number {
  return index % TOPICS.length;
}

export function threadOf(index: number, threads: number): number {
  return (index * 7 + (index >>> 3)) % threads;
}
