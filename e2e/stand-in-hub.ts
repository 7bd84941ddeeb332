// Serves a small GPT-2 the tests make themselves, as the Hub would (same URL layout, Range, ETags), for the
// browser tests: `npx tsx e2e/stand-in-hub.ts` on 127.0.0.1:4174. Slowed so that progress is visible.
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { hubCheckpoint } from '../src/engine/testing/checkpoint.js';
import { startStandInHub } from '../src/engine/testing/hub-server.js';

const cfg = { vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
const files = Object.fromEntries(Object.entries(hubCheckpoint(cfg, gpt2TokenizerFromPackage().files)).map(([f, b]) => [`acme/small-gpt2@main/${f}`, b]));
const hub = await startStandInHub({ files, cors: true, control: true, slowMs: 15 }, 4174);
console.log(`stand-in Hub at ${hub.url}`);
