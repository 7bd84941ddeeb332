// A JSON file checked by a schema: the error names the file and the first wrong field, and says what it got.
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { GENERATION_CONFIG, TOKENIZER_CONFIG, TOKENIZER_JSON } from '../hub/schemas.js';
import { JsonFileError, parseJsonFile, positiveInt, readJsonFile } from './json.js';

describe('JSON files', () => {
  it('names the file when it is not JSON', () => {
    expect(() => parseJsonFile('{"a": ', 'repo/config.json')).toThrow(/^repo\/config\.json is not valid JSON \(/);
    expect(() => parseJsonFile('{"a": ', 'x.json')).toThrow(JsonFileError);
  });

  it('names the field a schema refuses, with what it got', () => {
    const schema = v.object({ n_layer: positiveInt, nested: v.object({ ids: v.array(positiveInt) }) });
    expect(() => readJsonFile('{"n_layer": 0, "nested": {"ids": [1]}}', 'c.json', schema)).toThrow(
      'c.json: n_layer: expected a positive integer, got 0',
    );
    expect(() => readJsonFile('{"n_layer": 2, "nested": {"ids": [1, 2.5]}}', 'c.json', schema)).toThrow(
      'c.json: nested.ids.1: expected a positive integer, got 2.5',
    );
    expect(readJsonFile('{"n_layer": 2, "nested": {"ids": [3]}}', 'c.json', schema)).toEqual({
      n_layer: 2,
      nested: { ids: [3] },
    });
  });

  it("takes the Hub's tokenizer files and keeps fields it does not check", () => {
    const tok = { version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: ['a b', ['a', 'b']] } };
    expect(readJsonFile(JSON.stringify(tok), 'tokenizer.json', TOKENIZER_JSON)).toEqual(tok);
    const cfg = { eos_token: { content: '<|im_end|>', lstrip: false }, chat_template: '{{ x }}', model_max_length: 8 };
    expect(readJsonFile(JSON.stringify(cfg), 'tokenizer_config.json', TOKENIZER_CONFIG)).toEqual(cfg);
    expect(readJsonFile('{"eos_token_id": [1, 2], "do_sample": true}', 'g.json', GENERATION_CONFIG)).toEqual({
      eos_token_id: [1, 2],
      do_sample: true,
    });
  });

  it('refuses tokenizer files whose fields have the wrong type', () => {
    expect(() => readJsonFile('{"model": {"vocab": {"a": "0"}}}', 'r/tokenizer.json', TOKENIZER_JSON)).toThrow(
      'r/tokenizer.json: model.vocab.a: expected a token id, got "0"',
    );
    expect(() => readJsonFile('{"chat_template": 3}', 'r/tokenizer_config.json', TOKENIZER_CONFIG)).toThrow(
      'r/tokenizer_config.json: chat_template: expected a Jinja template string, got 3',
    );
    expect(() => readJsonFile('{"eos_token_id": "2"}', 'r/generation_config.json', GENERATION_CONFIG)).toThrow(
      'r/generation_config.json: eos_token_id: expected a token id or a list of them, got "2"',
    );
  });
});
