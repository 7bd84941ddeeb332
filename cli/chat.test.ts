// The chat CLI as a person runs it: one reply to --prompt through the model's template (from a saved run, and from
// the Hugging Face folder the same run exported: the same greedy tokens), a conversation on stdin, and the errors a
// mistyped command gets.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { caught } from '../src/engine/testing/caught.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'fts-chat-'));
const tsx = (script: string, ...args: string[]) =>
  run('npx', ['tsx', script, ...args], { cwd: process.cwd(), maxBuffer: 1 << 24 });
const chat = (...args: string[]) => tsx('cli/chat.ts', ...args);
type Reply = { prompt_ids: number[]; ids: number[]; text: string };
const reply = async (...args: string[]) => JSON.parse((await chat(...args, '--json')).stdout.trim()) as Reply;

const runDir = join(dir, 'lora');
const hfDir = join(dir, 'hf');
const PROMPT = 'Where is my order?';

beforeAll(async () => {
  await tsx(
    'cli/finetune.ts',
    ...['--data', 'public/sample-support.jsonl', '--steps', '4', '--warmup', '1', '--lora-rank', '4'],
    ...['--lr', '1e-2', '--out', runDir],
  );
  cpSync(runDir, hfDir, { recursive: true });
  rmSync(join(hfDir, 'run'), { recursive: true }); // the exported Hugging Face folder alone
}, 300_000);

describe('npm run chat', () => {
  it("renders the prompt with the model's template and replies the same from a saved run and its exported folder", async () => {
    const args = ['--prompt', PROMPT, '--system', 'Be brief.', '--greedy', '--max-new-tokens', '12'];
    const fromRun = await reply('--model', runDir, ...args);
    const tok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
    const rendered = new ChatTemplate(DEFAULT_CHAT_TEMPLATE).render(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: PROMPT },
      ],
      true,
    );
    expect(rendered).toBe(`Be brief.\nUser: ${PROMPT}\nAssistant:`);
    expect(fromRun.prompt_ids).toEqual(tok.encode(rendered));
    expect(fromRun.ids.length).toBeGreaterThan(0);
    expect(fromRun.ids.length).toBeLessThanOrEqual(12);
    // the run's LoRA merged when loaded, against the folder's weights merged when exported
    const fromFolder = await reply('--model', hfDir, ...args);
    expect(fromFolder).toEqual(fromRun);
    expect(await reply('--model', runDir, ...args)).toEqual(fromRun); // greedy is deterministic
  }, 120_000);

  it('samples with a seed: the same seed gives the same reply', async () => {
    const args = ['--model', runDir, '--prompt', PROMPT, '--temperature', '1', '--top-p', '0.9', '--seed', '7'];
    const a = await reply(...args, '--max-new-tokens', '10');
    expect(await reply(...args, '--max-new-tokens', '10')).toEqual(a);
  }, 120_000);

  it('holds a conversation on stdin until /exit', async () => {
    const child = spawn('npx', ['tsx', 'cli/chat.ts', '--model', runDir, '--greedy', '--max-new-tokens', '6'], {
      cwd: process.cwd(),
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stdin.end('Hello\n/reset\nDo you ship abroad?\n/exit\n');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(out).toContain(`chatting with the run in ${runDir}`);
    expect(out.split('model> ').length - 1).toBe(2);
  }, 120_000);

  it('says what is wrong with a bad command, and with a model it cannot find', async () => {
    const hot = await caught(chat('--model', runDir, '--prompt', 'hi', '--temperature', '3'));
    expect(hot.code).toBe(2);
    expect(hot.stderr).toContain('--temperature must be a number from 0 to 2, got "3"');
    const json = await caught(chat('--model', runDir, '--json'));
    expect(json.code).toBe(2);
    expect(json.stderr).toContain('--json needs --prompt');
    const empty = await caught(chat('--model', dir, '--prompt', 'hi'));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain(`${dir} is neither a Hugging Face folder (no config.json) nor a saved run`);
  }, 120_000);
});
