import { describe, expect, it } from 'vitest';
import { gpt2TokenizerFromPackage } from './tokenizer.node.js';

describe('GPT-2 tokenizer', () => {
  const tok = gpt2TokenizerFromPackage();
  it('encodes as GPT-2 does', () => {
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode(' the')).toEqual([262]);
    expect(tok.eosId).toBe(50256);
    expect(tok.vocabSize).toBe(50257);
  });
  it('keeps <|endoftext|> as one token and round-trips any script', () => {
    const text = 'Hi!<|endoftext|> 你好，世界 🙂 café';
    const ids = tok.encode(text);
    expect(ids).toContain(50256);
    expect(tok.decode(ids)).toBe(text);
  });
});

describe('a reply that ends at once', () => {
  it('decodes no tokens to the empty string (a model whose first token is <|endoftext|>)', () => {
    expect(gpt2TokenizerFromPackage().decode([])).toBe('');
  });
});
