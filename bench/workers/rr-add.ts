/**
 * Task module of the request/response benchmark's pool baselines (Piscina and tinypool both load
 * the compiled build/bench/workers/rr-add.js): the same trivial task as the engine's `add`
 * handler, (a + b) mod 2^32, synchronous, so neither pool pays for an extra promise per task.
 */
export interface AddTask { a: number; b: number }

export default function add(task: AddTask): number {
  return (task.a + task.b) >>> 0;
}
