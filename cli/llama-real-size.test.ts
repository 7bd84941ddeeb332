// The Llama family at real size through the CLI: a SmolLM2-135M-shaped checkpoint in the Hub's layout (30 layers,
// 576 wide, 9/3 heads, a 49,152-row tied embedding, 269 MB of BF16, written tensor by tensor), LoRA-tuned for two
// steps by `npm run finetune`, exported as bfloat16, and chatted with by `npm run chat`: storage and memory problems
// hide at toy size. Measured here (2 cores): the fixture written in ~16 s, the run in ~23 s at a peak RSS of ~1.1 GB.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { SMOLLM2_135M, writeLlamaFixture } from '../src/engine/testing/llama-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'fts-llama-real-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tsx = (script: string, ...args: string[]) =>
  run('npx', ['tsx', script, ...args], { cwd: process.cwd(), maxBuffer: 1 << 26 });

it('a SmolLM2-135M-shaped checkpoint: tuned, exported as bfloat16 and chatted with from the CLI', async () => {
  const fx = await writeLlamaFixture(join(dir, 'smol'), 'smollm2', { seed: 1, dims: SMOLLM2_135M, keepWeights: false });
  expect(fx.config).toMatchObject({
    num_hidden_layers: 30,
    hidden_size: 576,
    vocab_size: 49152,
    num_key_value_heads: 3,
  });
  const out = join(dir, 'run');
  const { stdout } = await tsx(
    'cli/finetune.ts',
    ...['--model', fx.dir, '--data', 'public/sample-support.jsonl', '--steps', '2', '--warmup', '1', '--seq', '64'],
    ...['--batch', '1', '--lora-rank', '4', '--dtype', 'bf16', '--json', '--out', out],
  );
  const events = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = events.filter((e) => e.type === 'step').map((e) => e.loss as number);
  expect(steps).toHaveLength(2);
  expect(steps[0]).toBeGreaterThan(Math.log(49152) - 1); // random weights: ~ln(V)
  expect(events.find((e) => e.type === 'start')).toMatchObject({ trainableParams: 30 * 4 * (576 + 576 + 576 + 192) });
  // 134.5M parameters as bfloat16, the LoRA merged in
  expect(statSync(join(out, 'model.safetensors')).size).toBeGreaterThan(2 * 134_000_000);
  expect(statSync(join(out, 'model.safetensors')).size).toBeLessThan(2 * 135_000_000 + 2 ** 20);
  expect((JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { torch_dtype: string }).torch_dtype).toBe(
    'bfloat16',
  );
  const r = JSON.parse(
    (await tsx('cli/chat.ts', '--model', out, '--prompt', 'Hi', '--greedy', '--max-new-tokens', '4', '--json')).stdout,
  ) as { prompt_ids: number[]; ids: number[] };
  expect(r.prompt_ids[0]).toBe(49150); // <|im_start|> of the default system prompt
  expect(r.ids.length).toBeGreaterThan(0);
  expect(r.ids.length).toBeLessThanOrEqual(4);
}, 300_000);
