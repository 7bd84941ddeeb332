// The OpenAI-compatible server through the official openai client: models, chat, streaming equal to a whole reply,
// logprobs, completions, every error in OpenAI's shape and status, an aborted stream that frees its slot (the
// server then gives the same greedy reply), and a bounded load (64 requests, 16 at a time) in which each reply is
// the one that request gets alone. Then the GPT-2 124M shape: concurrent greedy replies equal to each alone.
import OpenAI from 'openai';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelSpec } from '../engine/artifacts/model.js';
import { DEFAULT_CHAT_TEMPLATE } from '../engine/data/template.js';
import { gpt2TokenizerFromPackage } from '../engine/data/tokenizer.node.js';
import { BatchDecoder } from '../engine/generate/batch.js';
import { DEFAULT_SAMPLING } from '../engine/generate/sampling.js';
import { GPT2_124M, type GPT2Config } from '../engine/models/gpt2.js';
import { initGpt2, TINY_GPT2 } from '../engine/models/init.js';
import { createNodeBackend } from '../engine/runtime/node.js';
import { createApiServer, type ApiServer } from './server.js';

async function serve(
  config: GPT2Config,
  o: { apiKey?: string; maxBatch?: number; maxQueue?: number; context?: number; cors?: string } = {},
) {
  const backend = await createNodeBackend('node-cpu');
  const spec: ModelSpec = { config };
  const tok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
  const decoder = new BatchDecoder(backend, spec, initGpt2(config, 1), tok, {
    maxBatch: o.maxBatch ?? 8,
    context: o.context ?? 256,
  });
  const api = createApiServer({
    model: { id: 'tiny', tok, template: DEFAULT_CHAT_TEMPLATE, sampling: DEFAULT_SAMPLING },
    decoder,
    apiKey: o.apiKey,
    cors: o.cors,
    maxQueue: o.maxQueue ?? 64,
  });
  await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: o.apiKey ?? 'none', maxRetries: 0 });
  return { api, url, client, decoder };
}

/** The error a call fails with, as the client reports it. */
async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  throw new Error('the call succeeded');
}

const user = (content: string) => [{ role: 'user' as const, content }];

describe('the OpenAI-compatible server (tiny GPT-2)', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    s = await serve(TINY_GPT2);
  });
  afterAll(() => s.api.shutdown());
  const greedy = (content: string, max_tokens = 12) =>
    s.client.chat.completions.create({ model: 'tiny', messages: user(content), max_tokens, temperature: 0 });

  it('lists its model and answers health', async () => {
    const list = await s.client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['tiny']);
    expect((await s.client.models.retrieve('tiny')).object).toBe('model');
    const h = (await (await fetch(`${s.url}/health`)).json()) as { status: string };
    expect(h.status).toBe('ok');
  });

  it('replies to a chat, streams the same reply, and counts usage', async () => {
    const whole = await greedy('Hello there');
    const c = whole.choices[0];
    expect(c.message.role).toBe('assistant');
    expect(c.message.content!.length).toBeGreaterThan(0);
    expect(c.finish_reason).toBe('length');
    expect(whole.usage).toMatchObject({ completion_tokens: 12 });
    expect(whole.usage!.total_tokens).toBe(whole.usage!.prompt_tokens + 12);
    const stream = await s.client.chat.completions.create({
      model: 'tiny',
      messages: user('Hello there'),
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const ch of chunk.choices) {
        text += ch.delta.content ?? '';
        finish = ch.finish_reason ?? finish;
      }
    }
    expect(text).toBe(c.message.content);
    expect(finish).toBe('length');
    expect(usage).toEqual(whole.usage);
    // sampling with a seed is reproducible too
    const seeded = () =>
      s.client.chat.completions.create({ model: 'tiny', messages: user('Hi'), max_tokens: 8, temperature: 1, seed: 7 });
    expect((await seeded()).choices[0].message.content).toBe((await seeded()).choices[0].message.content);
  });

  it('stops at a stop string and reports logprobs', async () => {
    const first = (await greedy('Count', 6)).choices[0].message.content!;
    const word = first.trim().split(' ')[1] ?? first.trim().slice(2, 4);
    const r = await s.client.chat.completions.create({
      model: 'tiny',
      messages: user('Count'),
      max_tokens: 6,
      temperature: 0,
      stop: [word],
      logprobs: true,
      top_logprobs: 3,
    });
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.choices[0].message.content).toBe(first.slice(0, first.indexOf(word)));
    const lp = r.choices[0].logprobs!.content!;
    expect(lp.length).toBeGreaterThan(0);
    for (const t of lp) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top_logprobs).toHaveLength(3);
      // greedy: the chosen token is the most likely one
      expect(t.top_logprobs[0].token).toBe(t.token);
      expect(t.top_logprobs[0].logprob).toBeCloseTo(t.logprob, 6);
    }
  });

  it('completes a prompt, whole and streamed', async () => {
    const r = await s.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon',
      max_tokens: 5,
      temperature: 0,
      logprobs: 2,
    });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0].logprobs!.tokens).toHaveLength(5);
    expect(r.usage!.completion_tokens).toBe(5);
    const stream = await s.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon',
      max_tokens: 5,
      temperature: 0,
      stream: true,
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe(r.choices[0].text);
  });

  it('refuses bad requests in OpenAI shape, naming the field', async () => {
    const bad = async (body: Record<string, unknown>) => apiError(s.client.chat.completions.create(body as never));
    const base = { model: 'tiny', messages: user('x') };
    for (const [body, param, text] of [
      [{ ...base, temperature: 2.5 }, 'temperature', 'a number from 0 to 2'],
      [{ ...base, max_tokens: 0 }, 'max_tokens', 'a whole number >= 1'],
      [{ ...base, messages: [{ role: 'wizard', content: 'x' }] }, 'messages.0.role', 'one of system'],
      [{ ...base, messages: 'hello' }, 'messages', 'a list of messages'],
      [{ ...base, n: 2 }, 'n', '1 (one choice'],
      [{ ...base, top_logprobs: 21, logprobs: true }, 'top_logprobs', 'from 0 to 20'],
      [{ messages: user('x') }, 'model', 'is required'],
    ] as const) {
      const e = await bad(body);
      expect(e.status).toBe(400);
      expect(e.type).toBe('invalid_request_error');
      expect(e.param).toBe(param);
      expect(e.message).toContain(text);
    }
    const long = await bad({ ...base, messages: user('word '.repeat(300)), max_tokens: 64 });
    expect(long.code).toBe('context_length_exceeded');
    expect(long.message).toMatch(
      /this model's context is 256 tokens; the messages are \d{3} and max_tokens asks for 64 more$/,
    );
    const unknown = await bad({ ...base, model: 'gpt-4o' });
    expect([unknown.status, unknown.code, unknown.param]).toEqual([404, 'model_not_found', 'model']);
    const raw = async (path: string, init: RequestInit) => {
      const res = await fetch(`${s.url}${path}`, init);
      return { status: res.status, body: (await res.json()) as { error: { message: string; code: string | null } } };
    };
    const notJson = await raw('/v1/chat/completions', { method: 'POST', body: '{"model": ' });
    expect([notJson.status, notJson.body.error.message]).toEqual([400, expect.stringContaining('not valid JSON')]);
    expect((await raw('/v1/embeddings', { method: 'POST', body: '{}' })).status).toBe(404);
    const big = await raw('/v1/chat/completions', { method: 'POST', body: 'x'.repeat(4 * 2 ** 20 + 1) });
    expect([big.status, big.body.error.code]).toEqual([413, 'request_too_large']);
  });

  it("frees an aborted stream's slot at once, then gives the same greedy reply", async () => {
    const before = (await greedy('Tell me a story', 40)).choices[0].message.content;
    const stream = await s.client.chat.completions.create({
      model: 'tiny',
      messages: user('Tell me a story'),
      max_tokens: 200,
      temperature: 0,
      stream: true,
    });
    let n = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content && ++n === 3) break; // the client hangs up
    for (let i = 0; i < 100 && s.decoder.load.active; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.decoder.load).toEqual({ active: 0, queued: 0 });
    expect((await greedy('Tell me a story', 40)).choices[0].message.content).toBe(before);
  });

  it('loses and mixes up none of 64 requests, 16 at a time', async () => {
    const prompts = Array.from({ length: 8 }, (_, i) => `Question number ${i}: what is ${i} + ${i}?`);
    const alone = new Map<string, string>();
    for (const p of prompts) alone.set(p, (await greedy(p, 8 + prompts.indexOf(p))).choices[0].message.content!);
    const jobs = Array.from({ length: 64 }, (_, i) => prompts[(i * 5) % 8]);
    const got: string[] = new Array<string>(64);
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const i = next++;
        got[i] = (await greedy(jobs[i], 8 + prompts.indexOf(jobs[i]))).choices[0].message.content!;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(got).toEqual(jobs.map((p) => alone.get(p)));
  });
});

describe("the server's keys and queue", () => {
  let servers: ApiServer[] = [];
  afterAll(async () => {
    for (const a of servers) await a.shutdown();
    servers = [];
  });

  it('needs the API key when one is set', async () => {
    const s = await serve(TINY_GPT2, { apiKey: 'sekret' });
    servers.push(s.api);
    expect((await s.client.models.list()).data).toHaveLength(1);
    const wrong = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'guess', maxRetries: 0 });
    const e = await apiError(wrong.models.list());
    expect([e.status, e.code]).toEqual([401, 'invalid_api_key']);
    const none = await fetch(`${s.url}/v1/models`);
    expect(none.status).toBe(401);
  });

  it('sends CORS headers only for the origin it was given', async () => {
    const plain = await serve(TINY_GPT2);
    servers.push(plain.api);
    expect((await fetch(`${plain.url}/v1/models`)).headers.get('access-control-allow-origin')).toBeNull();
    const s = await serve(TINY_GPT2, { cors: 'http://localhost:3000' });
    servers.push(s.api);
    const pre = await fetch(`${s.url}/v1/chat/completions`, { method: 'OPTIONS' });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    expect((await fetch(`${s.url}/v1/models`)).headers.get('access-control-allow-origin')).toBe(
      'http://localhost:3000',
    );
  });

  it('answers 429 with Retry-After when the queue is full', async () => {
    const s = await serve(TINY_GPT2, { maxBatch: 1, maxQueue: 1 });
    servers.push(s.api);
    const long = await s.client.chat.completions.create({
      model: 'tiny',
      messages: user('a'),
      max_tokens: 150,
      temperature: 0,
      stream: true,
    });
    const it = long[Symbol.asyncIterator]();
    await it.next(); // it holds the one slot
    const queued = s.client.chat.completions.create({
      model: 'tiny',
      messages: user('b'),
      max_tokens: 2,
      temperature: 0,
    });
    for (let i = 0; i < 100 && !s.decoder.load.queued; i++) await new Promise((r) => setTimeout(r, 10));
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'tiny', messages: user('c'), max_tokens: 2 }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
    while (!(await it.next()).done);
    expect((await queued).choices[0].message.content).toBeTruthy();
    // with no queue at all, a request that finds a free slot is served
    const direct = await serve(TINY_GPT2, { maxBatch: 1, maxQueue: 0 });
    servers.push(direct.api);
    const r = await direct.client.chat.completions.create({ model: 'tiny', messages: user('d'), max_tokens: 2 });
    expect(r.choices[0].message.content).toBeTruthy();
  });
});

describe("the server at GPT-2 124M's shape", () => {
  it('gives concurrent greedy requests the reply each gets alone', async () => {
    const s = await serve(GPT2_124M, { context: 128 });
    try {
      const ask = (p: string) =>
        s.client.chat.completions.create({ model: 'tiny', messages: user(p), max_tokens: 6, temperature: 0 });
      const prompts = ['The weather today', 'My favourite food is', 'Write a haiku'];
      const alone = [];
      for (const p of prompts) alone.push((await ask(p)).choices[0].message.content);
      const together = await Promise.all(prompts.map(ask));
      expect(together.map((r) => r.choices[0].message.content)).toEqual(alone);
    } finally {
      await s.api.shutdown();
    }
  }, 120_000);
});
