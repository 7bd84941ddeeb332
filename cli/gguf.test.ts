// GGUF exports proved by their consumers: `npm run finetune -- --gguf f32,f16,q8_0,q4_k_m` for GPT-2 and each Llama
// variant (SmolLM2's layout, Qwen2's biases and untied head, Qwen3's q/k norms, Llama 3's rope scaling), then
// llama.cpp itself (node-llama-cpp's prebuilt CPU build, installed into tools/llama-cpp from its committed lockfile:
// testing/llama-cpp.node.ts) on the F32 file tokenizes the chat CLI's prompt to the same ids and continues it with
// the same greedy tokens as the studio's generator (`npm run chat -- --json`); the quantized files load and generate;
// the Modelfile's TEMPLATE renders in Go's text/template (Ollama's engine; Debian's golang-go) as the run's Jinja
// template does. The encoders are checked byte for byte against ggml's own reference quantizers (libggml-base.so of
// the same build, through Python's ctypes), and their round-trip error against llama.cpp's bound.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGguf } from '../src/engine/export/gguf.js';
import { decodeTensor, encodeTensor } from '../src/engine/export/gguf-quant.js';
import { CHAT_VARS, ChatTemplate, type Message } from '../src/engine/data/template.js';
import { Tokenizer } from '../src/engine/data/tokenizer.js';
import { ensureLlamaCpp, LIBGGML_BASE, llamaCpp } from '../src/engine/testing/llama-cpp.node.js';
import { writeLlamaFixture } from '../src/engine/testing/llama-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'fts-gguf-'));
const tsx = (script: string, ...args: string[]) =>
  run('npx', ['tsx', script, ...args], { cwd: process.cwd(), maxBuffer: 1 << 26 });

beforeAll(ensureLlamaCpp, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROMPT = 'Where is my order?';

/** The tokenizer of an exported Hugging Face folder. */
const exportedTokenizer = (dir: string) =>
  new Tokenizer({
    tokenizer: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>,
    config: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
  });

/** An Ollama TEMPLATE rendered by Go's text/template over Ollama's values (tools/ollama-template/render.go). */
async function goRender(template: string, messages: Message[]): Promise<string> {
  const child = execFile('go', ['run', 'render.go'], { cwd: 'tools/ollama-template' });
  child.stdin!.end(JSON.stringify({ template, messages }));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`go run render.go exited ${code}`);
  return out;
}
// rows of whole 256-blocks, so Q4_K's encoder is the one llama.cpp reads (the 64-wide tiny GPT-2 falls back to Q8_0)
const DIMS = { hidden: 256, layers: 2, heads: 4, kvHeads: 2, intermediate: 512, tokens: 1024 };

describe.each(['gpt2', 'smollm2', 'qwen2', 'qwen3', 'llama3'] as const)('a %s GGUF export in llama.cpp', (kind) => {
  const out = join(dir, kind);
  let gguf: string;
  let chat: { prompt_ids: number[]; ids: number[]; text: string };

  beforeAll(async () => {
    const model =
      kind === 'gpt2'
        ? 'tiny'
        : (
            await writeLlamaFixture(join(dir, `${kind}-base`), kind, {
              seed: 5,
              dims: kind === 'qwen3' ? { ...DIMS, headDim: 32 } : DIMS,
            })
          ).dir;
    await tsx(
      'cli/finetune.ts',
      ...['--model', model, '--data', 'public/sample-support.jsonl', '--steps', '2', '--warmup', '1'],
      ...['--seq', '128', '--batch', '2', '--lr', '1e-3', '--gguf', 'f32,f16,q8_0,q4_k_m', '--out', out],
    );
    gguf = `${out}-gguf`;
    const { stdout } = await tsx(
      'cli/chat.ts',
      '--model',
      out,
      '--prompt',
      PROMPT,
      '--greedy',
      '--max-new-tokens',
      '12',
      '--json',
    );
    chat = JSON.parse(stdout.trim()) as typeof chat;
  }, 300_000);

  it('writes one file per type and a Modelfile, with the run as llama.cpp expects it', () => {
    expect(readdirSync(gguf).sort()).toEqual(
      ['Modelfile', ...['F16', 'F32', 'Q4_K_M', 'Q8_0'].map((t) => `${kind}-${t}.gguf`)].sort(),
    );
    const f = readGguf(readFileSync(join(gguf, `${kind}-Q4_K_M.gguf`)));
    expect(f.version).toBe(3);
    expect(f.metadata.get('general.architecture')).toBe(
      kind === 'gpt2' ? 'gpt2' : kind === 'qwen2' || kind === 'qwen3' ? kind : 'llama',
    );
    expect(f.metadata.get('tokenizer.chat_template')).toEqual(expect.any(String));
    const types = new Set(f.tensors.map((t) => t.type));
    // norms and biases stay F32; Q6_K for the head and for attn_v / ffn_down of layer 0 (use_more_bits), Q4_K for
    // layer 1's; rows that are not whole 256-blocks fall back, Q4_K to Q5_0 and Q6_K to Q8_0 (the 64-wide tiny
    // GPT-2's, and Qwen3's 128-wide attn_output)
    const want = { gpt2: ['Q4_K', 'Q5_0', 'Q6_K', 'Q8_0'], qwen3: ['Q4_K', 'Q5_0', 'Q6_K'] }[kind as string];
    expect([...types].sort()).toEqual(['F32', ...(want ?? ['Q4_K', 'Q6_K'])]);
    const type = (n: string) => f.tensors.find((t) => t.name === n)?.type;
    const down = kind === 'gpt2' ? 'ffn_down' : 'attn_v';
    expect([type(`blk.0.${down}.weight`), type(`blk.1.${down}.weight`)]).toEqual(['Q6_K', 'Q4_K']);
    const modelfile = readFileSync(join(gguf, 'Modelfile'), 'utf8');
    expect(modelfile).toContain(`FROM ./${kind}-F32.gguf`);
    expect(modelfile).toMatch(/PARAMETER stop "<\|(endoftext|im_end|eot_id)\|>"/);
    if (kind === 'qwen3') expect(modelfile).toContain('# TEMPLATE: left to Ollama');
  });

  it("has a Modelfile TEMPLATE that Go's text/template (Ollama's engine) renders as the run's chat template does", async () => {
    if (kind === 'qwen3') return; // no TEMPLATE: checked above
    const template = /TEMPLATE """([\s\S]*?)"""/.exec(readFileSync(join(gguf, 'Modelfile'), 'utf8'))![1];
    const tok = exportedTokenizer(out);
    const jinja = ChatTemplate.forTokenizer(tok, String(tok.files.config.chat_template), { vars: CHAT_VARS });
    for (const messages of [
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: PROMPT },
        { role: 'assistant', content: 'It ships today.' },
        { role: 'user', content: 'Thanks! And the lamp?' },
      ],
      [{ role: 'user', content: PROMPT }],
    ] as Message[][]) {
      const go = await goRender(template, messages);
      expect(go).toBe(jinja.render(messages, true));
    }
  });

  it("tokenizes the chat prompt as the studio does and continues it with the studio's greedy tokens (F32)", async () => {
    const text = exportedTokenizer(out).decode(chat.prompt_ids);
    const r = await llamaCpp(join(gguf, `${kind}-F32.gguf`), {
      tokenize: [text],
      prompt: chat.prompt_ids,
      tokens: chat.ids.length + 1,
    });
    expect(r.tokenized[0]).toEqual(chat.prompt_ids);
    expect(r.greedy.slice(0, chat.ids.length)).toEqual(chat.ids);
    expect(chat.ids.length).toBeGreaterThan(2);
  }, 120_000);

  it('loads and generates from the F16, Q8_0 and Q4_K_M files', async () => {
    for (const t of ['F16', 'Q8_0', 'Q4_K_M']) {
      const r = await llamaCpp(join(gguf, `${kind}-${t}.gguf`), { prompt: chat.prompt_ids, tokens: 6 });
      expect(r.greedy).toHaveLength(6);
      // half precision keeps the greedy reply's first tokens here (the quantized ones may part sooner)
      if (t === 'F16') expect(r.greedy.slice(0, 2)).toEqual([...chat.ids, r.eos].slice(0, 2));
    }
  }, 120_000);
});

describe('the GGUF encoders', () => {
  const x = Float32Array.from({ length: 256 * 24 }, (_, i) => {
    const block = Math.floor(i / 256);
    const v = Math.sin(i * 12.9898) * 43758.5453;
    const r = v - Math.floor(v) - 0.5; // deterministic noise in [-0.5, 0.5)
    // plain blocks, an all-positive one, zeros, outliers, tiny values
    return block === 3
      ? Math.abs(r) + 0.5
      : block === 4
        ? 0
        : block === 5
          ? i % 37
            ? r * 0.01
            : r * 20
          : block === 6
            ? r * 1e-6
            : r;
  });

  it("write ggml's reference bytes (quantize_row_{q8_0,q4_K,q6_K,q5_0}_ref, ggml_fp32_to_fp16_row)", async () => {
    const lib = LIBGGML_BASE;
    writeFileSync(join(dir, 'x.bin'), new Uint8Array(x.buffer));
    const script = `
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
data = open(sys.argv[2], 'rb').read()
k = len(data) // 4
src = (ctypes.c_float * k).from_buffer_copy(data)
for fn, n, out in [('quantize_row_q8_0_ref', k // 32 * 34, 'q8'), ('quantize_row_q4_K_ref', k // 256 * 144, 'q4k'),
                   ('quantize_row_q6_K_ref', k // 256 * 210, 'q6k'), ('quantize_row_q5_0_ref', k // 32 * 22, 'q5')]:
    buf = (ctypes.c_uint8 * n)()
    getattr(lib, fn)(src, buf, ctypes.c_int64(k))
    open(sys.argv[3] + out, 'wb').write(bytes(buf))
h = (ctypes.c_uint16 * k)()
lib.ggml_fp32_to_fp16_row(src, h, ctypes.c_int64(k))
open(sys.argv[3] + 'f16', 'wb').write(bytes(h))
`;
    await run('python3', ['-c', script, lib, join(dir, 'x.bin'), join(dir, 'ref-')]);
    for (const [t, f] of [
      ['Q8_0', 'q8'],
      ['Q4_K', 'q4k'],
      ['Q6_K', 'q6k'],
      ['Q5_0', 'q5'],
      ['F16', 'f16'],
    ] as const)
      expect(Buffer.from(encodeTensor(x, t)).equals(readFileSync(join(dir, `ref-${f}`))), t).toBe(true);
  }, 60_000);

  it("round-trip within llama.cpp's bound (test-quantize-fns: sqrt of the summed squared error over n < 0.002)", () => {
    const n = 32 * 128;
    const t = Float32Array.from({ length: n }, (_, i) => 0.1 + 2 * Math.cos(i));
    for (const type of ['Q8_0', 'Q4_K', 'Q6_K', 'Q5_0'] as const) {
      const y = decodeTensor(encodeTensor(t, type), type, n);
      let s = 0;
      for (let i = 0; i < n; i++) s += (t[i] - y[i]) ** 2;
      expect(Math.sqrt(s) / n, type).toBeLessThan(0.002);
    }
    // Q8_0 per element: half a step of its block's f32 scale, plus the q steps of the scale's f16 rounding
    const bytes = encodeTensor(x, 'Q8_0');
    const q = decodeTensor(bytes, 'Q8_0', x.length);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let b = 0; b < x.length / 32; b++) {
      const d = Math.fround(Math.max(...x.subarray(b * 32, b * 32 + 32).map(Math.abs)) / 127);
      const d16 = decodeTensor(
        new Uint8Array([...new Uint8Array(bytes.buffer, b * 34, 2), ...new Uint8Array(32).fill(1)]),
        'Q8_0',
        32,
      )[0];
      for (let j = 0; j < 32; j++) {
        const err = Math.abs(q[b * 32 + j] - x[b * 32 + j]);
        expect(err).toBeLessThanOrEqual(d / 2 + Math.abs(view.getInt8(b * 34 + 2 + j)) * Math.abs(d - d16) + 1e-12);
      }
    }
  });
});
