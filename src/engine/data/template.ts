// The chat template: Jinja, rendered with @huggingface/jinja exactly as a tokenizer_config.json chat_template is
// (with the tokenizer's own bos_token, eos_token...), so training, chat and every export agree. Tokens are produced
// turn by turn, and only what an assistant turn adds up to and including its first end token (eos or an end-of-turn
// id of the model) is trained (a masked-out end token is why tuned models never stop).
import { Template } from '@huggingface/jinja';
import { EOS_TOKEN, type SpecialTokens } from './tokenizer.js';

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

/** GPT-2's special tokens as a template sees them: <|endoftext|> is its bos and its eos. */
export const GPT2_SPECIAL_TOKENS: SpecialTokens = Object.freeze({ bos_token: EOS_TOKEN, eos_token: EOS_TOKEN });

export type LossOn = 'assistant' | 'last-assistant' | 'all';

export interface EncodedConversation {
  readonly tokens: number[];
  /** 1 where the token is a training target. */
  readonly mask: number[];
}

/** What encode needs of a tokenizer (the Tokenizer class has all of it). */
export interface TextEncoder {
  encode(text: string): number[];
  /** Ids that end an assistant turn; absent: the template's eos_token, encoded. */
  readonly endIds?: readonly number[];
  /** The tokenizer's own special tokens, checked against the template's so a mismatch is an error, not bad data. */
  readonly specialTokens?: SpecialTokens;
  /** Text of ids (the end tokens' strings, for templates that rewrite earlier turns). */
  decode?(ids: readonly number[]): string;
}

/**
 * The variables the studio and the CLI render with: Qwen3's non-thinking mode (the empty think block in the
 * generation prompt), since the dialogues they train on carry no reasoning; templates without it ignore it.
 */
export const CHAT_VARS: Readonly<Record<string, unknown>> = Object.freeze({ enable_thinking: false });

export interface ChatTemplateOptions {
  /** The special tokens the template renders with: the tokenizer's (Tokenizer.specialTokens); default GPT-2's. */
  tokens?: SpecialTokens;
  /** Variables for every render, as apply_chat_template's keyword arguments (Qwen3: {enable_thinking: false}). */
  vars?: Readonly<Record<string, unknown>>;
  /** Where the source came from, for errors; default tokenizer_config.json's chat_template field. */
  origin?: { file: string; field: string | null };
}

/** The template cannot render a conversation into trainable turns; the message names the template's file and field. */
export class ChatTemplateError extends Error {
  readonly code = 'CHAT_TEMPLATE_INVALID';
  constructor(
    readonly origin: { file: string; field: string | null },
    readonly reason: string,
  ) {
    super(`${origin.file}: ${origin.field ? `${origin.field}: ` : ''}${reason}`);
  }
}

const CONFIG_ORIGIN = Object.freeze({ file: 'tokenizer_config.json', field: 'chat_template' });
const excerpt = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 38)}…${s.slice(-38)}` : s);

export class ChatTemplate {
  private readonly t: Template;
  readonly tokens: SpecialTokens;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly origin: { file: string; field: string | null };

  constructor(
    readonly source: string = DEFAULT_CHAT_TEMPLATE,
    o: ChatTemplateOptions = {},
  ) {
    this.t = new Template(source);
    this.tokens = o.tokens ?? GPT2_SPECIAL_TOKENS;
    this.vars = o.vars ?? {};
    this.origin = o.origin ?? CONFIG_ORIGIN;
  }

  /**
   * The template a tokenizer ships (tokenizer_config.json's chat_template, or `source` when given: an edited one,
   * or chat_template.jinja's), rendering with that tokenizer's special tokens. No template: the default one.
   */
  static forTokenizer(
    tok: { readonly specialTokens: SpecialTokens; readonly files: { config: Record<string, unknown> } },
    source?: string,
    o: Omit<ChatTemplateOptions, 'tokens'> = {},
  ): ChatTemplate {
    const c = tok.files.config.chat_template;
    // a list of named templates ([{name, template}]) is also allowed there; training uses the default one
    const named = Array.isArray(c)
      ? (c as { name?: string; template?: string }[]).find((x) => x.name === 'default')
      : null;
    const shipped = typeof c === 'string' ? c : named?.template;
    return new ChatTemplate(source ?? shipped ?? DEFAULT_CHAT_TEMPLATE, { ...o, tokens: tok.specialTokens });
  }

  /** The template's text for `messages`; `vars` add to (or override) the constructor's: {enable_thinking: false}. */
  render(
    messages: readonly Message[],
    addGenerationPrompt = false,
    vars: Readonly<Record<string, unknown>> = {},
  ): string {
    // as transformers passes them: the special tokens the tokenizer sets, then the caller's keyword arguments; an
    // undefined variable stays undefined in the template (Qwen3's `enable_thinking is defined`)
    const given = Object.entries({ ...this.vars, ...vars }).filter(([, v]) => v !== undefined);
    try {
      return this.t.render({
        messages,
        add_generation_prompt: addGenerationPrompt,
        ...this.tokens,
        ...Object.fromEntries(given),
      });
    } catch (e) {
      throw new ChatTemplateError(this.origin, `fails to render: ${(e as Error).message}`);
    }
  }

  /**
   * Tokens and loss mask of one conversation, built from the renders of its growing prefixes; a template that
   * rewrites earlier turns as the conversation grows (Qwen3 drops the think block of every reply before the last
   * user message) is read from the whole conversation's render instead.
   */
  encode(tok: TextEncoder, messages: readonly Message[], lossOn: LossOn = 'assistant'): EncodedConversation {
    try {
      return this.encodeByPrefixes(tok, messages, lossOn);
    } catch (e) {
      if (!(e instanceof ChatTemplateError) || !e.message.includes('does not render conversations by extension'))
        throw e;
      return this.encodeWhole(tok, messages, lossOn, e);
    }
  }

  /**
   * The whole conversation rendered once, each assistant reply found in it in order (its content as the template
   * wrote it, trimmed) and trained up to its first end token; everything between replies is not trained.
   */
  private encodeWhole(
    tok: TextEncoder,
    messages: readonly Message[],
    lossOn: LossOn,
    why: ChatTemplateError,
  ): EncodedConversation {
    const endTexts = [...new Set(this.endIds(tok))].map((id) => tok.decode?.([id])).filter((t): t is string => !!t);
    if (!endTexts.length) throw why;
    const full = this.render(messages);
    // every turn must be there, in order: a template that renders only some of them is refused as before
    let seen = 0;
    for (const m of messages) {
      const at = full.indexOf(m.content.trim(), seen);
      if (at < 0) throw why;
      seen = at + m.content.trim().length;
    }
    const tokens: number[] = [];
    const mask: number[] = [];
    const push = (text: string, trained: boolean) => {
      const ids = tok.encode(text);
      tokens.push(...ids);
      for (const _ of ids) mask.push(trained || lossOn === 'all' ? 1 : 0);
    };
    const lastAssistant = messages.map((m) => m.role).lastIndexOf('assistant');
    let pos = 0;
    messages.forEach((m, k) => {
      if (m.role !== 'assistant') return;
      const content = m.content.trim();
      const at = content ? full.indexOf(content, pos) : pos;
      if (at < 0) throw this.error(`renders messages[${k}] (an assistant turn) without its content; ${why.reason}`);
      const after = at + content.length;
      const found = endTexts.map((t) => [full.indexOf(t, after), t.length]).filter(([i]) => i >= 0);
      if (!found.length)
        throw this.error(`renders messages[${k}] (an assistant turn) with no end token after it; ${why.reason}`);
      const [end, len] = found.reduce((a, b) => (b[0] < a[0] ? b : a));
      push(full.slice(pos, at), false);
      push(full.slice(at, end + len), m.weight !== 0 && (lossOn !== 'last-assistant' || k === lastAssistant));
      pos = end + len;
    });
    if (pos < full.length) push(full.slice(pos), false);
    return { tokens, mask };
  }

  /** Tokens and loss mask of one conversation, built from the renders of its growing prefixes. */
  private encodeByPrefixes(tok: TextEncoder, messages: readonly Message[], lossOn: LossOn): EncodedConversation {
    const ends = new Set(this.endIds(tok));
    const tokens: number[] = [];
    const mask: number[] = [];
    let done = '';
    const push = (ids: readonly number[], trained: boolean) => {
      tokens.push(...ids);
      for (const _ of ids) mask.push(trained || lossOn === 'all' ? 1 : 0);
    };
    // what `text` adds to the render so far: a template whose earlier turns change as the conversation grows cannot
    // be split into turns
    const extend = (text: string, k: number, what: string) => {
      if (!text.startsWith(done))
        throw this.error(
          `does not render conversations by extension: ${what} of messages[${k}] changes what the turns before it rendered (${excerpt(done)} is not a prefix of ${excerpt(text)})`,
        );
      const added = text.slice(done.length);
      done = text;
      return added;
    };
    const lastAssistant = messages.map((m) => m.role).lastIndexOf('assistant');
    messages.forEach((m, k) => {
      const full = this.render(messages.slice(0, k + 1));
      if (m.role !== 'assistant') return push(tok.encode(extend(full, k, 'the turn')), false);
      if (full === done)
        throw this.error(
          `renders nothing for messages[${k}] (an assistant turn), so nothing would be trained: a base model's template may drop assistant messages; use a chat template that renders them`,
        );
      push(tok.encode(extend(this.render(messages.slice(0, k), true), k, 'the generation prompt')), false);
      let added = extend(full, k, 'the assistant turn');
      // what the template writes before the reply itself (Qwen3's think block) is prompt, not reply; a space before
      // it (GPT-2's "Assistant: ") stays with the reply, whose first token it starts
      const at = m.content.trim() ? added.indexOf(m.content.trim()) : 0;
      if (at > 0 && added.slice(0, at).trim() !== '') {
        push(tok.encode(added.slice(0, at)), false);
        added = added.slice(at);
      }
      const ids = tok.encode(added);
      // the first end token closes the reply: it is trained, what the template adds after it (ChatML's "\n") is not
      const end = ids.findIndex((id) => ends.has(id));
      if (end < 0)
        throw this.error(
          `renders messages[${k}] (an assistant turn) as ${excerpt(added)}, with no end token (ids ${[...ends].join(', ')}; eos_token ${this.tokens.eos_token ?? 'unset'}), so a tuned model would never stop: end assistant turns with {{ eos_token }}, or pass the model's end-of-turn ids (generation_config.json's eos_token_id) as the tokenizer's endIds`,
        );
      if (end === 0 && m.content.trim() !== '')
        throw this.error(`renders messages[${k}] (an assistant turn) without its content: ${excerpt(added)}`);
      const trained = m.weight !== 0 && (lossOn !== 'last-assistant' || k === lastAssistant);
      push(ids.slice(0, end + 1), trained);
      push(ids.slice(end + 1), false);
    });
    return { tokens, mask };
  }

  /** The ids that end an assistant turn: the tokenizer's, once checked to be the one this template renders for. */
  private endIds(tok: TextEncoder): readonly number[] {
    const theirs = tok.specialTokens;
    if (theirs)
      for (const key of ['bos_token', 'eos_token'] as const)
        if (theirs[key] !== this.tokens[key])
          throw new Error(
            `the chat template renders ${key} ${this.tokens[key] ?? '(unset)'} but the tokenizer's is ${theirs[key] ?? '(unset)'}: build the template with ChatTemplate.forTokenizer(tok, source)`,
          );
    if (tok.endIds) return tok.endIds;
    const eos = this.tokens.eos_token === undefined ? [] : tok.encode(this.tokens.eos_token);
    return eos.length === 1 ? eos : [];
  }

  private error(reason: string): ChatTemplateError {
    return new ChatTemplateError(this.origin, reason);
  }
}
