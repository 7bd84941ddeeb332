// llama.cpp for the tests that check GGUF exports by their consumer: node-llama-cpp's prebuilt CPU build in
// tools/llama-cpp, installed from its committed lockfile on first use (the binary package only: the GPU builds are
// optional dependencies of hundreds of MB, and no source build), and run in its own process per file
// (tools/llama-cpp/run.mjs), since llama.cpp aborts the process on some malformed files.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const LLAMA_CPP_DIR = resolve('tools/llama-cpp');
/** ggml's own library of the same build (its reference quantizers). */
export const LIBGGML_BASE = join(
  LLAMA_CPP_DIR,
  'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so',
);

export async function ensureLlamaCpp(): Promise<void> {
  if (existsSync(LIBGGML_BASE)) return;
  await run('npm', ['ci', '--omit=optional', '--no-audit', '--no-fund'], {
    cwd: LLAMA_CPP_DIR,
    env: { ...process.env, NODE_LLAMA_CPP_POSTINSTALL: 'skip' },
  });
}

export interface LlamaCppRun {
  /** Each text's ids (special tokens parsed, no BOS added). */
  tokenized: number[][];
  /** Greedy token ids after the prompt, end tokens included. */
  greedy: number[];
  eos: number;
}

/** llama.cpp on one GGUF file: tokenizes `tokenize`, then continues `prompt` greedily for `tokens` tokens. */
export async function llamaCpp(
  model: string,
  req: { tokenize?: string[]; prompt?: number[]; tokens?: number },
): Promise<LlamaCppRun> {
  const dir = mkdtempSync(join(tmpdir(), 'fts-llama-req-'));
  try {
    writeFileSync(join(dir, 'req.json'), JSON.stringify(req));
    const { stdout } = await run(process.execPath, [join(LLAMA_CPP_DIR, 'run.mjs'), model, join(dir, 'req.json')], {
      cwd: LLAMA_CPP_DIR,
      maxBuffer: 1 << 24,
    });
    return JSON.parse(stdout.trim()) as LlamaCppRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
