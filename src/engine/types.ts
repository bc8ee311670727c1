/**
 * The engine's public types, by domain: topics (topic-types.ts), handler modules
 * (handler-types.ts), createEngine's options (option-types.ts), subscriptions and requests
 * (subscription-types.ts), stats and latency reports (stats-types.ts). This file re-exports them
 * all, with defineTopics and defineHandlers: import from here.
 *
 * A topic is a name with a message schema (and, for request/response, a reply schema). Topics are
 * declared once, in a module that both the code creating the engine and the handler module import,
 * so both sides share one typed declaration:
 *
 *   // topics.ts
 *   export const topics = defineTopics({
 *     moves: { schema: defineSchema({ player: 'u32', x: 'f32', y: 'f32' }), key: 'player' },
 *     where: { schema: defineSchema({ player: 'u32' }), reply: defineSchema({ x: 'f32', y: 'f32' }) },
 *   });
 *   // handlers.ts (imported by every worker)
 *   export default defineHandlers(topics, {
 *     move: { topic: 'moves', handle(move, ctx) { ... } },
 *     where: { topic: 'where', handle(query) { return { x: 1, y: 2 }; } },
 *   });
 */
export * from './topic-types.ts';
export * from './handler-types.ts';
export * from './option-types.ts';
export * from './subscription-types.ts';
export * from './stats-types.ts';
