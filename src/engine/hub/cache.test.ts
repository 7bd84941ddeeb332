// The browser's Hub cache (IndexedDB, here fake-indexeddb) under the rules real sizes need: no stored value over
// the bound and the file never held whole, a damaged kept chunk caught by the sha256 on resume, a full quota
// mid-download keeping every chunk stored before, and a download that cannot fit refused before any byte is kept.
import 'fake-indexeddb/auto';
import { createStore, entries } from 'idb-keyval';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import { hubCheckpoint } from '../testing/checkpoint.js';
import { startStandInHub, type StandInHub } from '../testing/hub-server.js';
import { failPutsAfter } from '../testing/idb-faults.js';
import { IdbHubCache } from './cache.js';
import { HubClient } from './client.js';
import { loadHubGpt2 } from './model.js';
import { caught } from '../testing/caught.js';

const CHUNK = 2 ** 20;
const cfg = { vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
const files = hubCheckpoint(cfg, gpt2TokenizerFromPackage().files);
const size = files['model.safetensors'].length;
let hub: StandInHub;
beforeAll(async () => {
  hub = await startStandInHub({
    files: Object.fromEntries(Object.entries(files).map(([f, b]) => [`t/gpt2@main/${f}`, b])),
  });
});
afterAll(() => hub.close());
let n = 0;
const setup = (free: () => Promise<number | null> = () => Promise.resolve(null)) => {
  const prefix = `hubtest${n++}`;
  const cache = new IdbHubCache(prefix);
  cache.free = free;
  return { cache, prefix, client: new HubClient(cache, { endpoint: hub.url, chunkBytes: CHUNK }) };
};
const storedSizes = async (prefix: string) =>
  (await entries<string, Uint8Array>(createStore(`${prefix}-hub-files`, 'files'))).map(
    ([k, v]) => [k, v.length] as const,
  );

describe('IndexedDB Hub cache', () => {
  it('keeps a file as bounded chunks and loads the model from them', async () => {
    const { client, prefix } = setup();
    const m = await loadHubGpt2(client, 't/gpt2');
    expect(m.weights['transformer.h.0.attn.c_attn.weight'].length).toBe(32 * 96);
    const sizes = await storedSizes(prefix);
    expect(sizes.filter(([k]) => k.includes('model.safetensors')).length).toBe(Math.ceil(size / CHUNK));
    expect(Math.max(...sizes.map(([, s]) => s))).toBeLessThan(CHUNK + 64 * 1024);
    const before = hub.requests.length;
    await loadHubGpt2(client, 't/gpt2');
    expect(hub.requests.length).toBe(before);
  });

  it('catches a damaged kept chunk when the download resumes, and removes the copy', async () => {
    const { client, cache, prefix } = setup();
    hub.cutNext('model.safetensors', 2 * CHUNK + 100_000);
    await expect(client.file('t/gpt2', 'main', 'model.safetensors')).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    const store = createStore(`${prefix}-hub-files`, 'files');
    const [[key, chunk]] = (await entries<string, Uint8Array>(store)).filter(([k]) => k.endsWith('#1'));
    chunk[12345] ^= 0x40;
    const { set } = await import('idb-keyval');
    await set(key, chunk, store);
    await expect(client.file('t/gpt2', 'main', 'model.safetensors')).rejects.toMatchObject({
      code: 'CORRUPT',
      message: expect.stringMatching(/its sha256 is [0-9a-f]{64}, the Hub says/),
    });
    expect((await cache.list()).filter((f) => f.key.endsWith('model.safetensors'))).toEqual([]);
    expect(
      Buffer.from((await client.file('t/gpt2', 'main', 'model.safetensors'))!).equals(
        Buffer.from(files['model.safetensors']),
      ),
    ).toBe(true);
  });

  it('keeps every chunk stored before when the quota fills mid-download, and resumes after', async () => {
    const { client, cache } = setup();
    await client.file('t/gpt2', 'main', 'config.json');
    const restore = failPutsAfter(5); // two chunks (chunk + meta each), then the quota is full
    let err;
    try {
      err = await caught(client.file('t/gpt2', 'main', 'model.safetensors'));
    } finally {
      restore();
    }
    expect(err).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    const listed = await cache.list();
    expect(listed.find((f) => f.key.endsWith('config.json'))).toMatchObject({ complete: true });
    const kept = listed.find((f) => f.key.endsWith('model.safetensors'))!;
    expect(kept.complete).toBe(false);
    expect(kept.size).toBeGreaterThanOrEqual(2 * CHUNK); // two chunks of at least CHUNK bytes each
    const before = hub.requests.length;
    const bytes = await client.file('t/gpt2', 'main', 'model.safetensors');
    expect(hub.requests.slice(before).at(-1)).toMatch(new RegExp(`bytes=${kept.size}-$`));
    expect(Buffer.from(bytes!).equals(Buffer.from(files['model.safetensors']))).toBe(true);
  });

  it('refuses a download that cannot fit before storing any of it', async () => {
    const { client, cache } = setup(() => Promise.resolve(0));
    const err = await caught(client.file('t/gpt2', 'main', 'model.safetensors'));
    expect(err.code).toBe('INSUFFICIENT_SPACE');
    expect(err.message).toMatch(
      /^model.safetensors \(t\/gpt2\) needs \d+ MiB of storage, but only 0 MiB is free in this browser; nothing was written/,
    );
    expect(await cache.list()).toEqual([]);
  });
});
