// From a dropped file to training rows: parse, render with the chat template, tokenize with the loss mask, cut
// into rows, split train/validation by conversation with a seed, and pick sample prompts. Shared by the studio's
// worker and the CLI, so both accept and reject exactly the same files.
import { Rng } from '../util/rng.js';
import type { Row } from './batches.js';
import { DataError, parseDataset } from './formats.js';
import { chatRows, textRows } from './rows.js';
import type { ChatTemplate } from './template.js';
import type { Tokenizer } from './tokenizer.js';

export interface PrepareOptions {
  seq: number;
  seed: number;
  /** Train on the good records of a file with bad ones. */
  skipBad: boolean;
  /** Fraction of conversations (or rows, for text) held out; none below 10 items. */
  validationFraction?: number;
  samplePrompts?: number;
}

export interface PreparedDataset {
  file: string;
  kind: 'chat' | 'text';
  records: number;
  skipped: DataError[];
  train: Row[];
  validation: Row[];
  trainedTokens: number;
  totalTokens: number;
  truncated: number;
  samplePrompts: { text: string; ids: number[] }[];
  preview: string[];
}

export class DatasetRejectedError extends Error {
  readonly code = 'DATA_REJECTED';
  constructor(readonly errors: DataError[], readonly goodRecords: number) {
    const more = errors.length > 1 ? `\n(${errors.length} bad records in all${goodRecords ? `; skipping them trains on the ${goodRecords} good ones` : ''})` : '';
    super(errors[0].message + more);
  }
}

export function prepareDataset(text: string, file: string, tok: Tokenizer, template: ChatTemplate, o: PrepareOptions): PreparedDataset {
  const { dataset, errors } = parseDataset(text, file);
  if (errors.length && (!o.skipBad || dataset.records === 0)) throw new DatasetRejectedError(errors, dataset.records);
  const rng = new Rng(o.seed);
  const frac = o.validationFraction ?? 0.1;
  const split = <T,>(items: T[]) => {
    const order = rng.permutation(items.length);
    const nVal = items.length >= 10 ? Math.max(1, Math.round(items.length * frac)) : 0;
    return { val: order.slice(0, nVal).map((i) => items[i]), train: order.slice(nVal).map((i) => items[i]) };
  };
  const nPrompts = o.samplePrompts ?? 2;
  if (dataset.kind === 'text') {
    const ids = tok.encode(dataset.text);
    const rows = textRows(ids, o.seq);
    const { val, train } = split(rows);
    const prompts = [dataset.text.slice(0, 40)].filter(Boolean).map((t) => ({ text: t, ids: tok.encode(t) }));
    return {
      file, kind: 'text', records: dataset.records, skipped: errors, train, validation: val, trainedTokens: ids.length, totalTokens: ids.length,
      truncated: 0, samplePrompts: prompts.slice(0, nPrompts), preview: [dataset.text.slice(0, 600)],
    };
  }
  const { val, train } = split(dataset.conversations);
  const encode = (convs: typeof train) => convs.map((m) => template.encode(tok, m));
  const trainEnc = encode(train);
  const valEnc = encode(val);
  const tr = chatRows(trainEnc, o.seq, tok.eosId);
  const va = chatRows(valEnc, o.seq, tok.eosId);
  const all = [...trainEnc, ...valEnc];
  const promptSource = val.length ? val : train;
  const samplePrompts = promptSource.slice(0, nPrompts).map((conv) => {
    const firstReply = conv.findIndex((m) => m.role === 'assistant');
    const t = template.render(conv.slice(0, firstReply), true);
    return { text: t, ids: tok.encode(t) };
  });
  return {
    file, kind: 'chat', records: dataset.records, skipped: errors, train: tr.rows, validation: va.rows,
    trainedTokens: all.reduce((n, c) => n + c.mask.reduce((a, b) => a + b, 0), 0),
    totalTokens: all.reduce((n, c) => n + c.tokens.length, 0),
    truncated: tr.stats.truncated + va.stats.truncated,
    samplePrompts,
    preview: dataset.conversations.slice(0, 3).map((c) => template.render(c)),
  };
}
