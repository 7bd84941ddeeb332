// From tokenized text or conversations to fixed-length training rows of T+1 tokens (see batches.ts).
import type { Row } from './batches.js';
import type { EncodedConversation } from './template.js';

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

export interface ChatRowStats {
  rows: number;
  truncated: number;
  /** Conversations left with no trained token inside the window. */
  dropped: number;
}

/** One row per conversation: padded with `padId` (untrained), or cut at T+1 tokens (counted as truncated). */
export function chatRows(convs: readonly EncodedConversation[], seq: number, padId: number): { rows: Row[]; stats: ChatRowStats } {
  const rows: Row[] = [];
  const stats: ChatRowStats = { rows: 0, truncated: 0, dropped: 0 };
  for (const c of convs) {
    const n = Math.min(c.tokens.length, seq + 1);
    if (c.tokens.length > seq + 1) stats.truncated++;
    const t = new Int32Array(seq + 1).fill(padId);
    const m = new Uint8Array(seq + 1);
    t.set(c.tokens.slice(0, n));
    m.set(c.mask.slice(0, n));
    m[0] = 0;
    if (!m.some((x) => x)) {
      stats.dropped++;
      continue;
    }
    rows.push({ tokens: t, mask: m });
  }
  stats.rows = rows.length;
  return { rows, stats };
}
