// Training data through the Llama family's own templates (SmolLM2 and Qwen2.5 ChatML with their default system
// prompts, Qwen3, Llama 3.2): renders as transformers.js's apply_chat_template, trained tokens are exactly each reply
// and its end token, and a template that cannot be trained on is an error naming its file and field.
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { chatSpecialIds, chatTokenizerFiles, type ChatFormat } from '../testing/chat-tokenizers.js';
import { DataError } from './formats.js';
import { prepareDataset } from './prepare.js';
import { chatRows } from './rows.js';
import { CHAT_VARS, ChatTemplate, ChatTemplateError, type Message } from './template.js';
import { Tokenizer } from './tokenizer.js';

const FORMATS: ChatFormat[] = ['smollm2', 'qwen2', 'qwen3', 'llama3'];
/** Llama 3's generation_config.json eos_token_id, from the fixture's ids (it has no <|eom_id|>). */
const llamaEnds = () => [chatSpecialIds('llama3')['<|end_of_text|>'], chatSpecialIds('llama3')['<|eot_id|>']];
const tokenizer = (f: ChatFormat) =>
  new Tokenizer(chatTokenizerFiles(f), f === 'llama3' ? { endIds: llamaEnds() } : {});
const END: Record<ChatFormat, string> = {
  smollm2: '<|im_end|>',
  qwen2: '<|im_end|>',
  qwen3: '<|im_end|>',
  llama3: '<|eot_id|>',
};
const DEFAULT_SYSTEM: Partial<Record<ChatFormat, string>> = {
  smollm2: '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n',
  qwen2: '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n',
};
const conv: Message[] = [
  { role: 'user', content: 'Hi! 你好' },
  { role: 'assistant', content: 'Hello 🙂 there.' },
  { role: 'user', content: 'Bye' },
  { role: 'assistant', content: 'Goodbye.' },
];

/** The trained spans of an encoded conversation, decoded. */
function trainedTexts(tok: Tokenizer, { tokens, mask }: { tokens: number[]; mask: number[] }): string[] {
  const spans: string[] = [];
  const cur: number[] = [];
  tokens.forEach((id, i) => {
    if (mask[i]) cur.push(id);
    else if (cur.length) spans.push(tok.decode(cur.splice(0)));
  });
  if (cur.length) spans.push(tok.decode(cur));
  return spans;
}

describe.each(FORMATS)('%s', (f) => {
  const tok = tokenizer(f);
  const t = ChatTemplate.forTokenizer(tok);
  const hf = new PreTrainedTokenizer(tok.files.tokenizer, tok.files.config);

  it("renders as apply_chat_template does, with the tokenizer's own special tokens", () => {
    for (const [msgs, gen] of [
      [conv, false],
      [conv.slice(0, 3), true],
    ] as const) {
      const viaHf = hf.apply_chat_template<false>([...msgs], { tokenize: false, add_generation_prompt: gen });
      expect(t.render(msgs, gen)).toBe(viaHf);
    }
  });
  it('trains exactly each reply and its end token; the template adds the rest untrained', () => {
    const enc = t.encode(tok, conv);
    expect(trainedTexts(tok, enc)).toEqual([`Hello 🙂 there.${END[f]}`, `Goodbye.${END[f]}`]);
    expect(tok.decode(enc.tokens)).toBe(t.render(conv));
    // the prompt before a reply is tokenized as chat feeds it to the model; Llama 3's header ends in "\n\n", one
    // token at the end of a prompt but two before a reply with GPT-2's pre-tokenizer (Llama 3's own merges both)
    const prompt = tok.encode(t.render(conv.slice(0, 1), true));
    expect(enc.tokens.slice(0, prompt.length)).toEqual(prompt);
    expect(enc.mask.indexOf(1)).toBe(prompt.length);
    // Qwen3's earlier replies render differently once a later turn exists: read from the whole render in pieces,
    // whose "\n\n" before a reply GPT-2's pre-tokenizer splits as it does Llama 3's
    if (f !== 'llama3' && f !== 'qwen3') expect(enc.tokens).toEqual(tok.encode(t.render(conv)));
    const endId = chatSpecialIds(f)[END[f]];
    enc.tokens.forEach((id, i) => {
      if (id === endId && i + 1 < enc.tokens.length) expect(enc.mask[i + 1]).toBe(0); // ChatML's "\n"
    });
  });
  it('renders its default system prompt, untrained, only when the conversation has none', () => {
    const text = tok.decode(t.encode(tok, conv).tokens);
    const def = DEFAULT_SYSTEM[f];
    if (def) expect(text.startsWith(def)).toBe(true);
    else expect(text).not.toContain('system');
    const own: Message[] = [{ role: 'system', content: 'Be terse.' }, ...conv];
    const enc = t.encode(tok, own);
    expect(trainedTexts(tok, enc)).toEqual([`Hello 🙂 there.${END[f]}`, `Goodbye.${END[f]}`]);
    expect(tok.decode(enc.tokens)).toContain('Be terse.');
    if (def) expect(tok.decode(enc.tokens)).not.toContain(def);
  });
  it('honours weight 0 and last-assistant', () => {
    const weighted = conv.map((m, i) => (i === 1 ? { ...m, weight: 0 as const } : m));
    expect(trainedTexts(tok, t.encode(tok, weighted))).toEqual([`Goodbye.${END[f]}`]);
    expect(trainedTexts(tok, t.encode(tok, conv, 'last-assistant'))).toEqual([`Goodbye.${END[f]}`]);
  });
});

describe("a family's particulars", () => {
  it("Llama 3's bos (from bos_token) opens the conversation once, and packed rows keep each one's", () => {
    const tok = tokenizer('llama3');
    const t = ChatTemplate.forTokenizer(tok);
    const bos = chatSpecialIds('llama3')['<|begin_of_text|>'];
    const enc = t.encode(tok, conv);
    expect(enc.tokens[0]).toBe(bos);
    expect(enc.tokens.filter((id) => id === bos).length).toBe(1);
    expect(t.render(conv.slice(0, 1), true).endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    const rows = chatRows([enc, enc], 2 * enc.tokens.length, tok.padId, true);
    expect(rows.length).toBe(1);
    expect(Array.from(rows[0].tokens).filter((id) => id === bos).length).toBe(2);
  });
  it("Qwen3's generation prompt passes enable_thinking through, and leaves it undefined by default", () => {
    const tok = tokenizer('qwen3');
    const t = ChatTemplate.forTokenizer(tok);
    const hf = new PreTrainedTokenizer(tok.files.tokenizer, tok.files.config);
    const head = conv.slice(0, 1);
    expect(t.render(head, true).endsWith('<|im_start|>assistant\n')).toBe(true);
    const off = t.render(head, true, { enable_thinking: false });
    expect(off.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    // apply_chat_template passes its other options to the template; its types do not list them
    const kwargs = { tokenize: false, add_generation_prompt: true, enable_thinking: false } as const;
    expect(off).toBe(hf.apply_chat_template<false>(head, kwargs));
    const thinkingOff = ChatTemplate.forTokenizer(tok, undefined, { vars: { enable_thinking: false } });
    expect(thinkingOff.render(head, true)).toBe(off);
  });
  it('an end-of-turn id that is not the eos comes from the caller (Qwen2.5 base: eos <|endoftext|>, turns end <|im_end|>)', () => {
    const files = chatTokenizerFiles('qwen2');
    files.config.eos_token = { content: '<|endoftext|>' }; // an AddedToken object, as some configs have
    const ids = chatSpecialIds('qwen2');
    expect(() => ChatTemplate.forTokenizer(new Tokenizer(files)).encode(new Tokenizer(files), conv)).toThrow(
      /no end token .*generation_config\.json's eos_token_id/,
    );
    const tok = new Tokenizer(files, { endIds: [ids['<|im_end|>'], ids['<|endoftext|>']] });
    expect(tok.endIds).toEqual([ids['<|endoftext|>'], ids['<|im_end|>']]);
    expect(trainedTexts(tok, ChatTemplate.forTokenizer(tok).encode(tok, conv))).toEqual([
      'Hello 🙂 there.<|im_end|>',
      'Goodbye.<|im_end|>',
    ]);
  });
});

describe("Qwen3's template, which rewrites earlier replies as the conversation grows", () => {
  const tok = tokenizer('qwen3');
  const t = ChatTemplate.forTokenizer(tok, undefined, { vars: CHAT_VARS });
  it('is read from the whole render: each reply and its <|im_end|> trained, the think block not', () => {
    // the last reply (after the last user message) gets an empty think block, the first does not
    const full = t.render(conv);
    expect(full).toContain('<|im_start|>assistant\nHello 🙂 there.<|im_end|>');
    expect(full).toContain('<|im_start|>assistant\n<think>\n\n</think>\n\nGoodbye.<|im_end|>');
    expect(t.render(conv.slice(0, 2))).toContain('<think>'); // so a prefix's render is not the whole's
    const enc = t.encode(tok, conv);
    expect(tok.decode(enc.tokens)).toBe(full);
    expect(trainedTexts(tok, enc)).toEqual(['Hello 🙂 there.<|im_end|>', 'Goodbye.<|im_end|>']);
    expect(trainedTexts(tok, t.encode(tok, conv, 'last-assistant'))).toEqual(['Goodbye.<|im_end|>']);
  });
  it('one reply: the think block of the non-thinking generation prompt untrained, chat prompted the same way', () => {
    const one = conv.slice(0, 2);
    const enc = t.encode(tok, one);
    expect(trainedTexts(tok, enc)).toEqual(['Hello 🙂 there.<|im_end|>']);
    const prompt = t.render(one.slice(0, 1), true);
    expect(prompt.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    expect(tok.decode(enc.tokens).startsWith(prompt)).toBe(true);
  });
});

describe('templates that cannot be trained on', () => {
  const tok = tokenizer('smollm2');
  const tpl = (source: string, origin?: { file: string; field: string | null }) =>
    ChatTemplate.forTokenizer(tok, source, origin ? { origin } : {});
  it("a base model's template that drops assistant turns", () => {
    const drops = tpl("{% for m in messages %}{% if m.role != 'assistant' %}{{ m.content }}\n{% endif %}{% endfor %}");
    expect(() => drops.encode(tok, conv)).toThrow(ChatTemplateError);
    expect(() => drops.encode(tok, conv)).toThrow(
      /^tokenizer_config\.json: chat_template: renders nothing for messages\[1\] \(an assistant turn\)/,
    );
  });
  it('a template whose assistant turn has no end token, or no content', () => {
    expect(() => tpl('{% for m in messages %}{{ m.content }}\n{% endfor %}').encode(tok, conv)).toThrow(
      /chat_template: renders messages\[1\] \(an assistant turn\) as "Hello 🙂 there.\\n", with no end token/,
    );
    const noContent =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role != 'assistant' %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    expect(() => tpl(noContent).encode(tok, conv)).toThrow(/messages\[1\] \(an assistant turn\) without its content/);
  });
  it('a template whose renders do not extend one another (chat_template.jinja named when it came from there)', () => {
    const last = tpl("{{ messages[-1]['content'] }}{{ eos_token }}", { file: 'chat_template.jinja', field: null });
    expect(() => last.encode(tok, conv)).toThrow(/^chat_template\.jinja: does not render conversations by extension/);
  });
  it("a template built for other special tokens than the tokenizer's", () => {
    expect(() => new ChatTemplate(tok.files.config.chat_template as string).encode(tok, conv)).toThrow(
      /renders bos_token <\|endoftext\|> but the tokenizer's is <\|im_start\|>: build the template with ChatTemplate\.forTokenizer/,
    );
  });
});

describe('a ChatML data file, end to end', () => {
  const tok = tokenizer('smollm2');
  const t = ChatTemplate.forTokenizer(tok);
  const tpl = (source: string) => ChatTemplate.forTokenizer(tok, source);
  const line = (i: number, system = false) =>
    JSON.stringify({
      messages: [
        ...(system ? [{ role: 'system', content: 'Be brief.' }] : []),
        { role: 'user', content: `question ${i}` },
        { role: 'assistant', content: `answer ${i}` },
      ],
    });
  it('trains each answer and its <|im_end|>, nothing of the default system prompt, header or "\\n"', () => {
    const text = Array.from({ length: 12 }, (_, i) => line(i)).join('\n');
    const d = prepareDataset(text, 'chat.jsonl', tok, t, { seq: 64, seed: 1, skipBad: false });
    expect(d).toMatchObject({ records: 12, truncated: 0, kind: 'chat' });
    for (const r of [...d.train, ...d.validation]) {
      const trained = Array.from(r.tokens).filter((_, i) => r.mask[i]);
      expect(tok.decode(trained)).toMatch(/^answer \d+<\|im_end\|>$/);
      expect(tok.decode(Array.from(r.tokens)).startsWith(DEFAULT_SYSTEM.smollm2!)).toBe(true);
      expect(r.tokens[r.tokens.length - 1]).toBe(tok.padId); // SmolLM2's pad_token, untrained
    }
    expect(d.trainedTokens).toBe(12 * (tok.encode('answer 0').length + 1));
    expect(d.preview[0].filter((s) => s.trained).map((s) => s.text)).toEqual([
      expect.stringMatching(/^answer \d+<\|im_end\|>$/),
    ]);
    expect(d.samplePrompts[0].text).toMatch(/^<\|im_start\|>system\n.*<\|im_start\|>assistant\n$/s);
  });
  it("a conversation the template refuses is an error at that conversation's line", () => {
    const noSystem =
      "{% if messages[0]['role'] == 'system' %}{{ raise_exception('system messages are not supported') }}{% endif %}" +
      (tok.files.config.chat_template as string);
    const text = [line(0), line(1), line(2, true)].join('\n');
    const run = () => prepareDataset(text, 'chat.jsonl', tok, tpl(noSystem), { seq: 64, seed: 1, skipBad: false });
    expect(run).toThrow(DataError);
    expect(run).toThrow(
      'chat.jsonl:3: the chat template cannot train on this conversation: tokenizer_config.json: chat_template: fails to render: system messages are not supported',
    );
  });
});
