// JSON read from files (a repo's config and tokenizer files, an adapter's config, the cache's own records), parsed
// and checked against a valibot schema, so a bad file is one clear error naming the file and the field
// ("adapter_config.json: r: expected a positive integer, got 0") instead of a value used as a type it is not.
import * as v from 'valibot';

export class JsonFileError extends Error {
  readonly code = 'JSON_FILE';
}

type ErrorMaker = (message: string) => Error;
const defaultError: ErrorMaker = (m) => new JsonFileError(m);

/** The parsed JSON of a file, or an error naming the file when it is not JSON. */
export function parseJsonFile(content: string | Uint8Array, file: string, error = defaultError): unknown {
  const text = typeof content === 'string' ? content : new TextDecoder().decode(content);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw error(`${file} is not valid JSON (${(e as Error).message})`);
  }
}

/** The first problem of a failed check, as `file: field: message`. */
export function schemaMessage(file: string, issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  const path = v.getDotPath(issue);
  return `${file}: ${path ? `${path}: ` : ''}${issue.message}`;
}

/** A file's JSON checked against `schema`; the error names the file and the first field that is wrong. */
export function readJsonFile<S extends v.GenericSchema>(
  content: string | Uint8Array,
  file: string,
  schema: S,
  error = defaultError,
): v.InferOutput<S> {
  const r = v.safeParse(schema, parseJsonFile(content, file, error));
  if (!r.success) throw error(schemaMessage(file, r.issues));
  return r.output;
}

/** Messages that say what was expected and what came, e.g. `expected a positive integer, got 0`. */
export const got = (expected: string) => (issue: v.BaseIssue<unknown>) =>
  `expected ${expected}, got ${JSON.stringify(issue.input) ?? String(issue.input)}`;
export const positiveInt = v.pipe(
  v.number(got('a positive integer')),
  v.integer(got('a positive integer')),
  v.minValue(1, got('a positive integer')),
);
export const positiveNumber = v.pipe(v.number(got('a positive number')), v.gtValue(0, got('a positive number')));
