// The chat page: index.html and chat.js are shipped as they are in the repo, beside a chat-config.json of which
// chat.js reads every key, the model in model/ and the runtime in vendor/ (e2e/export.spec.ts serves and runs it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
});
