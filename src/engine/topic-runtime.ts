/**
 * Topic runtime: each topic as one thread sees it — its schemas, its staging record and writer,
 * its reader, its key kind for the core's hash, and the generated assigner that copies a message
 * object into a writer — and the lookup of topics by name.
 */
import { KEY_BYTES, KEY_NONE, KEY_PREFIXED_BYTES, KEY_U32, KEY_U8 } from '../../assembly/layout/dispatch.ts';
import { ConfigError } from '../errors.ts';
import type { AnySchema } from '../schema.ts';
import { PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NAMES, PRIORITY_NORMAL, RECORD_HEADER_BYTES, RECORD_TOPIC_OFFSET } from './layout.ts';
import type { TopicMap } from './types.ts';

/** Sets every field of a writer from a message object (each setter validates its value). */
export type Assigner = (writer: Record<string, unknown>, message: Record<string, unknown>) => void;

/** A topic's reader flyweight, as the consumer uses it. */
export interface TopicReaderFlyweight {
  at(address: number): unknown;
}

export interface TopicRuntime {
  readonly id: number;
  readonly name: string;
  readonly schema: AnySchema;
  readonly reply: AnySchema | undefined;
  /** Field names in declaration order (publish(fields) sets them in this order). */
  readonly fieldNames: readonly string[];
  /** Address of this thread's staging record of the topic. */
  readonly staging: number;
  /** Bytes its records use (EngineShape.topicRecordBytes): publishBatch's staging stride, what a push copies. */
  readonly recordBytes: number;
  /** Its messages go through the fan-out pool when routed to two or more receivers (EngineShape.topicPooled). */
  readonly pooled: boolean;
  /** Bytes of its message (the schema's size): what a pooled message copies into its slot. */
  readonly messageBytes: number;
  /** Writer flyweight over the staging record's message. */
  readonly writer: Record<string, unknown>;
  readonly assign: Assigner;
  /**
   * Reader flyweight, re-pointed at each record handled. An async handler keeps the one it was
   * given until its promise settles: the topic takes a spare (or a new one) meanwhile.
   */
  reader: TopicReaderFlyweight;
  /** Readers given back by settled async deliveries. */
  readonly spareReaders: TopicReaderFlyweight[];
  /** Writer flyweight re-pointed at each record of a batch being staged (publishBatch). */
  readonly batchWriter: { at(address: number): Record<string, unknown> };
  /** KEY_* kind of the key field for the core's keyHash (KEY_NONE: not keyed). */
  readonly keyKind: number;
  /** Byte offset of the key field in the message. */
  readonly keyOffset: number;
  /** Bytes hashed for KEY_BYTES. */
  readonly keyLength: number;
  /** Default priority class of its messages (PRIORITY_*). */
  readonly priority: number;
  /** Deterministic mode: a publish may not name a class other than 'normal' (priorityOf). */
  readonly oneClass: boolean;
}

/** The topics of one thread, by id (declaration order) and by name. */
export class TopicSet {
  readonly byId: readonly TopicRuntime[];
  private readonly byName = new Map<string, TopicRuntime>();
  private lastName: string | undefined;
  private lastTopic: TopicRuntime | undefined;

  /**
   * Builds every topic of `names` over `memory`, topic `id`'s staging record at
   * `stagingBase + id × recordSize` (its header's TOPIC written once here) and using
   * `recordBytes[id]` bytes of it (EngineShape.topicRecordBytes); `pooled[id]`: EngineShape.topicPooled.
   */
  constructor(
    memory: WebAssembly.Memory, topicMap: TopicMap, readonly names: readonly string[], stagingBase: number, recordSize: number,
    recordBytes: readonly number[], deterministic = false, pooled: readonly number[] = [],
  ) {
    const u16 = new Uint16Array(memory.buffer);
    this.byId = names.map((name, id) => {
      const spec = topicMap[name]!;
      const staging = stagingBase + id * recordSize;
      u16[(staging + RECORD_TOPIC_OFFSET) >> 1] = id;
      const schema = spec.schema as AnySchema;
      const key = spec.key === undefined ? undefined : schema.fields.find((f) => f.name === spec.key);
      const fieldNames = Object.keys(schema.spec);
      const keyKind = key === undefined ? KEY_NONE : keyKindOf(key.type);
      return {
        id, name, schema, reply: spec.reply as AnySchema | undefined,
        fieldNames, assign: compileAssign(fieldNames), staging,
        recordBytes: recordBytes[id]!,
        pooled: pooled[id] === 1, messageBytes: schema.size,
        writer: schema.writer(memory).at(staging + RECORD_HEADER_BYTES) as unknown as Record<string, unknown>,
        reader: schema.reader(memory) as TopicReaderFlyweight,
        spareReaders: [],
        batchWriter: schema.writer(memory) as unknown as { at(address: number): Record<string, unknown> },
        keyKind, keyOffset: key?.offset ?? 0, keyLength: keyKind === KEY_BYTES ? key!.size : 0,
        priority: spec.priority === undefined ? PRIORITY_NORMAL : PRIORITY_NAMES.indexOf(spec.priority),
        oneClass: deterministic,
      };
    });
    for (const topic of this.byId) this.byName.set(topic.name, topic);
  }

  /** The topic named `name`, or a ConfigError naming it. */
  get(name: string): TopicRuntime {
    // Publishers usually repeat one topic: a string compare (pointer-equal for the same literal)
    // is cheaper than a Map lookup per message.
    if (name === this.lastName) return this.lastTopic!;
    const topic = this.byName.get(name);
    if (topic === undefined) throw new ConfigError('topic', name, `is not a declared topic (${this.names.join(', ')})`);
    this.lastName = name;
    this.lastTopic = topic;
    return topic;
  }
}

/**
 * The class of a publish's `priority` argument: the topic's own when undefined; a ConfigError
 * naming the value otherwise (three string compares: no allocation on the hot path).
 */
export function priorityOf(topic: TopicRuntime, priority: string | undefined): number {
  if (priority === undefined) return topic.priority;
  if (topic.oneClass && priority !== 'normal') throw new ConfigError('priority', priority, "deterministic mode has one class, 'normal' (the order across classes depends on timing)");
  if (priority === 'high') return PRIORITY_HIGH;
  if (priority === 'normal') return PRIORITY_NORMAL;
  if (priority === 'low') return PRIORITY_LOW;
  throw new ConfigError('priority', priority, "must be 'high', 'normal' or 'low' (or left out: the topic's)");
}

/** How the core hashes a key field of this type (assembly/layout/dispatch.ts, KEY_*). */
function keyKindOf(type: string): number {
  switch (type) {
    case 'u32': case 'i32': return KEY_U32;
    case 'u8': case 'bool': return KEY_U8;
    case 'string': return KEY_PREFIXED_BYTES;
    default: return KEY_BYTES; // f32, f64, i64, bytes: their bytes
  }
}

/**
 * `(w, m) => { if (m has other than N keys) refuse(m); w.a = m.a; w.b = m.b; ... }` for these
 * field names. Generated code gives every property access its own monomorphic site: ~4× faster
 * than a loop of keyed accesses, which go megamorphic. Field names are validated identifiers
 * (schema.ts), so the source is safe to build. Where eval is forbidden (a Content-Security-Policy
 * without 'unsafe-eval'), the loop is used.
 *
 * A message has the schema's fields and no other own property, as the schema's encode() requires:
 * counting its keys (for-in over the enum cache: no allocation, a few ns) catches an extra one —
 * `{ ...move, plyer: 1 }` would otherwise publish the old player silently — which refuseExtra
 * names in a ConfigError; a missing one is named by its setter (`field=undefined`).
 */
export function compileAssign(names: readonly string[]): Assigner {
  const known = new Set(names);
  // The count above is a fast filter (for-in also counts inherited enumerable properties, e.g. a
  // reader's accessors); the rule is encode's: an own key that is not a field.
  const refuseExtra = (message: Record<string, unknown>): void => {
    for (const key of Object.keys(message)) if (!known.has(key)) throw new ConfigError(key, message[key], `is not a field of this topic's schema (${names.join(', ')})`);
  };
  try {
    const body = names.map((name) => `w.${name} = m.${name};`).join('\n');
    const make = new Function('refuseExtra', `return function assign(w, m) {\nlet n = 0;\nfor (const k in m) n++;\nif (n !== ${names.length}) refuseExtra(m);\n${body}\n};`);
    return make(refuseExtra) as Assigner;
  } catch {
    return (writer, message) => {
      let n = 0;
      for (const _ in message) n++;
      if (n !== names.length) refuseExtra(message);
      for (let i = 0; i < names.length; i++) writer[names[i]!] = message[names[i]!];
    };
  }
}
