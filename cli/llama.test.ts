// The Llama family through the CLI as a person runs it: `npm run finetune` on a local folder in the Hub's layout
// (a SmolLM2-like model: GQA, tied head, BF16, ChatML with a default system prompt; and a Llama-3-like one: two
// shards + index, llama3 RoPE scaling, an eos list), LoRA with --adapter --onnx; then `npm run chat` on the saved
// run and on the exported folder, the exported transformers.js package loaded by transformers.js (the same greedy
// tokens), and the PEFT adapter applied to the base (the exported merged weights).
import { Tensor } from '@huggingface/transformers';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate } from '../src/engine/data/template.js';
import { Tokenizer } from '../src/engine/data/tokenizer.js';
import { readSafetensors } from '../src/engine/hub/safetensors.js';
import { mergeLora } from '../src/engine/models/lora.js';
import { caught } from '../src/engine/testing/caught.js';
import { localTransformers } from '../src/engine/testing/llama-configs.js';
import { writeLlamaFixture, type LlamaFixture } from '../src/engine/testing/llama-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'fts-llama-cli-'));
const tsx = (script: string, ...args: string[]) =>
  run('npx', ['tsx', script, ...args], { cwd: process.cwd(), maxBuffer: 1 << 26 });
type Reply = { prompt_ids: number[]; ids: number[]; text: string };
const reply = async (...args: string[]) =>
  JSON.parse((await tsx('cli/chat.ts', ...args, '--json')).stdout.trim()) as Reply;
const PROMPT = 'Where is my order?';

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['smollm2', 'llama3'] as const)('%s-like checkpoint through the CLI', (variant) => {
  let fx: LlamaFixture;
  const out = join(dir, `${variant}-run`);
  const hf = join(dir, `${variant}-hf`);
  let events: Record<string, unknown>[] = [];

  beforeAll(async () => {
    fx = await writeLlamaFixture(join(dir, variant), variant, { seed: 3 });
    const { stdout } = await tsx(
      'cli/finetune.ts',
      ...['--model', fx.dir, '--data', 'public/sample-support.jsonl', '--steps', '6', '--warmup', '1'],
      ...['--seq', '128', '--batch', '2', '--lora-rank', '4', '--lr', '1e-2', '--adapter', '--onnx', '--json'],
      ...['--out', out],
    );
    events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    cpSync(out, hf, { recursive: true });
    rmSync(join(hf, 'run'), { recursive: true });
  }, 300_000);

  it('trains LoRA on the q_proj and v_proj modules with the loss falling', () => {
    const start = events.find((e) => e.type === 'start')!;
    const c = fx.config;
    const [q, kv] = [c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim];
    // rank 4: A (4, in) and B (out, 4) on q_proj (C -> q) and v_proj (C -> kv) of every layer
    expect(start.trainableParams).toBe(c.num_hidden_layers * 4 * (c.hidden_size + q + c.hidden_size + kv));
    const losses = events.filter((e) => e.type === 'step').map((e) => e.loss as number);
    expect(losses).toHaveLength(6);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
  });

  it("chats through the model's own template: the saved run and the exported folder agree", async () => {
    const args = ['--prompt', PROMPT, '--greedy', '--max-new-tokens', '8'];
    const fromRun = await reply('--model', out, ...args);
    const tok = new Tokenizer(fx.tokenizer, { endIds: fx.eosIds });
    const rendered = ChatTemplate.forTokenizer(tok, fx.chatTemplate).render([{ role: 'user', content: PROMPT }], true);
    if (variant === 'smollm2') expect(rendered).toContain('You are a helpful AI assistant named SmolLM');
    else expect(rendered.startsWith('<|begin_of_text|><|start_header_id|>user<|end_header_id|>')).toBe(true);
    expect(fromRun.prompt_ids).toEqual(tok.encode(rendered));
    expect(fromRun.ids.length).toBeGreaterThan(0);
    expect(await reply('--model', hf, ...args)).toEqual(fromRun);
  }, 120_000);

  it('the exported config and tokenizer keep the family, its special tokens and every end id', () => {
    const config = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.model_type).toBe('llama');
    expect(config.num_key_value_heads).toBe(fx.config.num_key_value_heads);
    const gen = JSON.parse(readFileSync(join(hf, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
    const eos = [gen.eos_token_id].flat();
    expect(new Set(eos)).toEqual(new Set(fx.eosIds));
    const tc = JSON.parse(readFileSync(join(hf, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(tc.chat_template).toBe(fx.chatTemplate);
    expect(tc.eos_token).toBe(fx.tokenizer.config.eos_token);
  });

  it('transformers.js runs the exported package: the same greedy tokens as npm run chat', async () => {
    const r = await reply('--model', hf, '--prompt', PROMPT, '--greedy', '--max-new-tokens', '8');
    const model = await (await localTransformers(dir)).model(`${variant}-hf`);
    const n = r.prompt_ids.length;
    const out = (await model.generate({
      input_ids: new Tensor('int64', BigInt64Array.from(r.prompt_ids, BigInt), [1, n]),
      attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
      max_new_tokens: 8,
      do_sample: false,
      repetition_penalty: 1,
    })) as { data: BigInt64Array };
    await model.dispose();
    const ids = Array.from(out.data, Number).slice(n);
    // transformers.js keeps the end token it stopped at; the studio's generator does not emit it
    expect(ids.filter((t) => !fx.eosIds.includes(t))).toEqual(r.ids);
  }, 120_000);

  it('the PEFT adapter (fan_in_fan_out false) applied to the base equals the exported merged weights', () => {
    const ac = JSON.parse(readFileSync(join(hf, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(ac).toMatchObject({ fan_in_fan_out: false, target_modules: ['q_proj', 'v_proj'], r: 4, lora_alpha: 8 });
    const adapter = readSafetensors(readFileSync(join(hf, 'adapter', 'adapter_model.safetensors')));
    const W = { ...fx.weights };
    for (const [k, t] of adapter) W[k.replace(/^base_model\.model\./, '')] = t.data;
    const merged = mergeLora(fx.config, { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'] }, W);
    const exported = readSafetensors(readFileSync(join(hf, 'model.safetensors')));
    let d = 0;
    for (const [k, t] of exported)
      for (let i = 0; i < t.data.length; i++) d = Math.max(d, Math.abs(t.data[i] - merged[k][i]));
    expect(d).toBeLessThan(1e-6);
    expect(exported.get('model.layers.0.self_attn.q_proj.weight')!.data).not.toEqual(
      fx.weights['model.layers.0.self_attn.q_proj.weight'],
    );
  });
});

describe('npm run export --dtype bf16', () => {
  it('writes model.safetensors in bfloat16 (said in the card), which the loader reads back as stored', async () => {
    const run = join(dir, 'smollm2-run');
    const outDir = join(dir, 'smollm2-bf16');
    await tsx('cli/export.ts', '--run', run, '--out', outDir, '--dtype', 'bf16');
    const f32 = readSafetensors(readFileSync(join(run, 'model.safetensors')));
    const bytes = readFileSync(join(outDir, 'model.safetensors'));
    expect(bytes.length).toBeLessThan(0.55 * readFileSync(join(run, 'model.safetensors')).length);
    const bf16 = readSafetensors(bytes);
    for (const [k, t] of f32) {
      const got = bf16.get(k)!.data;
      for (let i = 0; i < t.data.length; i += 97)
        expect(Math.abs(got[i] - t.data[i])).toBeLessThanOrEqual(Math.abs(t.data[i]) / 256);
    }
    expect(readFileSync(join(outDir, 'README.md'), 'utf8')).toContain('are bfloat16, rounded from the float32');
    const cfg = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg.torch_dtype).toBe('bfloat16');
    const r = await reply('--model', outDir, '--prompt', PROMPT, '--greedy', '--max-new-tokens', '4');
    expect(r.ids.length).toBeGreaterThan(0);
  }, 120_000);
});

describe('npm run finetune refuses what it cannot train', () => {
  it('an unsupported model_type, naming the supported ones', async () => {
    const fx = await writeLlamaFixture(join(dir, 'bad'), 'smollm2', { seed: 1 });
    const cfg = JSON.parse(readFileSync(join(fx.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(fx.dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'mistral' }));
    const e = await caught(tsx('cli/finetune.ts', '--model', fx.dir, '--data', 'public/sample-support.jsonl'));
    expect(String((e as { stderr?: string }).stderr)).toMatch(
      /config\.json: field "model_type" is "mistral"; supported: "gpt2", "llama", "qwen2", "qwen3"/,
    );
  }, 60_000);
});
