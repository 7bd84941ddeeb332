// Measures one training step's device memory in a fresh process (the WASM heap never shrinks, so each shape
// needs its own): `tsx src/engine/testing/measure-step.ts <tiny|gpt2|gpt2-medium|llama-tiny|smollm2> <batch> <seq>
// <loraRank> [wasm|node-cpu]`
// prints {"peakBytes", "estimateBytes"} for the studio's LoRA targets and the estimate the studio shows.
import type { ModelConfig } from '../models/config.js';
import { initLora, initModel, TINY_GPT2 } from '../models/init.js';
import { GPT2_124M } from '../models/gpt2.js';
import { parseLlamaConfig } from '../models/llama-config.js';
import { estimateMemory } from '../models/memory.js';
import { createNodeBackend, createNodeWasmBackend } from '../runtime/node.js';
import { DEFAULT_TRAIN, Trainer } from '../train/trainer.js';
import { loraOfRank } from '../models/lora.js';

const smollm2 = {
  model_type: 'llama',
  hidden_size: 576,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  intermediate_size: 1536,
  vocab_size: 49152,
  tie_word_embeddings: true,
};
const SHAPES: Record<string, ModelConfig> = {
  tiny: TINY_GPT2,
  gpt2: GPT2_124M,
  'gpt2-medium': { ...GPT2_124M, n_embd: 1024, n_layer: 24, n_head: 16 },
  // the Llama family: SmolLM2-135M's shape, and a small one of the same make (4 layers, 128 wide)
  smollm2: parseLlamaConfig(smollm2),
  'llama-tiny': parseLlamaConfig({
    ...smollm2,
    hidden_size: 128,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 384,
  }),
};

const [shape, batch, seq, rank, backendName = 'wasm'] = process.argv.slice(2);
const c = SHAPES[shape];
const [B, T] = [Number(batch), Number(seq)];
const lora = loraOfRank(c, Number(rank));
const backend = backendName === 'wasm' ? await createNodeWasmBackend() : await createNodeBackend('node-cpu');
const rows = Array.from({ length: 4 }, (_, k) => ({
  tokens: Int32Array.from({ length: T + 1 }, (_, i) => (i * 7 + k * 13) % 50000),
  mask: new Uint8Array(T + 1).fill(1),
}));
const t = new Trainer({
  backend,
  model: { config: c, lora },
  weights: { ...initModel(c, 1), ...(lora ? initLora(c, lora, 1) : {}) },
  train: rows,
  padId: 50256,
  config: { ...DEFAULT_TRAIN, steps: 1, batch: B, seq: T, evalEvery: 0, sampleEvery: 0, checkpointEvery: 0 },
});
let peakBytes = 0;
for await (const e of t.run()) {
  if (e.type === 'step') peakBytes = e.deviceMemory!.peakBytes;
  if (e.type === 'error') throw new Error(e.message);
  if (e.type === 'checkpoint') break; // the final one: not needed
}
console.log(
  JSON.stringify({
    shape,
    batch: B,
    seq: T,
    rank: Number(rank),
    backend: backend.name,
    peakBytes,
    estimateBytes: estimateMemory(c, B, T, lora).trainingBytes,
  }),
);
process.exit(0);
