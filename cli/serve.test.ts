// npm run serve as a person runs it: a Hugging Face folder of the Llama family (SmolLM2's layout and ChatML
// template) served to the openai client, whose greedy reply is the chat CLI's for the same messages; a refusal to
// listen beyond loopback without a key; and SIGTERM during a stream, which ends it with an error event and exits.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../src/engine/testing/caught.js';
import { writeLlamaFixture } from '../src/engine/testing/llama-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'fts-serve-'));
const folder = join(dir, 'tiny-smollm2');
const children: ChildProcess[] = [];

/** Starts the server on a free port; resolves with its URL once it prints it. */
function start(...args: string[]): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  // node with tsx's loader, as npm run serve starts it: one process, so SIGTERM reaches the server itself
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/serve.ts', '--port', '0', ...args], {
    cwd: process.cwd(),
  });
  children.push(child);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)\/v1/.exec(out);
      if (m) resolve({ url: m[1], child, stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

beforeAll(async () => {
  await writeLlamaFixture(folder, 'smollm2');
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('npm run serve', () => {
  it("serves a Llama-family folder through its chat template: the openai client's greedy reply is the chat CLI's", async () => {
    const { url } = await start('--model', folder);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
    expect((await client.models.list()).data[0].id).toBe('tiny-smollm2');
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Where is my order?' },
    ];
    const r = await client.chat.completions.create({ model: 'tiny-smollm2', messages, max_tokens: 10, temperature: 0 });
    const cli = await run('npx', [
      'tsx',
      'cli/chat.ts',
      ...['--model', folder, '--prompt', 'Where is my order?', '--system', 'Be brief.'],
      ...['--greedy', '--max-new-tokens', '10', '--json'],
    ]);
    const chat = JSON.parse(cli.stdout.trim()) as { text: string; prompt_ids: number[] };
    expect(r.choices[0].message.content).toBe(chat.text);
    expect(r.usage!.prompt_tokens).toBe(chat.prompt_ids.length);
  }, 120_000);

  it('refuses to listen beyond loopback without an API key', async () => {
    const e = await caught(run('npx', ['tsx', 'cli/serve.ts', '--model', 'tiny', '--host', '0.0.0.0']));
    expect((e as { code?: number }).code).toBe(2);
    expect((e as { stderr?: string }).stderr).toContain('set an API key');
  }, 60_000);

  it('ends a stream in flight with an error event on SIGTERM, and exits', async () => {
    const { url, child } = await start('--model', 'tiny');
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({
        model: 'tiny',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 250,
        stream: true,
      }),
    });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('"content":" ') && !text.includes('"delta":{"content"'))
      text += new TextDecoder().decode((await reader.read()).value);
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    child.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('"code":"shutting_down"');
    expect(text).not.toContain('[DONE]');
    expect(await exited).toBe(0);
  }, 60_000);
});
