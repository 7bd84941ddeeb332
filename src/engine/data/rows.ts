// From tokenized text or conversations to fixed-length training rows of T+1 tokens (see batches.ts), with the
// policy for conversations longer than the window and optional packing.
import type { Row } from './batches.js';
import type { ChatTemplate, EncodedConversation, LossOn, Message, TextEncoder } from './template.js';

/** A token stream cut into rows of T+1 tokens, each overlapping the next by one; every token trained. */
export function textRows(tokens: readonly number[], seq: number): Row[] {
  const rows: Row[] = [];
  for (let s = 0; s + 1 < tokens.length; s += seq) {
    const chunk = tokens.slice(s, s + seq + 1);
    if (chunk.length < 2) break;
    const t = new Int32Array(seq + 1);
    const m = new Uint8Array(seq + 1);
    t.set(chunk);
    m.fill(1, 1, chunk.length);
    if (chunk.length < seq + 1) t.fill(tokens[tokens.length - 1], chunk.length); // padding, not trained
    rows.push({ tokens: t, mask: m });
  }
  return rows;
}

/**
 * What happens to a conversation longer than the window: 'drop-oldest' removes its oldest exchanges (the system
 * prompt stays) until it fits, then cuts what still does not; 'truncate' cuts the end.
 */
export type OverflowPolicy = 'drop-oldest' | 'truncate';

export interface Fitted {
  enc: EncodedConversation;
  /** Exchanges dropped or tokens cut to fit. */
  shortened: boolean;
  /** Tokens of the whole conversation, before fitting. */
  length: number;
  /** The messages kept (the oldest exchanges dropped by 'drop-oldest'). */
  messages: Message[];
}

export function fitConversation(
  t: ChatTemplate,
  tok: TextEncoder,
  msgs: readonly Message[],
  seq: number,
  lossOn: LossOn,
  policy: OverflowPolicy,
): Fitted {
  let m = [...msgs];
  let enc = t.encode(tok, m, lossOn);
  const length = enc.tokens.length;
  let shortened = false;
  while (policy === 'drop-oldest' && enc.tokens.length > seq + 1) {
    const first = m.findIndex((x) => x.role !== 'system');
    const firstReply = m.findIndex((x, i) => i >= first && x.role === 'assistant');
    if (first < 0 || firstReply < 0 || !m.slice(firstReply + 1).some((x) => x.role === 'assistant')) break; // keep the last exchange
    m = [...m.slice(0, first), ...m.slice(firstReply + 1)];
    enc = t.encode(tok, m, lossOn);
    shortened = true;
  }
  if (enc.tokens.length > seq + 1) {
    enc = { tokens: enc.tokens.slice(0, seq + 1), mask: enc.mask.slice(0, seq + 1) };
    shortened = true;
  }
  return { enc, shortened, length, messages: m };
}

/**
 * Rows from fitted conversations. Unpacked: one conversation per row, padded with `padId` (untrained). Packed:
 * conversations placed one after another in a row while they fit, so fewer rows carry padding. Packed conversations
 * share a causal mask and position ids: a token can attend to the conversations before it in the same row (the
 * usual "naive" packing); each still ends with its template's end token (GPT-2's <|endoftext|>, ChatML's <|im_end|>,
 * Llama 3's <|eot_id|>), which marks the boundary for the model: nothing is inserted between them. `padId`: the
 * tokenizer's (Tokenizer.padId).
 */
export function chatRows(convs: readonly EncodedConversation[], seq: number, padId: number, pack = false): Row[] {
  const rows: Row[] = [];
  let t = new Int32Array(seq + 1).fill(padId);
  let m = new Uint8Array(seq + 1);
  let used = 0;
  const flush = () => {
    m[0] = 0;
    if (used > 0 && m.some((x) => x)) rows.push({ tokens: t, mask: m });
    t = new Int32Array(seq + 1).fill(padId);
    m = new Uint8Array(seq + 1);
    used = 0;
  };
  for (const c of convs) {
    const n = Math.min(c.tokens.length, seq + 1);
    if (used > 0 && (!pack || used + n > seq + 1)) flush();
    t.set(c.tokens.slice(0, n), used);
    m.set(c.mask.slice(0, n), used);
    used += n;
  }
  flush();
  return rows;
}

/** Conversation lengths in tokens, counted into buckets [0,32), [32,64), ... [1024, inf). */
export const HISTOGRAM_EDGES = [32, 64, 128, 256, 512, 1024] as const;
export function lengthHistogram(lengths: readonly number[]): number[] {
  const h = new Array<number>(HISTOGRAM_EDGES.length + 1).fill(0);
  for (const n of lengths) {
    const i = HISTOGRAM_EDGES.findIndex((e) => n < e);
    h[i < 0 ? HISTOGRAM_EDGES.length : i]++;
  }
  return h;
}
