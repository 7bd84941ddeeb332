// npm run bench:browser -- [--json] [--backends webgpu,wasm] [--shapes tiny,gpt2,smollm2-135m] [--full] [--batch N --seq N]
//   [--steps N] [--tokens N] [--profile] [--no-einsum] [--dist DIR]
// The browser benchmark: serves the built app (dist/, cross-origin isolated as vite preview serves it), opens
// bench.html in Debian's chromium (WebGPU through whatever adapter chromium finds: SwiftShader on a machine
// without a GPU, Vulkan on one with a GPU) and runs workers/bench.ts in the studio's worker for each backend and
// shape. Prints one JSON object: per backend and shape, stepSeconds, tokensPerSec, generateMsPerToken and
// deviceBytesPeak (and the rest of the worker's result). --dist serves another build (an A/B against an older
// commit built with this harness). BENCH_CONSOLE=1 echoes the page's and the worker's console to stderr.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.js';
import type { BenchResult } from '../src/protocol.js';

const { values: a } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'webgpu,wasm' },
    shapes: { type: 'string', default: 'tiny,gpt2' },
    full: { type: 'boolean', default: false },
    batch: { type: 'string' },
    seq: { type: 'string' },
    steps: { type: 'string' },
    tokens: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'no-einsum': { type: 'boolean', default: false },
    dist: { type: 'string', default: 'dist' },
    timeout: { type: 'string', default: '1800' },
  },
});
const root = resolve(a.dist);
if (!existsSync(join(root, 'bench.html')))
  throw new Error(
    `${root}/bench.html is missing: build first (npm run bench:browser builds; with --dist, build that tree)`,
  );

// Per shape: what a software WebGPU finishes in minutes and a real GPU in seconds (override with the flags).
const DEFAULTS = {
  tiny: { batch: 4, seq: 64, steps: 4, tokens: 32 },
  gpt2: { batch: 1, seq: 32, steps: 2, tokens: 8 },
  'smollm2-135m': { batch: 1, seq: 32, steps: 2, tokens: 8 },
} as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
};
const server = createServer((req, res) => {
  const path = normalize(join(root, decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
  if (!path.startsWith(root) || !existsSync(path) || statSync(path).isDirectory()) {
    res.statusCode = 404;
    return res.end();
  }
  res.setHeader('Content-Type', TYPES[extname(path)] ?? 'application/octet-stream');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin'); // threads for the WASM backend, as vite preview serves it
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.end(readFileSync(path));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

const browser = await chromium.launch({
  executablePath: CHROMIUM_PATH,
  args: CHROMIUM_ARGS,
});
const results: Record<string, Record<string, BenchResult | { error: string }>> = {};
try {
  for (const backend of a.backends.split(',')) {
    for (const shape of a.shapes.split(',') as (keyof typeof DEFAULTS)[]) {
      if (!Object.hasOwn(DEFAULTS, shape))
        throw new Error(`Unknown shape "${shape}". Should be one of: ${Object.keys(DEFAULTS).join(', ')}`);
      const d = DEFAULTS[shape];
      const q = new URLSearchParams({
        backend,
        shape,
        lora: a.full ? '0' : '1',
        profile: a.profile ? '1' : '0',
        einsum: a['no-einsum'] ? '0' : '1',
        batch: a.batch ?? String(d.batch),
        seq: a.seq ?? String(d.seq),
        steps: a.steps ?? String(d.steps),
        tokens: a.tokens ?? String(d.tokens),
      });
      const page = await browser.newPage();
      page.on(
        'console',
        (m) =>
          (m.type() === 'error' || process.env.BENCH_CONSOLE) &&
          process.stderr.write(`[${backend}/${shape}] ${m.text()}\n`),
      );
      const t0 = Date.now();
      if (!a.json) process.stderr.write(`${backend} ${shape} (${q})…\n`);
      await page.goto(`${base}/bench.html?${q}`);
      const r = await page.waitForFunction(() => (window as unknown as { __bench?: unknown }).__bench, null, {
        timeout: Number(a.timeout) * 1000,
        polling: 1000,
      });
      const v = (await r.jsonValue()) as { result?: BenchResult; error?: string };
      (results[backend] ??= {})[shape] = v.result ?? { error: v.error ?? 'no result' };
      if (!a.json)
        process.stderr.write(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${JSON.stringify(v.result ?? v.error)}\n`);
      await page.close();
    }
  }
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(results, a.json ? undefined : null, a.json ? undefined : 2));
