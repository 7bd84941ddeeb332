// Reading a dialogue file: plain text (.txt), chat JSONL ({"messages":[{"role","content"}]}) and JSONL of
// {"text"}. Errors name the file, the line and the field and say what was expected; they are collected, so a
// file with some bad records can still be used with them skipped and counted if the person chooses so.
import type { Message, Role } from './template.js';

export class DataError extends Error {
  readonly code = 'DATA_INVALID';
  constructor(readonly file: string, readonly line: number, readonly field: string | null, readonly reason: string) {
    super(`${file}:${line}: ${field ? `${field}: ` : ''}${reason}`);
  }
}

export type Dataset =
  | { kind: 'text'; text: string; records: number }
  | { kind: 'chat'; conversations: Message[][]; records: number };

export interface ParseResult {
  dataset: Dataset;
  errors: DataError[];
}

const ROLES: readonly Role[] = ['system', 'user', 'assistant'];

function parseMessages(v: unknown, file: string, line: number): Message[] {
  if (!Array.isArray(v)) throw new DataError(file, line, 'messages', `expected an array of {"role","content"} objects, got ${typeof v}`);
  if (v.length === 0) throw new DataError(file, line, 'messages', 'is empty');
  const out = v.map((m, i): Message => {
    const f = `messages[${i}]`;
    if (!m || typeof m !== 'object') throw new DataError(file, line, f, 'expected an object with "role" and "content"');
    const { role, content, weight } = m as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.includes(role as Role)) {
      throw new DataError(file, line, `${f}.role`, `expected one of ${ROLES.map((r) => `"${r}"`).join(', ')}, got ${JSON.stringify(role)}`);
    }
    if (typeof content !== 'string') throw new DataError(file, line, `${f}.content`, `expected a string, got ${content === null ? 'null' : typeof content}`);
    if (content.trim() === '') throw new DataError(file, line, `${f}.content`, 'is empty');
    if (weight !== undefined && weight !== 0 && weight !== 1) throw new DataError(file, line, `${f}.weight`, `expected 0 or 1, got ${JSON.stringify(weight)}`);
    return { role: role as Role, content, ...(weight !== undefined ? { weight: weight as 0 | 1 } : {}) };
  });
  if (!out.some((m) => m.role === 'assistant')) throw new DataError(file, line, 'messages', 'has no assistant turn, so nothing in it would be trained');
  return out;
}

/** Parses a whole file; `errors` lists every bad record (the dataset holds the good ones). */
export function parseDataset(text: string, file: string): ParseResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // UTF-8 BOM
  if (body.includes('\u0000')) throw new DataError(file, 1, null, 'looks like a binary file (it contains NUL bytes); expected UTF-8 text');
  if (!/\.jsonl?$/i.test(file)) return { dataset: { kind: 'text', text: body.replace(/\r\n/g, '\n'), records: 1 }, errors: [] };
  const errors: DataError[] = [];
  const conversations: Message[][] = [];
  const texts: string[] = [];
  body.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    try {
      let rec: unknown;
      try {
        rec = JSON.parse(raw);
      } catch (e) {
        throw new DataError(file, line, null, `invalid JSON (${(e as Error).message})`);
      }
      if (!rec || typeof rec !== 'object' || Array.isArray(rec)) throw new DataError(file, line, null, 'expected a JSON object per line');
      const r = rec as Record<string, unknown>;
      if ('messages' in r) conversations.push(parseMessages(r.messages, file, line));
      else if ('text' in r) {
        if (typeof r.text !== 'string' || !r.text.trim()) throw new DataError(file, line, 'text', 'expected a non-empty string');
        texts.push(r.text);
      } else throw new DataError(file, line, null, `expected a "messages" or a "text" field, found ${Object.keys(r).map((k) => `"${k}"`).join(', ') || 'none'}`);
    } catch (e) {
      if (e instanceof DataError) errors.push(e);
      else throw e;
    }
  });
  if (conversations.length && texts.length) {
    errors.push(new DataError(file, 1, null, 'mixes chat records ("messages") and text records ("text"); use one kind per file'));
  }
  const dataset: Dataset = conversations.length
    ? { kind: 'chat', conversations, records: conversations.length }
    : { kind: 'text', text: texts.join('\n\n'), records: texts.length };
  if (dataset.records === 0 && errors.length === 0) errors.push(new DataError(file, 1, null, 'has no records'));
  return { dataset, errors };
}
