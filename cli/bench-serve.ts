// npm run bench:serve -- [--tokens N] [--max-batch N] [--json] [--no-transformers-js]
// The OpenAI-compatible server at the GPT-2 124M shape (random weights) on this machine's CPU, through HTTP and SSE
// as a client sees it: 8 different greedy /v1/completions requests one at a time, then 1, 4 and 8 at once; time to
// first token, each stream's and the total tokens/s, and whether every concurrent reply equals the same request
// alone. The anchor: transformers.js on a package of the same weights, the same prompts one at a time (it has no
// server). Ratios are against figures measured in this run.
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { ModelSpec } from '../src/engine/artifacts/model.js';
import { DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { BatchDecoder } from '../src/engine/generate/batch.js';
import { DEFAULT_SAMPLING } from '../src/engine/generate/sampling.js';
import { GPT2_124M } from '../src/engine/models/gpt2.js';
import { initGpt2 } from '../src/engine/models/init.js';
import { createNodeBackend } from '../src/engine/runtime/node.js';
import { createApiServer } from '../src/server/server.js';
import { openTransformersJs } from './bench-tjs.js';

const { values: a } = parseArgs({
  options: {
    tokens: { type: 'string', default: '64' },
    'max-batch': { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
    'no-transformers-js': { type: 'boolean', default: false },
  },
});
const N = Number(a.tokens);
const config = GPT2_124M;
const W = initGpt2(config, 1);
const backend = await createNodeBackend('node-cpu');
const spec: ModelSpec = { config };
const tok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
const decoder = new BatchDecoder(backend, spec, W, tok, {
  maxBatch: Number(a['max-batch']),
  context: 1024,
});
const api = createApiServer({
  model: { id: 'gpt2-124m', tok, template: DEFAULT_CHAT_TEMPLATE, sampling: DEFAULT_SAMPLING },
  decoder,
  maxQueue: 64,
});
await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}/v1/completions`;

const TOPICS = ['the sea', 'a city at night', 'old machines', 'winter', 'a long road', 'music', 'the moon', 'bread'];
const prompts = TOPICS.map((t) => `Here is a short story about ${t}. It begins on a quiet morning, when`);

interface Stream {
  text: string;
  tokens: number;
  ttft: number;
  seconds: number;
}

/** One streamed greedy completion: its text, tokens (usage), time to the first token and to the end. */
async function complete(prompt: string): Promise<Stream> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    body: JSON.stringify({
      model: 'gpt2-124m',
      prompt,
      max_tokens: N,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok) throw new Error(`the server answered ${res.status}: ${await res.text()}`);
  let ttft = 0;
  let text = '';
  let tokens = 0;
  let buffer = '';
  const decoder = new TextDecoder();
  const reader = res.body!.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    buffer += decoder.decode(r.value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const line = buffer.slice(0, end).replace(/^data: /, '');
      buffer = buffer.slice(end + 2);
      if (line === '[DONE]') continue;
      const e = JSON.parse(line) as { choices: { text: string }[]; usage?: { completion_tokens: number } | null };
      if (e.choices[0]?.text && !ttft) ttft = performance.now() - t0;
      text += e.choices[0]?.text ?? '';
      if (e.usage) tokens = e.usage.completion_tokens;
    }
  }
  return { text, tokens, ttft: ttft / 1000, seconds: (performance.now() - t0) / 1000 };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** k requests at once (the first k prompts): total tokens/s over the wall time, and each stream's figures. */
async function concurrent(k: number) {
  const t0 = performance.now();
  const r = await Promise.all(prompts.slice(0, k).map(complete));
  const wall = (performance.now() - t0) / 1000;
  return { streams: r, wall, tokensPerSec: r.reduce((s, x) => s + x.tokens, 0) / wall };
}

await concurrent(8); // warm-up: every session shape the runs below use
await concurrent(1);
const t0 = performance.now();
const alone: Stream[] = [];
for (const p of prompts) alone.push(await complete(p));
const sequentialWall = (performance.now() - t0) / 1000;
const sequential = alone.reduce((s, x) => s + x.tokens, 0) / sequentialWall;
const runs = [];
for (const k of [1, 4, 8]) {
  const r = await concurrent(k);
  runs.push({
    concurrent: k,
    tokensPerSec: r.tokensPerSec,
    ttftMs: mean(r.streams.map((s) => s.ttft)) * 1000,
    perStreamTokensPerSec: mean(r.streams.map((s) => s.tokens / (s.seconds - s.ttft))),
    sameAsAlone: r.streams.every((s, i) => s.text === alone[i].text),
    vsSequential: r.tokensPerSec / sequential,
  });
}
await api.shutdown();

let tjs = null;
if (!a['no-transformers-js']) {
  const t = await openTransformersJs(config, W);
  await t.generate(tok.encode(prompts[0]), 4);
  let seconds = 0;
  let first = 0;
  for (const p of prompts) {
    const ids = tok.encode(p);
    first += (await t.generate(ids, 1)).seconds;
    seconds += (await t.generate(ids, N)).seconds;
  }
  await t.dispose();
  tjs = { tokensPerSec: (N * prompts.length) / seconds, ttftMs: (first / prompts.length) * 1000 };
}

const result = {
  machine: { backend: backend.description, model: 'GPT-2 124M shape (random weights)', newTokens: N },
  sequential: { tokensPerSec: sequential, ttftMs: mean(alone.map((s) => s.ttft)) * 1000 },
  concurrent: runs,
  transformersJs: tjs && { ...tjs, singleStreamRatio: runs[0].tokensPerSec / tjs.tokensPerSec },
};
if (a.json) console.log(JSON.stringify(result));
else {
  console.log(`${result.machine.model}, ${backend.description}, ${N} new tokens per request, greedy, over HTTP + SSE`);
  console.log(
    `8 requests one at a time: ${sequential.toFixed(1)} tokens/s, first token ${result.sequential.ttftMs.toFixed(0)} ms`,
  );
  console.log('at once   total tok/s   vs one at a time   first token ms   tok/s per stream   replies as alone');
  for (const r of runs)
    console.log(
      `${String(r.concurrent).padStart(7)} ${r.tokensPerSec.toFixed(1).padStart(13)} ${r.vsSequential.toFixed(2).padStart(17)}x ${r.ttftMs.toFixed(0).padStart(16)} ${r.perStreamTokensPerSec.toFixed(1).padStart(18)}   ${r.sameAsAlone}`,
    );
  if (tjs)
    console.log(
      `transformers.js, same weights, one at a time: ${tjs.tokensPerSec.toFixed(1)} tokens/s, first token ${tjs.ttftMs.toFixed(0)} ms (served single stream ${result.transformersJs!.singleStreamRatio.toFixed(2)}x)`,
    );
}
