// The chat template: Jinja, rendered with @huggingface/jinja exactly as a tokenizer_config.json chat_template is,
// so training, chat and every export agree. Tokens are produced turn by turn, and only what an assistant turn
// adds up to and including its <|endoftext|> is trained (a masked-out end token is why tuned models never stop).
import { Template } from '@huggingface/jinja';
import { EOS_TOKEN } from './tokenizer.js';

export type Role = 'system' | 'user' | 'assistant';
export interface Message {
  readonly role: Role;
  readonly content: string;
  /** 0 excludes this assistant turn from the loss. */
  readonly weight?: 0 | 1;
}

/** Plain-text role markers GPT-2 can learn; every assistant turn ends with <|endoftext|>; optional system prompt. */
export const DEFAULT_CHAT_TEMPLATE =
  '{% for message in messages %}' +
  "{% if message['role'] == 'system' %}{{ message['content'] }}\n" +
  "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n" +
  "{% elif message['role'] == 'assistant' %}Assistant: {{ message['content'] }}{{ eos_token }}\n" +
  '{% endif %}{% endfor %}' +
  '{% if add_generation_prompt %}Assistant:{% endif %}';

export type LossOn = 'assistant' | 'last-assistant' | 'all';

export interface EncodedConversation {
  readonly tokens: number[];
  /** 1 where the token is a training target. */
  readonly mask: number[];
}

export interface TextEncoder {
  encode(text: string): number[];
}

export class ChatTemplate {
  private readonly t: Template;
  constructor(readonly source: string = DEFAULT_CHAT_TEMPLATE) {
    this.t = new Template(source);
  }

  render(messages: readonly Message[], addGenerationPrompt = false): string {
    return this.t.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      eos_token: EOS_TOKEN,
      bos_token: EOS_TOKEN,
    });
  }

  /** Tokens and loss mask of one conversation, built from the renders of its growing prefixes. */
  encode(tok: TextEncoder, messages: readonly Message[], lossOn: LossOn = 'assistant'): EncodedConversation {
    const tokens: number[] = [];
    const mask: number[] = [];
    let done = '';
    const push = (text: string, trained: boolean) => {
      const ids = tok.encode(text);
      tokens.push(...ids);
      for (const _ of ids) mask.push(trained || lossOn === 'all' ? 1 : 0);
    };
    const lastAssistant = messages.map((m) => m.role).lastIndexOf('assistant');
    messages.forEach((m, k) => {
      if (m.role === 'assistant') {
        const prompt = this.render(messages.slice(0, k), true);
        if (!prompt.startsWith(done))
          throw new Error('the chat template does not render conversations by extension (a prefix changed)');
        push(prompt.slice(done.length), false);
        done = prompt;
      }
      const full = this.render(messages.slice(0, k + 1));
      if (!full.startsWith(done))
        throw new Error('the chat template does not render conversations by extension (a prefix changed)');
      const added = full.slice(done.length);
      if (m.role === 'assistant') {
        const trained = m.weight !== 0 && (lossOn !== 'last-assistant' || k === lastAssistant);
        const end = added.lastIndexOf(EOS_TOKEN);
        const cut = end >= 0 ? end + EOS_TOKEN.length : added.length;
        push(added.slice(0, cut), trained);
        if (cut < added.length) push(added.slice(cut), false);
      } else {
        push(added, false);
      }
      done = full;
    });
    return { tokens, mask };
  }
}
