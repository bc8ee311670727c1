/** CommonJS fixture (test/commonjs.test.ts): the topics, shared by main.cjs and handlers.cjs. */
const { defineSchema, defineTopics } = require('wasm-dispatch');

exports.topics = defineTopics({
  tick: { schema: defineSchema({ n: 'u32' }) },
  total: { schema: defineSchema({ reset: 'bool' }), reply: defineSchema({ count: 'u32', sum: 'f64' }) },
});
