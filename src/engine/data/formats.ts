// Reading a dialogue file, whatever its format, into conversations (or plain text): chat JSONL / JSON array
// ({"messages":[{"role","content","weight"?}]}), ShareGPT ({"conversations":[{"from","value"}]}), Alpaca
// ({"instruction","input","output","system"?}), {"text"} records or a .txt file, and CSV/TSV with a prompt and a
// response column. The format is detected (the person can override it). Every error names the file, the line,
// the field, and what was expected; errors are collected so a file with some bad records can be used without them.
import Papa from 'papaparse';
import type { Message, Role } from './template.js';

export class DataError extends Error {
  readonly code = 'DATA_INVALID';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | null,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${field ? `${field}: ` : ''}${reason}`);
  }
}

export const FORMATS = ['chat', 'sharegpt', 'alpaca', 'text', 'csv'] as const;
export type FormatName = (typeof FORMATS)[number];

/** Limits the studio states in its UI. */
export const LIMITS = Object.freeze({ fileBytes: 200 * 2 ** 20, recordChars: 1_000_000 });

export interface ReadOptions {
  format?: FormatName | 'auto';
  /** CSV/TSV columns; guessed from the header when absent. */
  promptColumn?: string;
  responseColumn?: string;
  onProgress?: (done: number, total: number) => void;
}

export type Dataset =
  | { kind: 'text'; format: FormatName; text: string; records: number }
  | {
      kind: 'chat';
      format: FormatName;
      conversations: Message[][];
      /** The line each conversation starts at in the file, for errors found after reading (the chat template's). */
      lines: number[];
      records: number;
      columns?: string[];
    };

export interface ParseResult {
  dataset: Dataset;
  errors: DataError[];
}

// ---------------------------------------------------------------------------------------------- bytes -> text
/** Line (1-based) of the first byte that is not valid UTF-8, or 0. */
function invalidUtf8Line(b: Uint8Array): number {
  let line = 1;
  for (let i = 0; i < b.length;) {
    const c = b[i];
    if (c === 0x0a) line++;
    const n =
      c < 0x80
        ? 0
        : (c & 0xe0) === 0xc0 && c >= 0xc2
          ? 1
          : (c & 0xf0) === 0xe0
            ? 2
            : (c & 0xf8) === 0xf0 && c <= 0xf4
              ? 3
              : -1;
    if (n < 0 || i + n >= b.length + (n ? 0 : 1)) return line;
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return line;
    i += n + 1;
  }
  return 0;
}

/** Decodes a file's bytes as UTF-8 (BOM dropped), refusing binary files and invalid UTF-8 by line. */
export function decodeText(bytes: Uint8Array, file: string): string {
  if (bytes.length > LIMITS.fileBytes)
    throw new DataError(
      file,
      1,
      null,
      `the file is ${(bytes.length / 2 ** 20).toFixed(0)} MiB, over the ${LIMITS.fileBytes / 2 ** 20} MiB limit`,
    );
  const probe = bytes.subarray(0, 65536);
  if (probe.includes(0))
    throw new DataError(file, 1, null, 'looks like a binary file (it contains NUL bytes); expected UTF-8 text');
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    throw new DataError(file, invalidUtf8Line(bytes) || 1, null, 'is not valid UTF-8 (save the file as UTF-8)');
  }
}

// ---------------------------------------------------------------------------------------------- records
interface RawRecord {
  line: number;
  /** The parsed JSON value, or the error that parsing it gave. */
  value?: unknown;
  error?: string;
}

/** The top-level elements of a JSON array, each with its line, parsed one by one so one bad record stays one error. */
function jsonArrayRecords(text: string): RawRecord[] {
  const out: RawRecord[] = [];
  let depth = 0;
  let inStr = false;
  let start = -1;
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inStr) {
      if (ch === '\\') i++;
      else if (ch === '"') inStr = false;
      continue;
    }
    if (ch === '"') inStr = true;
    if (depth === 1 && start < 0 && !/[\s,\]]/.test(ch)) {
      start = i;
      startLine = line;
    }
    if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    if (start >= 0 && ((depth === 1 && ch === ',') || depth === 0)) {
      const end = depth === 0 ? i : i;
      out.push(parseOne(text.slice(start, end).replace(/,\s*$/, ''), startLine));
      start = -1;
      if (depth === 0) break;
    }
  }
  return out;
}

function parseOne(raw: string, line: number): RawRecord {
  if (raw.length > LIMITS.recordChars)
    return {
      line,
      error: `the record is ${raw.length.toLocaleString()} characters, over the ${LIMITS.recordChars.toLocaleString()}-character limit`,
    };
  try {
    return { line, value: JSON.parse(raw) };
  } catch (e) {
    return { line, error: `invalid JSON (${(e as Error).message})` };
  }
}

function jsonlRecords(text: string, onProgress?: (d: number, t: number) => void): RawRecord[] {
  const lines = text.split(/\r?\n/);
  const out: RawRecord[] = [];
  const every = Math.max(1, Math.floor(lines.length / 20));
  lines.forEach((raw, i) => {
    if (onProgress && i % every === 0) onProgress(i, lines.length);
    if (raw.trim() !== '') out.push(parseOne(raw, i + 1));
  });
  return out;
}

// ---------------------------------------------------------------------------------------------- one record per format
type RecordReader = (
  r: Record<string, unknown>,
  at: (field: string | null, reason: string) => DataError,
) => Message[] | string;

const str = (
  v: unknown,
  field: string,
  at: (f: string | null, r: string) => DataError,
  optional = false,
): string | undefined => {
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw at(field, 'is missing');
  }
  if (typeof v !== 'string') throw at(field, `expected a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v;
};
const nonEmpty = (s: string, field: string, at: (f: string | null, r: string) => DataError) => {
  if (s.trim() === '') throw at(field, 'is empty');
  return s;
};

function checkConversation(msgs: Message[], field: string, at: (f: string | null, r: string) => DataError): Message[] {
  if (!msgs.some((m) => m.role === 'assistant'))
    throw at(field, 'has no assistant turn, so nothing in it would be trained');
  return msgs;
}

const ROLES: readonly Role[] = ['system', 'user', 'assistant'];
const SHAREGPT_ROLES: Record<string, Role> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  chatgpt: 'assistant',
};

/** The turns array of a chat or ShareGPT record, each turn checked to be an object and read by `turn`. */
function readTurns(
  r: Record<string, unknown>,
  field: string,
  keys: string,
  at: (f: string | null, reason: string) => DataError,
  turn: (t: Record<string, unknown>, f: string) => Message,
): Message[] {
  const v = r[field];
  if (!Array.isArray(v))
    throw at(field, v === undefined ? 'is missing' : `expected an array of {${keys}} objects, got ${typeof v}`);
  if (v.length === 0) throw at(field, 'is empty');
  const msgs = v.map((m, i) => {
    const f = `${field}[${i}]`;
    if (!m || typeof m !== 'object' || Array.isArray(m))
      throw at(f, `expected an object with ${keys.split(',').join(' and ')}`);
    return turn(m as Record<string, unknown>, f);
  });
  return checkConversation(msgs, field, at);
}

const readers: Record<Exclude<FormatName, 'csv'>, RecordReader> = {
  chat: (r, at) =>
    readTurns(r, 'messages', '"role","content"', at, (m, f) => {
      const { role, content, weight } = m;
      if (typeof role !== 'string' || !ROLES.includes(role as Role)) {
        throw at(`${f}.role`, `expected one of ${ROLES.map((x) => `"${x}"`).join(', ')}, got ${JSON.stringify(role)}`);
      }
      const c = nonEmpty(str(content, `${f}.content`, at)!, `${f}.content`, at);
      if (weight !== undefined && weight !== 0 && weight !== 1)
        throw at(`${f}.weight`, `expected 0 or 1, got ${JSON.stringify(weight)}`);
      if (weight !== undefined && role !== 'assistant') throw at(`${f}.weight`, 'only assistant turns take a weight');
      return { role: role as Role, content: c, ...(weight !== undefined ? { weight: weight } : {}) };
    }),
  sharegpt: (r, at) =>
    readTurns(r, 'conversations', '"from","value"', at, (m, f) => {
      const { from, value } = m;
      const role = typeof from === 'string' ? SHAREGPT_ROLES[from] : undefined;
      if (!role) throw at(`${f}.from`, `expected one of "system", "human", "gpt", got ${JSON.stringify(from)}`);
      return { role, content: nonEmpty(str(value, `${f}.value`, at)!, `${f}.value`, at) };
    }),
  alpaca: (r, at) => {
    const instruction = nonEmpty(str(r.instruction, 'instruction', at)!, 'instruction', at);
    const input = str(r.input, 'input', at, true);
    const output = nonEmpty(str(r.output, 'output', at)!, 'output', at);
    const system = str(r.system, 'system', at, true);
    return [
      ...(system?.trim() ? [{ role: 'system' as const, content: system }] : []),
      { role: 'user', content: input?.trim() ? `${instruction}\n\n${input}` : instruction },
      { role: 'assistant', content: output },
    ];
  },
  text: (r, at) => nonEmpty(str(r.text, 'text', at)!, 'text', at),
};

/** The format a JSON record looks like, from its keys. */
function detectRecord(r: unknown): Exclude<FormatName, 'csv'> | null {
  if (!r || typeof r !== 'object' || Array.isArray(r)) return null;
  const k = r as Record<string, unknown>;
  if ('messages' in k) return 'chat';
  if ('conversations' in k) return 'sharegpt';
  if ('instruction' in k && 'output' in k) return 'alpaca';
  if ('text' in k) return 'text';
  return null;
}

// ---------------------------------------------------------------------------------------------- CSV / TSV
const PROMPT_NAMES = ['prompt', 'question', 'input', 'instruction', 'user', 'query', 'human'];
const RESPONSE_NAMES = ['response', 'answer', 'output', 'completion', 'assistant', 'reply', 'gpt'];

function readCsv(text: string, file: string, o: ReadOptions): ParseResult {
  const tsv = /\.tsv$/i.test(file);
  const parsed = Papa.parse<string[]>(text, { delimiter: tsv ? '\t' : ',', skipEmptyLines: 'greedy' });
  const rows = parsed.data;
  const errors: DataError[] = parsed.errors.map((e) => new DataError(file, (e.row ?? 0) + 1, null, e.message));
  if (rows.length < 2) throw new DataError(file, 1, null, 'expected a header row and at least one data row');
  const header = rows[0].map((h) => h.trim());
  const find = (want: string | undefined, names: string[], what: string) => {
    if (want !== undefined) {
      const i = header.indexOf(want);
      if (i < 0)
        throw new DataError(
          file,
          1,
          want,
          `no such ${what} column. Columns: ${header.map((h) => `"${h}"`).join(', ')}`,
        );
      return i;
    }
    const i = header.findIndex((h) => names.includes(h.toLowerCase()));
    if (i < 0)
      throw new DataError(
        file,
        1,
        null,
        `no ${what} column found among ${header.map((h) => `"${h}"`).join(', ')}; pick one`,
      );
    return i;
  };
  const pi = find(o.promptColumn, PROMPT_NAMES, 'prompt');
  const ri = find(o.responseColumn, RESPONSE_NAMES, 'response');
  // Papa's rows do not carry line numbers; count them from the record texts (a quoted field may span lines)
  let line = 2;
  const conversations: Message[][] = [];
  const lines: number[] = [];
  for (const row of rows.slice(1)) {
    const at = (f: string | null, reason: string) => new DataError(file, line, f, reason);
    try {
      const p = row[pi]?.trim();
      const r = row[ri]?.trim();
      if (!p) throw at(header[pi], 'is empty');
      if (!r) throw at(header[ri], 'is empty');
      conversations.push([
        { role: 'user', content: p },
        { role: 'assistant', content: r },
      ]);
      lines.push(line);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      errors.push(e);
    }
    line += 1 + row.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0);
  }
  return {
    dataset: { kind: 'chat', format: 'csv', conversations, lines, records: conversations.length, columns: header },
    errors,
  };
}

// ---------------------------------------------------------------------------------------------- entry
/** Parses a whole file; `errors` lists every bad record (the dataset holds the good ones). */
export function parseDataset(text: string, file: string, o: ReadOptions = {}): ParseResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.includes('\u0000'))
    throw new DataError(file, 1, null, 'looks like a binary file (it contains NUL bytes); expected UTF-8 text');
  const forced = o.format && o.format !== 'auto' ? o.format : null;
  if (forced === 'csv' || (!forced && /\.(csv|tsv)$/i.test(file))) return readCsv(body, file, o);
  const trimmed = body.trimStart();
  const looksJson = trimmed.startsWith('{') || trimmed.startsWith('[');
  const jsonish = looksJson || /\.jsonl?$/i.test(file);
  if (!jsonish || (forced === 'text' && !looksJson)) {
    if (body.trim() === '') throw new DataError(file, 1, null, 'is empty');
    return { dataset: { kind: 'text', format: 'text', text: body.replace(/\r\n/g, '\n'), records: 1 }, errors: [] };
  }
  const records = trimmed.startsWith('[') ? jsonArrayRecords(body) : jsonlRecords(body, o.onProgress);
  if (records.length === 0) throw new DataError(file, 1, null, 'has no records');
  const format = forced ?? records.map((r) => detectRecord(r.value)).find((f) => f !== null) ?? null;
  if (!format) {
    const first = records.find((r) => r.value !== undefined);
    const keys =
      first && first.value && typeof first.value === 'object'
        ? Object.keys(first.value)
            .map((k) => `"${k}"`)
            .join(', ')
        : 'none';
    throw new DataError(
      file,
      first?.line ?? records[0]?.line ?? 1,
      null,
      `no record looks like chat ("messages"), ShareGPT ("conversations"), Alpaca ("instruction"+"output") or text ("text"); found keys ${keys}`,
    );
  }
  const read = readers[format];
  const errors: DataError[] = [];
  const conversations: Message[][] = [];
  const lines: number[] = [];
  const texts: string[] = [];
  for (const r of records) {
    const at = (field: string | null, reason: string) => new DataError(file, r.line, field, reason);
    try {
      if (r.error) throw at(null, r.error);
      if (!r.value || typeof r.value !== 'object' || Array.isArray(r.value)) throw at(null, 'expected a JSON object');
      const got = read(r.value as Record<string, unknown>, at);
      if (typeof got === 'string') texts.push(got);
      else {
        conversations.push(got);
        lines.push(r.line);
      }
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      errors.push(e);
    }
  }
  o.onProgress?.(records.length, records.length);
  const dataset: Dataset =
    format === 'text'
      ? { kind: 'text', format, text: texts.join('\n\n'), records: texts.length }
      : { kind: 'chat', format, conversations, lines, records: conversations.length };
  return { dataset, errors };
}
