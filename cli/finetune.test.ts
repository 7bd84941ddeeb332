// The finetune CLI as a person runs it: a chat JSONL in, progress out, a Hugging Face folder written that loads
// back; a bad file ends it with a non-zero exit and `file:line` first.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/engine/hub/safetensors.js';
import { gpt2WeightsFromTensors, parseGpt2Config } from '../src/engine/models/hf.js';
import { caught } from '../src/engine/testing/caught.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'fts-cli-'));
const cli = (...args: string[]) =>
  run('npx', ['tsx', 'cli/finetune.ts', ...args], { cwd: process.cwd(), maxBuffer: 1 << 24 });
/** A line of --json output. */
type CliEvent = { type: string } & Record<string, unknown>;
const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as CliEvent);

const pairs = [
  ['Hi there', 'Hello! How can I help?'],
  ['Bye', 'Goodbye, have a nice day.'],
  ['Thanks', 'You are welcome.'],
];
writeFileSync(
  join(dir, 'chat.jsonl'),
  Array.from({ length: 12 }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: pairs[i % 3][0] },
        { role: 'assistant', content: pairs[i % 3][1] },
      ],
    }),
  ).join('\n'),
);
writeFileSync(
  join(dir, 'bad.jsonl'),
  '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n{"messages": [{"role": "user", "content": 3}]}\n',
);

describe('npm run finetune', () => {
  it('trains, prints JSON events and a sample, and writes a Hugging Face folder that loads back', async () => {
    const out = join(dir, 'out');
    const { stdout } = await cli(
      '--data',
      join(dir, 'chat.jsonl'),
      '--steps',
      '12',
      '--seq',
      '32',
      '--batch',
      '2',
      '--out',
      out,
      '--json',
    );
    const all = events(stdout);
    const losses = all.filter((e) => e.type === 'step').map((e) => e.loss as number);
    expect(losses.length).toBe(12);
    expect(losses.at(-1)).toBeLessThan(losses[0]);
    expect(all.find((e) => e.type === 'sample')?.prompt).toContain('User:');
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.json',
      'merges.txt',
      'generation_config.json',
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const config = parseGpt2Config(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')));
    const W = gpt2WeightsFromTensors(
      config,
      readSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors')))),
    );
    expect(W['transformer.wte.weight'].length).toBe(50257 * config.n_embd);
    const tokConfig = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as { chat_template: string };
    expect(tokConfig.chat_template).toContain('Assistant:');
  });

  it('ends with exit 1 and file:line: field: reason on a bad file', async () => {
    const err = await caught(cli('--data', join(dir, 'bad.jsonl')));
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(`${join(dir, 'bad.jsonl')}:2: messages[0].content: expected a string, got number`);
  });

  it('takes every format through the same code: a ShareGPT JSON file in Chinese', async () => {
    const { stdout } = await cli(
      '--data',
      'public/sample-support-zh.json',
      '--steps',
      '2',
      '--seq',
      '128',
      '--batch',
      '2',
      '--out',
      join(dir, 'zh'),
      '--json',
    );
    expect(events(stdout)[0]).toMatchObject({ type: 'data', kind: 'chat', records: 40 });
  });

  it('says to raise --seq when no conversation keeps a trained token in the window', async () => {
    const err = await caught(cli('--data', 'public/sample-support-zh.json', '--seq', '48'));
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(
      'public/sample-support-zh.json:1: no conversation keeps a trained token within 48 tokens (40 were shortened to fit); raise the sequence length',
    );
  });

  it('refuses a file that is not UTF-8, by line', async () => {
    writeFileSync(
      join(dir, 'latin1.jsonl'),
      Buffer.concat([Buffer.from('{"text": "ok"}\n{"text": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]),
    );
    const err = await caught(cli('--data', join(dir, 'latin1.jsonl')));
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(`${join(dir, 'latin1.jsonl')}:2: is not valid UTF-8`);
  });

  it('takes a Hub repo id through the same code, downloading once into the cache', async () => {
    const { startStandInHub } = await import('../src/engine/testing/hub-server.js');
    const { hubCheckpoint } = await import('../src/engine/testing/checkpoint.js');
    const { gpt2TokenizerFromPackage } = await import('../src/engine/data/tokenizer.node.js');
    const cfg = { vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
    const files = Object.fromEntries(
      Object.entries(hubCheckpoint(cfg, gpt2TokenizerFromPackage().files)).map(([f, b]) => [
        `acme/small-gpt2@v1/${f}`,
        b,
      ]),
    );
    const hub = await startStandInHub({ files });
    const env = { ...process.env, HF_ENDPOINT: hub.url, FTS_CACHE: join(dir, 'hub-cache') };
    const args = [
      'tsx',
      'cli/finetune.ts',
      '--data',
      join(dir, 'chat.jsonl'),
      '--model',
      'acme/small-gpt2',
      '--revision',
      'v1',
      '--steps',
      '2',
      '--seq',
      '32',
      '--batch',
      '2',
      '--out',
      join(dir, 'hubout'),
      '--json',
    ];
    const first = await run('npx', args, { env, maxBuffer: 1 << 24 });
    const downloads = events(first.stdout).filter((e) => e.type === 'download');
    expect(downloads.find((d) => d.file === 'model.safetensors')).toMatchObject({ fromCache: false });
    const requests = hub.requests.length;
    const second = await run('npx', args, { env, maxBuffer: 1 << 24 });
    expect(second.stdout).toContain('"fromCache":true');
    expect(hub.requests.length).toBe(requests); // the second run made no request
    expect(parseGpt2Config(JSON.parse(readFileSync(join(dir, 'hubout', 'config.json'), 'utf8'))).n_embd).toBe(32);
    await hub.close();
  });

  it('ends with exit 2 and the usage on a bad flag value', async () => {
    const err = await caught(cli('--data', join(dir, 'chat.jsonl'), '--steps', 'many'));
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('--steps must be a positive whole number, got "many"');
  });

  it('writes every export with its flag, and npm run export makes the same files again from the saved run', async () => {
    const out = join(dir, 'lora');
    await cli(
      '--data',
      join(dir, 'chat.jsonl'),
      '--steps',
      '4',
      '--seq',
      '32',
      '--batch',
      '2',
      '--lora-rank',
      '2',
      '--out',
      out,
      '--adapter',
      '--onnx',
      '--chat-page',
      '--recipe',
      '--json',
    );
    for (const f of [
      'model.safetensors',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'adapter/adapter_config.json',
      'adapter/adapter_model.safetensors',
      'run/run.json',
      'run/lora.safetensors',
      'README.md',
      'loss.svg',
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    for (const f of [
      'index.html',
      'chat.js',
      'chat-config.json',
      'model/onnx/model.onnx',
      'vendor/transformers.min.js',
      'vendor/ort-wasm-simd-threaded.asyncify.wasm',
    ])
      expect(existsSync(join(`${out}-chat`, f)), f).toBe(true);
    for (const f of ['train.py', 'run.json', 'accelerate_config.yaml', 'data/train.jsonl', 'README.md'])
      expect(existsSync(join(`${out}-recipe`, f)), f).toBe(true);
    const again = join(dir, 'again');
    await run('npx', ['tsx', 'cli/export.ts', '--run', out, '--out', again, '--adapter', '--onnx', '--recipe'], {
      maxBuffer: 1 << 24,
    });
    for (const f of [
      'model.safetensors',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'adapter/adapter_model.safetensors',
      'config.json',
      'tokenizer_config.json',
      'README.md',
    ]) {
      expect(readFileSync(join(again, f)).equals(readFileSync(join(out, f))), f).toBe(true);
    }
    for (const f of ['train.py', 'run.json', 'README.md', 'data/train.jsonl'])
      expect(readFileSync(join(`${again}-recipe`, f), 'utf8'), f).toBe(readFileSync(join(`${out}-recipe`, f), 'utf8'));
  });

  it('refuses --adapter for a full fine-tune, before training', async () => {
    const err = await caught(cli('--data', join(dir, 'chat.jsonl'), '--adapter'));
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('--adapter needs a LoRA run');
  });
});
