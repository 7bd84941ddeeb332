// From a dropped file to training rows: read (any format), render with the chat template, tokenize with the loss
// mask, fit long conversations, cut into rows (optionally packed), split train/validation by conversation with a
// seed, and collect stats, a preview and sample prompts. Shared by the studio's worker and the CLI, so both accept
// and reject exactly the same files.
import { Rng } from '../util/rng.js';
import type { Row } from './batches.js';
import { DataError, parseDataset, type FormatName, type ReadOptions } from './formats.js';
import { chatRows, fitConversation, lengthHistogram, textRows, type OverflowPolicy } from './rows.js';
import { ChatTemplateError, type ChatTemplate, type LossOn } from './template.js';
import type { Tokenizer } from './tokenizer.js';

export interface PrepareOptions extends ReadOptions {
  seq: number;
  seed: number;
  /** Train on the good records of a file with bad ones. */
  skipBad: boolean;
  lossOn?: LossOn;
  overflow?: OverflowPolicy;
  pack?: boolean;
  /** Fraction of conversations (or rows, for text) held out; none below 10 items. */
  validationFraction?: number;
  samplePrompts?: number;
  /** Tokenization progress, in conversations. */
  onTokenize?: (done: number, total: number) => void;
}

/** A stretch of rendered text and whether its tokens are trained (for the highlighted preview). */
export interface Segment {
  text: string;
  trained: boolean;
}

export interface PreparedDataset {
  file: string;
  format: FormatName;
  kind: 'chat' | 'text';
  records: number;
  turns: number;
  skipped: DataError[];
  train: Row[];
  validation: Row[];
  trainedTokens: number;
  totalTokens: number;
  /** Conversations shortened to fit the window (oldest exchanges dropped or the end cut). */
  truncated: number;
  histogram: number[];
  samplePrompts: { text: string; ids: number[] }[];
  preview: Segment[][];
  columns?: string[];
  /**
   * The dataset as it was trained, as chat JSONL lines per split (for the hand-off recipe): each conversation as
   * fitted to the window ({"messages": [...]}), or for plain text each row's text ({"text": ...}).
   */
  trainedRecords: { train: string[]; validation: string[] };
}

export class DatasetRejectedError extends Error {
  readonly code = 'DATA_REJECTED';
  constructor(
    readonly errors: DataError[],
    readonly goodRecords: number,
  ) {
    const more =
      errors.length > 1
        ? `\n(${errors.length} bad records in all${goodRecords ? `; skipping them trains on the ${goodRecords} good ones` : ''})`
        : '';
    super(errors[0].message + more);
  }
}

function segments(tok: Tokenizer, tokens: readonly number[], mask: readonly number[]): Segment[] {
  const out: Segment[] = [];
  let start = 0;
  for (let i = 1; i <= tokens.length; i++) {
    if (i === tokens.length || mask[i] !== mask[start]) {
      out.push({ text: tok.decode(tokens.slice(start, i)), trained: mask[start] === 1 });
      start = i;
    }
  }
  return out;
}

export function prepareDataset(
  text: string,
  file: string,
  tok: Tokenizer,
  template: ChatTemplate,
  o: PrepareOptions,
): PreparedDataset {
  const { dataset, errors } = parseDataset(text, file, o);
  if (errors.length && (!o.skipBad || dataset.records === 0)) throw new DatasetRejectedError(errors, dataset.records);
  const rng = new Rng(o.seed);
  const frac = o.validationFraction ?? 0.1;
  const split = <T>(items: T[]) => {
    const order = rng.permutation(items.length);
    const nVal = items.length >= 10 ? Math.max(1, Math.round(items.length * frac)) : 0;
    return { val: order.slice(0, nVal).map((i) => items[i]), train: order.slice(nVal).map((i) => items[i]) };
  };
  const nPrompts = o.samplePrompts ?? 2;
  if (dataset.kind === 'text') {
    const ids = tok.encode(dataset.text);
    const { val, train } = split(textRows(ids, o.seq));
    const lines = (rows: Row[]) => rows.map((r) => JSON.stringify({ text: tok.decode(Array.from(r.tokens)) }));
    if (train.length === 0)
      throw new DataError(file, 1, null, `the text is ${ids.length} token(s) long: too short to train on`);
    const head = dataset.text.slice(0, 40);
    return {
      file,
      format: dataset.format,
      kind: 'text',
      records: dataset.records,
      turns: 0,
      skipped: errors,
      train,
      validation: val,
      trainedTokens: ids.length,
      totalTokens: ids.length,
      truncated: 0,
      histogram: lengthHistogram([ids.length]),
      samplePrompts: head ? [{ text: head, ids: tok.encode(head) }].slice(0, nPrompts) : [],
      preview: [[{ text: dataset.text.slice(0, 600), trained: true }]],
      trainedRecords: { train: lines(train), validation: lines(val) },
    };
  }
  const lossOn = o.lossOn ?? 'assistant';
  const overflow = o.overflow ?? 'drop-oldest';
  const n = dataset.conversations.length;
  const every = Math.max(1, Math.floor(n / 20));
  const fitted = dataset.conversations.map((m, i) => {
    if (i % every === 0) o.onTokenize?.(i, n);
    try {
      return fitConversation(template, tok, m, o.seq, lossOn, overflow);
    } catch (e) {
      // the template's error, at the line of the conversation it failed on (a template may refuse some, e.g. by
      // raise_exception on roles that do not alternate)
      if (!(e instanceof ChatTemplateError)) throw e;
      throw new DataError(
        file,
        dataset.lines[i],
        null,
        `the chat template cannot train on this conversation: ${e.message}`,
      );
    }
  });
  o.onTokenize?.(n, n);
  const { val, train } = split(fitted.map((f, i) => ({ f, conv: dataset.conversations[i] })));
  const promptSource = val.length ? val : train;
  const trainRows = chatRows(
    train.map((x) => x.f.enc),
    o.seq,
    tok.padId,
    o.pack,
  );
  if (trainRows.length === 0) {
    const shortened = fitted.filter((f) => f.shortened).length;
    throw new DataError(
      file,
      1,
      null,
      `no conversation keeps a trained token within ${o.seq} tokens (${shortened} were shortened to fit); raise the sequence length`,
    );
  }
  return {
    file,
    format: dataset.format,
    kind: 'chat',
    records: dataset.records,
    skipped: errors,
    turns: dataset.conversations.reduce((n, c) => n + c.length, 0),
    train: trainRows,
    validation: chatRows(
      val.map((x) => x.f.enc),
      o.seq,
      tok.padId,
      o.pack,
    ),
    trainedTokens: fitted.reduce((n, f) => n + f.enc.mask.reduce((a, b) => a + b, 0), 0),
    totalTokens: fitted.reduce((n, f) => n + f.enc.tokens.length, 0),
    truncated: fitted.filter((f) => f.shortened).length,
    histogram: lengthHistogram(fitted.map((f) => f.length)),
    samplePrompts: promptSource.slice(0, nPrompts).map(({ conv }) => {
      const t = template.render(
        conv.slice(
          0,
          conv.findIndex((m) => m.role === 'assistant'),
        ),
        true,
      );
      return { text: t, ids: tok.encode(t) };
    }),
    preview: fitted.slice(0, 3).map((f) => segments(tok, f.enc.tokens, f.enc.mask)),
    columns: dataset.columns,
    trainedRecords: {
      train: train.map((x) => JSON.stringify({ messages: x.f.messages })),
      validation: val.map((x) => JSON.stringify({ messages: x.f.messages })),
    },
  };
}
