// npm run serve -- --model <export folder | saved run | repo id | tiny> [--host H] [--port P] [--api-key KEY]
//                  [--backend node-cpu|node-webgpu] [--max-batch N] [--max-queue N] [--context N] [--cors ORIGIN]
// Serves a model behind the OpenAI API (src/server/), so the openai client, LangChain, Open WebUI or curl use it
// unchanged; concurrent requests decode together in one batch. Prints the URL when ready; SIGTERM or Ctrl-C stops
// taking requests, ends the streams in flight with an error event, and exits.
import { basename, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ModelSpec } from '../src/engine/artifacts/model.js';
import { BatchDecoder } from '../src/engine/generate/batch.js';
import { maxPositions } from '../src/engine/models/family.js';
import { parseBackend } from '../src/engine/runtime/backend.js';
import { createNodeBackend } from '../src/engine/runtime/node.js';
import { createApiServer } from '../src/server/server.js';
import { loadChatModel } from './models.js';

const USAGE = `usage: npm run serve -- --model <tiny | folder | saved run | repo id> [options]
  --model M           tiny (random offline GPT-2), an exported or Hugging Face folder, a folder written by
                      npm run finetune -- --out DIR, or a Hub repo id (--revision R)
  --name ID           the model id clients send                      [the folder's name, or the repo id]
  --host H            the address to listen on; other than loopback needs an API key   [127.0.0.1]
  --port P            0 picks a free one                                              [8000]
  --api-key KEY       require Authorization: Bearer KEY                               [env FTS_API_KEY]
  --backend B         node-cpu | node-webgpu                                          [node-cpu]
  --max-batch N       requests decoded together at most                               [8]
  --max-queue N       requests waiting for a slot at most; more get 429               [64]
  --context N         positions per request (prompt + reply) at most                  [the model's, up to 2048]
  --cors ORIGIN       let browsers at ORIGIN call the API                             [none]`;

class UsageError extends Error {}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function options() {
  const { values: a } = parseArgs({
    options: {
      model: { type: 'string', default: 'tiny' },
      revision: { type: 'string', default: 'main' },
      name: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8000' },
      'api-key': { type: 'string' },
      backend: { type: 'string', default: 'node-cpu' },
      'max-batch': { type: 'string', default: '8' },
      'max-queue': { type: 'string', default: '64' },
      context: { type: 'string' },
      cors: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const whole = (k: 'port' | 'max-batch' | 'max-queue' | 'context', lo: number, hi: number) => {
    const n = Number(a[k]);
    if (!Number.isInteger(n) || n < lo || n > hi)
      throw new UsageError(`--${k} must be a whole number from ${lo} to ${hi}, got "${a[k]}"`);
    return n;
  };
  const apiKey = a['api-key'] ?? process.env.FTS_API_KEY ?? undefined;
  if (!LOOPBACK.has(a.host) && !apiKey)
    throw new UsageError(
      `--host ${a.host} would let other machines call this server: set an API key (--api-key or FTS_API_KEY) first`,
    );
  return {
    a,
    apiKey,
    port: whole('port', 0, 65535),
    maxBatch: whole('max-batch', 1, 64),
    maxQueue: whole('max-queue', 0, 100000),
    context: a.context === undefined ? undefined : whole('context', 2, 1 << 20),
  };
}

/** The id clients use: --name, else a folder's name, else what --model says. */
function modelId(model: string, name?: string): string {
  if (name) return name;
  return existsSync(model) ? basename(resolve(model)) : model;
}

async function main(): Promise<void> {
  const o = options();
  if (o.a.help) return void console.log(USAGE);
  const m = await loadChatModel(o.a.model, o.a.revision);
  const backend = await createNodeBackend(parseBackend(o.a.backend) as 'node-cpu' | 'node-webgpu');
  const spec: ModelSpec = { config: m.config };
  const context = Math.min(o.context ?? 2048, maxPositions(m.config));
  const decoder = new BatchDecoder(backend, spec, m.weights, m.tok, {
    maxBatch: o.maxBatch,
    context,
  });
  const id = modelId(o.a.model, o.a.name);
  const api = createApiServer({
    model: { id, tok: m.tok, template: m.template, sampling: m.sampling },
    decoder,
    apiKey: o.apiKey,
    cors: o.a.cors,
    maxQueue: o.maxQueue,
    log: (line) => console.error(line),
  });
  await new Promise<void>((done, fail) => {
    api.server.once('error', fail);
    api.server.listen(o.port, o.a.host, done);
  });
  const addr = api.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.a.host.includes(':') ? `[${o.a.host}]` : o.a.host;
  console.log(
    `serving ${id} (${m.name}; context ${context}, up to ${o.maxBatch} at once, ${backend.description}) at http://${host}:${port}/v1`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: ending the requests in flight and stopping`);
    api.shutdown().then(
      () => process.exit(0),
      (e: Error) => {
        console.error(`error: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => {
  console.error(e instanceof UsageError ? `${e.message}\n\n${USAGE}` : `error: ${e.message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
