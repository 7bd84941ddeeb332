// Every format with its edge cases, and a corpus of bad inputs, each with the error a person should see.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeText, LIMITS, parseDataset } from './formats.js';

const enc = (s: string) => new TextEncoder().encode(s);
const chat = (m: object[]) => JSON.stringify({ messages: m });
const u = (content: string) => ({ role: 'user', content });
const a = (content: string, extra = {}) => ({ role: 'assistant', content, ...extra });

describe('formats', () => {
  it('reads chat JSONL with CRLF, a BOM, blank lines, weights, Chinese and emoji', () => {
    const text = `\uFEFF${chat([{ role: 'system', content: '你是助手' }, u('你好 🙂'), a('您好！', { weight: 0 }), u('again'), a('ok')])}\r\n\r\n${chat([u('q'), a('r')])}\r\n`;
    const { dataset, errors } = parseDataset(text, 'c.jsonl');
    expect(errors).toEqual([]);
    expect(dataset).toMatchObject({ kind: 'chat', format: 'chat', records: 2 });
    if (dataset.kind !== 'chat') throw new Error();
    expect(dataset.conversations[0][1].content).toBe('你好 🙂');
    expect(dataset.conversations[0][2].weight).toBe(0);
  });
  it('reads a chat JSON array and numbers records by their line', () => {
    const text = `[\n  ${chat([u('a'), a('b')])},\n  {"messages": [{"role": "user", "content": "x"}]}\n]`;
    const { dataset, errors } = parseDataset(text, 'c.json');
    expect(dataset.records).toBe(1);
    expect(errors.map((e) => e.message)).toEqual([
      'c.json:3: messages: has no assistant turn, so nothing in it would be trained',
    ]);
  });
  it('reads ShareGPT, JSON or JSONL, with system/human/gpt', () => {
    const rec = {
      conversations: [
        { from: 'system', value: 's' },
        { from: 'human', value: 'q' },
        { from: 'gpt', value: 'r' },
      ],
    };
    for (const [text, file] of [
      [JSON.stringify([rec, rec]), 'x.json'],
      [`${JSON.stringify(rec)}\n${JSON.stringify(rec)}`, 'x.jsonl'],
    ]) {
      const { dataset } = parseDataset(text, file);
      expect(dataset).toMatchObject({ format: 'sharegpt', records: 2 });
      if (dataset.kind === 'chat')
        expect(dataset.conversations[0].map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    }
    const zh = parseDataset(readFileSync('public/sample-support-zh.json', 'utf8'), 'sample-support-zh.json');
    expect(zh.errors).toEqual([]);
    expect(zh.dataset).toMatchObject({ format: 'sharegpt', records: 40 });
  });
  it('reads Alpaca with and without input and system', () => {
    const text = [
      { instruction: 'Translate', input: 'hello', output: 'bonjour' },
      { instruction: 'Say hi', input: '', output: 'hi', system: 'Be brief.' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const { dataset } = parseDataset(text, 'a.jsonl');
    if (dataset.kind !== 'chat') throw new Error();
    expect(dataset.format).toBe('alpaca');
    expect(dataset.conversations[0]).toEqual([
      { role: 'user', content: 'Translate\n\nhello' },
      { role: 'assistant', content: 'bonjour' },
    ]);
    expect(dataset.conversations[1][0]).toEqual({ role: 'system', content: 'Be brief.' });
  });
  it('reads plain text and {"text"} JSONL', () => {
    expect(parseDataset('line one\r\nline two\n', 'book.txt').dataset).toMatchObject({
      kind: 'text',
      text: 'line one\nline two\n',
    });
    expect(parseDataset('{"text":"a"}\n{"text":"b"}', 't.jsonl').dataset).toMatchObject({
      kind: 'text',
      text: 'a\n\nb',
      records: 2,
    });
  });
  it('reads CSV and TSV, guessing columns by name or taking the chosen ones, with quoted newlines', () => {
    const csv = 'id,question,answer\n1,"Hi, there","Hello\nfriend"\n2,Bye,Goodbye\n';
    const { dataset } = parseDataset(csv, 'qa.csv');
    if (dataset.kind !== 'chat') throw new Error();
    expect(dataset.columns).toEqual(['id', 'question', 'answer']);
    expect(dataset.conversations[0]).toEqual([
      { role: 'user', content: 'Hi, there' },
      { role: 'assistant', content: 'Hello\nfriend' },
    ]);
    const tsv = parseDataset('a\tb\nq1\tr1\n', 'x.tsv', { promptColumn: 'a', responseColumn: 'b' });
    expect(tsv.dataset.records).toBe(1);
    const bad = parseDataset('id,question,answer\n1,"q",""\n', 'qa.csv');
    expect(bad.errors[0].message).toBe('qa.csv:2: answer: is empty');
  });
  it('lets the person override the detected format', () => {
    const r = parseDataset('{"text": "a"}', 'x.jsonl', { format: 'chat' });
    expect(r.errors[0].message).toBe('x.jsonl:1: messages: is missing');
  });
});

describe('bad inputs give their own clear error', () => {
  const cases: [string, string, string, RegExp][] = [
    ['invalid JSON', 'c.jsonl', `${chat([u('a'), a('b')])}\n{"messages": [}`, /^c\.jsonl:2: invalid JSON/],
    [
      'a wrong type',
      'c.jsonl',
      chat([u('a'), { role: 'assistant', content: 42 }]),
      /^c\.jsonl:1: messages\[1\]\.content: expected a string, got number$/,
    ],
    [
      'a missing role',
      'c.jsonl',
      chat([{ content: 'x' }, a('b')]),
      /^c\.jsonl:1: messages\[0\]\.role: expected one of "system", "user", "assistant", got undefined$/,
    ],
    [
      'an unknown role',
      'c.jsonl',
      chat([{ role: 'robot', content: 'x' }, a('b')]),
      /messages\[0\]\.role: expected one of .* got "robot"/,
    ],
    [
      'an unknown ShareGPT speaker',
      's.jsonl',
      JSON.stringify({ conversations: [{ from: 'bot', value: 'x' }] }),
      /^s\.jsonl:1: conversations\[0\]\.from: expected one of "system", "human", "gpt", got "bot"/,
    ],
    ['empty content', 'c.jsonl', chat([u('   '), a('b')]), /^c\.jsonl:1: messages\[0\]\.content: is empty$/],
    ['no assistant turn', 'c.jsonl', chat([u('a')]), /^c\.jsonl:1: messages: has no assistant turn/],
    [
      'a weight on a user turn',
      'c.jsonl',
      chat([{ role: 'user', content: 'a', weight: 1 }, a('b')]),
      /messages\[0\]\.weight: only assistant turns take a weight/,
    ],
    [
      'an Alpaca record without output',
      'a.jsonl',
      JSON.stringify({ instruction: 'x', output: 'y' }) + '\n' + JSON.stringify({ instruction: 'x' }),
      /^a\.jsonl:2: output: is missing$/,
    ],
    [
      'a single enormous line',
      'c.jsonl',
      `${chat([u('a'), a('b')])}\n${chat([u('x'.repeat(LIMITS.recordChars)), a('b')])}`,
      /^c\.jsonl:2: the record is 1,000,\d+ characters, over the 1,000,000-character limit$/,
    ],
  ];
  it.each(cases)('%s', (_name, file, text, msg) => {
    const { errors } = parseDataset(text, file);
    expect(errors.length, 'one error').toBe(1);
    expect(errors[0].message).toMatch(msg);
  });
  it('a CSV without a response column names the columns', () => {
    expect(() => parseDataset('foo,bar\n1,2\n', 'x.csv')).toThrow(
      /x\.csv:1: no prompt column found among "foo", "bar"; pick one/,
    );
  });
  it('a file whose records have another shape', () => {
    expect(() => parseDataset('{"question": "a", "answer": "b"}', 'x.jsonl')).toThrow(
      /^x\.jsonl:1: no record looks like chat .* found keys "question", "answer"/,
    );
  });
  it('a binary file', () => {
    expect(() => decodeText(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0, 0, 1), 'photo.png')).toThrow(
      /photo\.png:1: looks like a binary file/,
    );
  });
  it('invalid UTF-8, by line', () => {
    const bytes = new Uint8Array([...enc('{"text": "ok"}\n{"text": "caf'), 0xe9, ...enc('"}\n')]); // Latin-1 é
    expect(() => decodeText(bytes, 'latin1.jsonl')).toThrow(/^latin1\.jsonl:2: is not valid UTF-8/);
    expect(decodeText(enc('\uFEFFhé 你好'), 'x.txt')).toBe('hé 你好');
  });
  it('an empty file', () => {
    expect(() => parseDataset('  \n', 'empty.txt')).toThrow(/empty\.txt:1: is empty/);
    expect(() => parseDataset('\n\n', 'empty.jsonl')).toThrow(/^empty\.jsonl:1: has no records$/);
  });
});
