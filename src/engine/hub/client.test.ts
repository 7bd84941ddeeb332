// Downloading a GPT-2 from a stand-in Hub: progress, the cache (a second load makes no request), resume after a cut
// connection, integrity, and each failure with its message and the cache left intact.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import { initGpt2 } from '../models/init.js';
import { hubCheckpoint } from '../testing/checkpoint.js';
import { startStandInHub, type StandInHub } from '../testing/hub-server.js';
import { FsHubCache } from './cache.node.js';
import { HubClient, HubError, type Progress } from './client.js';

const CHUNK_BYTES = 2 ** 20;
import { loadHubGpt2 } from './model.js';
import { caught } from '../testing/caught.js';

const cfg = { vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
const files = hubCheckpoint(cfg, gpt2TokenizerFromPackage().files);
let hub: StandInHub;
beforeAll(async () => {
  const all: Record<string, Uint8Array> = {};
  for (const [f, b] of Object.entries(files)) {
    all[`test/tiny-gpt2@main/${f}`] = b;
    all[`test/gated@main/${f}`] = b;
  }
  all['test/llama@main/config.json'] = new TextEncoder().encode(JSON.stringify({ model_type: 'llama' }));
  hub = await startStandInHub({ files: all, gated: [{ repo: 'test/gated', token: 'hf_secret' }] });
});
afterAll(() => hub.close());
const client = (o: { token?: string; endpoint?: string } = {}) =>
  new HubClient(new FsHubCache(mkdtempSync(join(tmpdir(), 'fts-hub-'))), {
    endpoint: hub.url,
    chunkBytes: CHUNK_BYTES,
    ...o,
  });

describe('Hub download', () => {
  it('loads a GPT-2 with progress, then again from the cache with no request', async () => {
    const c = client();
    const events: Progress[] = [];
    const m = await loadHubGpt2(c, 'test/tiny-gpt2', 'main', { onProgress: (p) => events.push(p) });
    expect(m.config.n_embd).toBe(32);
    expect(m.weights['transformer.h.0.mlp.c_fc.weight']).toEqual(initGpt2(cfg, 7)['transformer.h.0.mlp.c_fc.weight']);
    expect(events.filter((e) => e.status === 'done').map((e) => e.file)).toEqual([
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
      'model.safetensors',
    ]);
    const prog = events.filter((e) => e.status === 'progress' && e.file === 'model.safetensors').at(-1);
    expect(prog).toMatchObject({ loaded: files['model.safetensors'].length, total: files['model.safetensors'].length });
    const before = hub.requests.length;
    const again = await loadHubGpt2(c, 'test/tiny-gpt2');
    expect(hub.requests.length).toBe(before);
    expect(again.weights['transformer.wte.weight']).toEqual(m.weights['transformer.wte.weight']);
  });

  it('resumes a download cut halfway with a Range request and verifies it', async () => {
    const c = client();
    const size = files['model.safetensors'].length;
    expect(size).toBeGreaterThan(2 * CHUNK_BYTES);
    hub.cutNext('model.safetensors', CHUNK_BYTES + 64 * 1024);
    const err = await caught(c.file('test/tiny-gpt2', 'main', 'model.safetensors'));
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe('CONNECTION_LOST');
    expect(err.message).toMatch(/stopped at \d+ of \d+ bytes.*resumes/);
    const bytes = await c.file('test/tiny-gpt2', 'main', 'model.safetensors');
    const from = Number(hub.requests.at(-1)!.match(/bytes=(\d+)-$/)![1]); // what arrived before the cut was kept
    expect(from).toBeGreaterThan(CHUNK_BYTES);
    expect(from).toBeLessThanOrEqual(CHUNK_BYTES + 64 * 1024);
    expect(Buffer.from(bytes!).equals(Buffer.from(files['model.safetensors']))).toBe(true);
  });

  it('refuses a model that is not GPT-2 before downloading its weights', async () => {
    const before = hub.requests.length;
    await expect(loadHubGpt2(client(), 'test/llama')).rejects.toThrow(
      /test\/llama\/config.json: model_type is "llama"/,
    );
    expect(hub.requests.slice(before).some((r) => r.includes('safetensors'))).toBe(false);
  });

  it('gives clear errors for 404, gated repos, and no connection', async () => {
    await expect(loadHubGpt2(client(), 'test/missing')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('test/missing has no file config.json at revision main (404)'),
    });
    await expect(loadHubGpt2(client(), 'test/gated')).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringContaining('gated or private (401)'),
    });
    await expect(loadHubGpt2(client({ token: 'hf_secret' }), 'test/gated')).resolves.toMatchObject({
      repo: 'test/gated',
    });
    await expect(loadHubGpt2(client({ endpoint: 'http://127.0.0.1:9' }), 'test/tiny-gpt2')).rejects.toMatchObject({
      code: 'OFFLINE',
    });
  });

  it("rejects a file whose bytes do not match the Hub's sha256 and keeps no damaged copy", async () => {
    const c = client();
    const fake = new HubClient((c as unknown as { cache: FsHubCache }).cache, {
      endpoint: hub.url,
      fetch: async (u, init) => {
        const r = await fetch(u, init);
        const b = new Uint8Array(await r.arrayBuffer());
        b[100] ^= 0xff;
        return new Response(b, { status: r.status, headers: r.headers });
      },
    });
    await expect(fake.file('test/tiny-gpt2', 'main', 'model.safetensors')).rejects.toMatchObject({ code: 'CORRUPT' });
    expect(await (c as unknown as { cache: FsHubCache }).cache.list()).toEqual([]);
  });
});
