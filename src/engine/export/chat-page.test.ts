// The chat page: index.html and chat.js are shipped as they are in the repo, beside a chat-config.json of which
// chat.js reads every key, the model in model/ and the runtime in vendor/ (e2e/export.spec.ts serves and runs it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { CHAT_VARS, ChatTemplate, type Message } from '../data/template.js';
import { Tokenizer } from '../data/tokenizer.js';
import { chatTokenizerFiles } from '../testing/chat-tokenizers.js';
import { initGpt2, initLora } from '../models/init.js';
import { config, file, json, LORA, source } from '../testing/export-run.js';
import { chatPageFiles } from './chat-page.js';
import { CHAT_PAGE_PROGRAM, CHAT_VENDOR } from './shipped.js';
import { readShipped } from './shipped.node.js';

// a 150-step LoRA run's facts; the weights are untrained: what the model answers is e2e/export.spec.ts's concern
const losses = Array.from({ length: 150 }, (_, i) => ({ step: i + 1, loss: 2 }));
const src = source(LORA, { ...initGpt2(config, 7), ...initLora(config, LORA, 7) }, losses);

describe('chat page', () => {
  it('ships index.html and chat.js unchanged, with a chat-config.json of which chat.js reads every key', async () => {
    const files = chatPageFiles(src, await readShipped(CHAT_PAGE_PROGRAM), await readShipped(CHAT_VENDOR));
    const text = (path: string) => new TextDecoder().decode(file(files, path));
    const repo = (name: string) => readFileSync(join(import.meta.dirname, 'chat-page', name), 'utf8');
    for (const name of ['index.html', 'chat.js', 'README.md']) expect(text(name), name).toBe(repo(name));
    expect(text('index.html')).toContain('<script type="module" src="./chat.js"></script>');
    expect(text('chat.js')).toContain("from './vendor/transformers.min.js'");
    const config = json(files, 'chat-config.json');
    expect(config).toEqual({ title: 'Chat: acme/gpt2 fine-tuned' });
    // chat.js holds chat-config.json in `settings` and reads it as settings.key
    expect(text('chat.js')).toContain("const settings = await readJson('chat-config.json');");
    const read = [...text('chat.js').matchAll(/\bsettings\.(\w+)/g)].map((m) => m[1]);
    expect(read).toContain('title');
    expect(Object.keys(config).filter((k) => !read.includes(k))).toEqual([]);
    expect(read.filter((k) => !(k in config))).toEqual([]);
    for (const path of [
      'model/onnx/model.onnx',
      'model/tokenizer_config.json',
      ...CHAT_VENDOR.files.map((v) => `vendor/${v.name}`),
    ])
      expect(
        files.some((f) => f.path === path),
        path,
      ).toBe(true);
  });

  it("renders a prompt as training rendered it (chat.js's own template options): Qwen3 in its non-thinking mode", () => {
    const js = readFileSync(join(import.meta.dirname, 'chat-page', 'chat.js'), 'utf8');
    const call = /apply_chat_template\(messages, (\{[^}]*\})\)/.exec(js);
    expect(call, 'chat.js renders with apply_chat_template(messages, {...})').not.toBeNull();
    const options = JSON.parse(call![1].replace(/(\w+):/g, '"$1":').replace(/,\s*}$/, '}')) as Record<string, unknown>;
    const messages: Message[] = [{ role: 'user', content: 'Hi' }];
    for (const f of ['qwen3', 'smollm2'] as const) {
      const tok = new Tokenizer(chatTokenizerFiles(f));
      const hf = new PreTrainedTokenizer(tok.files.tokenizer, tok.files.config);
      const training = ChatTemplate.forTokenizer(tok, undefined, { vars: CHAT_VARS }).render(messages, true);
      expect(hf.apply_chat_template([...messages], options), f).toBe(training);
    }
  });
});
