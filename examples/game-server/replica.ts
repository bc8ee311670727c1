/**
 * The game's engine for `npx wasm-dispatch replay <journal> --engine build/examples/game-server/replica.js`:
 * deterministic, two workers, the game's subscriptions (main.ts createGameEngine).
 */
import { createGameEngine } from './main.ts';

export default function replica() {
  return createGameEngine({ deterministic: true });
}
