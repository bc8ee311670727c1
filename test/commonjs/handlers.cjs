/**
 * CommonJS fixture: the handler module. Workers load it with import(), which gives a CommonJS
 * module's `module.exports` as its default export.
 */
const { defineHandlers } = require('wasm-dispatch');
const { topics } = require('./topics.cjs');

let count = 0;
let sum = 0;

module.exports = defineHandlers(topics, {
  tick: { topic: 'tick', handle(m) { count++; sum += m.n; } },
  total: { topic: 'total', handle() { return { count, sum }; } },
});
