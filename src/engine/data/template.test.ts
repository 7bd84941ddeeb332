// The chat template and the loss mask: trained tokens decode to exactly the assistant replies and their end
// tokens; the template renders as transformers.js's apply_chat_template does from the tokenizer_config we export.
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { gpt2TokenizerFromPackage } from './tokenizer.node.js';
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE, type Message } from './template.js';
import { chatRows, fitConversation } from './rows.js';
import { prepareDataset } from './prepare.js';

const tok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
const t = new ChatTemplate();
const conv: Message[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi! 你好' },
  { role: 'assistant', content: 'Hello 🙂 there.' },
  { role: 'user', content: 'Bye' },
  { role: 'assistant', content: 'Goodbye.' },
];
/** The trained spans of an encoded conversation, decoded. */
function trainedTexts(tokens: number[], mask: number[]): string[] {
  const spans: string[] = [];
  const cur: number[] = [];
  tokens.forEach((id, i) => {
    if (mask[i]) cur.push(id);
    else if (cur.length) spans.push(tok.decode(cur.splice(0)));
  });
  if (cur.length) spans.push(tok.decode(cur));
  return spans;
}

describe('loss mask', () => {
  it('trains exactly each assistant reply and its <|endoftext|>', () => {
    const { tokens, mask } = t.encode(tok, conv);
    expect(trainedTexts(tokens, mask)).toEqual([' Hello 🙂 there.<|endoftext|>', ' Goodbye.<|endoftext|>']);
    expect(tok.decode(tokens)).toBe(t.render(conv)); // turn-by-turn tokens are the whole render's
  });
  it('honours weight 0, last-assistant-only and all-tokens', () => {
    const weighted = conv.map((m, i) => (i === 2 ? { ...m, weight: 0 as const } : m));
    expect(trainedTexts(...(Object.values(t.encode(tok, weighted)) as [number[], number[]]))).toEqual([
      ' Goodbye.<|endoftext|>',
    ]);
    expect(trainedTexts(...(Object.values(t.encode(tok, conv, 'last-assistant')) as [number[], number[]]))).toEqual([
      ' Goodbye.<|endoftext|>',
    ]);
    const all = t.encode(tok, conv, 'all');
    expect(all.mask.every((x) => x === 1)).toBe(true);
  });
});

describe('chat template', () => {
  it('renders as transformers.js apply_chat_template does from the exported tokenizer_config', () => {
    for (const gen of [false, true]) {
      const msgs = gen ? conv.slice(0, 4) : conv;
      const viaHf = new PreTrainedTokenizer(tok.files.tokenizer, tok.files.config).apply_chat_template<false>(msgs, {
        tokenize: false,
        add_generation_prompt: gen,
      });
      expect(viaHf).toBe(t.render(msgs, gen));
    }
    expect(tok.files.config.chat_template).toBe(DEFAULT_CHAT_TEMPLATE);
  });
  it('an edited template drives the render', () => {
    const custom = new ChatTemplate(
      "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
    );
    expect(trainedTexts(...(Object.values(custom.encode(tok, conv.slice(1, 3))) as [number[], number[]]))).toEqual([
      'Hello 🙂 there.<|endoftext|>',
    ]);
  });
  it('a template with a syntax error is refused', () => {
    expect(() => new ChatTemplate('{% for m in messages %}')).toThrow();
  });
});

describe('long conversations and packing', () => {
  it('drop-oldest removes the oldest exchanges and keeps the system prompt', () => {
    const long: Message[] = [
      conv[0],
      ...Array.from({ length: 6 }, (_, i) => [
        { role: 'user' as const, content: `question number ${i}` },
        { role: 'assistant' as const, content: `answer number ${i}` },
      ]).flat(),
    ];
    const f = fitConversation(t, tok, long, 40, 'assistant', 'drop-oldest');
    expect(f.shortened).toBe(true);
    const text = tok.decode(f.enc.tokens);
    expect(text.startsWith('You are terse.\n')).toBe(true);
    expect(text).toContain('answer number 5<|endoftext|>');
    expect(text).not.toContain('question number 0');
    expect(f.enc.tokens.length).toBeLessThanOrEqual(41);
    const cut = fitConversation(t, tok, long, 40, 'assistant', 'truncate');
    expect(tok.decode(cut.enc.tokens)).toContain('question number 0');
  });
  it('packing puts several conversations in a row', () => {
    const encs = Array.from({ length: 6 }, () => t.encode(tok, conv.slice(1, 3)));
    expect(chatRows(encs, 64, tok.eosId, false).length).toBe(6);
    const packed = chatRows(encs, 64, tok.eosId, true);
    expect(packed.length).toBeLessThan(6);
    expect(packed.reduce((n, r) => n + r.mask.reduce((a, b) => a + b, 0), 0)).toBe(
      6 * encs[0].mask.reduce((a, b) => a + b, 0),
    );
  });
  it('prepare reports stats, a split by conversation, a histogram and a highlighted preview', () => {
    const text = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: `q${i}` },
          { role: 'assistant', content: `a${i}` },
        ],
      }),
    ).join('\n');
    const d = prepareDataset(text, 'x.jsonl', tok, t, { seq: 32, seed: 1, skipBad: false });
    expect(d).toMatchObject({ records: 20, turns: 40, truncated: 0, format: 'chat' });
    expect(d.train.length + d.validation.length).toBe(20);
    expect(d.validation.length).toBe(2);
    expect(d.histogram[0]).toBe(20);
    expect(d.preview[0].filter((s) => s.trained).map((s) => s.text)[0]).toMatch(/^ a\d+<\|endoftext\|>$/);
  });
});
