// The OpenAI API's request and response shapes for /v1/chat/completions and /v1/completions, as the official
// clients send and read them: requests checked by valibot schemas into what the batch decoder takes (a bad field
// is a 400 naming it), errors as {"error": {message, type, param, code}}, replies and SSE chunks built here.
import * as v from 'valibot';
import type { Message } from '../engine/data/template.js';
import type { StopReason } from '../engine/generate/generator.js';
import type { TokenLogprob } from '../engine/generate/batch.js';
import { got } from '../engine/util/json.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const num = (what: string, lo: number, hi: number) =>
  v.pipe(v.number(got(what)), v.minValue(lo, got(what)), v.maxValue(hi, got(what)));
const int = (what: string, lo: number, hi = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(got(what)), v.integer(got(what)), v.minValue(lo, got(what)), v.maxValue(hi, got(what)));
const flag = v.boolean(got('true or false'));

const TEXT_PART = v.object({
  type: v.literal('text', got('a "text" part (images and audio are not supported)')),
  text: v.string(),
});
const CONTENT = v.union(
  [v.string(), v.array(TEXT_PART)],
  got('a string or a list of {"type": "text", "text": ...} parts'),
);
const ROLES = ['system', 'developer', 'user', 'assistant'] as const;
const MESSAGE = v.looseObject({
  role: v.picklist(ROLES, got(`one of ${ROLES.join(', ')}`)),
  content: v.nullish(CONTENT),
});

/** Fields both endpoints take. */
const COMMON = {
  model: v.string(got('a model id (a string)')),
  temperature: v.optional(num('a number from 0 to 2', 0, 2)),
  top_p: v.optional(
    v.pipe(
      v.number(got('a number in (0, 1]')),
      v.gtValue(0, got('a number in (0, 1]')),
      v.maxValue(1, got('a number in (0, 1]')),
    ),
  ),
  max_tokens: v.nullish(int('a whole number >= 1', 1)),
  stop: v.nullish(
    v.union(
      [v.string(), v.pipe(v.array(v.string()), v.maxLength(4, got('at most 4 stop strings')))],
      got('a string or a list of up to 4 strings'),
    ),
  ),
  seed: v.nullish(int('a whole number', -(2 ** 53), 2 ** 53)),
  n: v.nullish(v.literal(1, got('1 (one choice per request is served)'))),
  stream: v.nullish(flag),
  stream_options: v.nullish(v.looseObject({ include_usage: v.optional(flag) })),
  frequency_penalty: v.nullish(v.literal(0, got('0 (not supported; use repetition_penalty)'))),
  presence_penalty: v.nullish(v.literal(0, got('0 (not supported; use repetition_penalty)'))),
  // extensions vLLM also takes
  top_k: v.optional(int('a whole number >= 0', 0)),
  repetition_penalty: v.optional(num('a number from 1 to 2', 1, 2)),
};

export const CHAT_REQUEST = v.looseObject({
  ...COMMON,
  messages: v.pipe(v.array(MESSAGE, got('a list of messages')), v.minLength(1, got('at least one message'))),
  max_completion_tokens: v.nullish(int('a whole number >= 1', 1)),
  logprobs: v.nullish(flag),
  top_logprobs: v.nullish(int('a whole number from 0 to 20', 0, 20)),
  tools: v.optional(v.pipe(v.array(v.unknown()), v.maxLength(0, got('no tools (tool calls are not supported)')))),
  response_format: v.optional(v.looseObject({ type: v.literal('text', got('"text" (JSON modes are not supported)')) })),
});

export const COMPLETION_REQUEST = v.looseObject({
  ...COMMON,
  prompt: v.union(
    [v.string(), v.pipe(v.array(v.string()), v.length(1, got('one prompt per request')))],
    got('a string (or a list holding one)'),
  ),
  logprobs: v.nullish(int('a whole number from 0 to 5', 0, 5)),
  echo: v.nullish(v.literal(false, got('false (echo is not supported)'))),
  suffix: v.nullish(v.literal('', got('no suffix (suffix is not supported)'))),
});

export type ChatRequest = v.InferOutput<typeof CHAT_REQUEST>;
export type CompletionRequest = v.InferOutput<typeof COMPLETION_REQUEST>;

/** A request body checked against `schema`, or a 400 naming the first wrong field. */
export function parseRequest<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(400, 'the request body must be a JSON object');
  const r = v.safeParse(schema, body);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const param = v.getDotPath(issue);
  const missing = issue.input === undefined && issue.kind === 'schema';
  throw new ApiError(
    400,
    missing ? `${param}: is required` : `${param ?? 'body'}: ${issue.message}`,
    'invalid_request_error',
    param,
  );
}

/** The messages as the chat template takes them: developer is system, text parts joined. */
export function chatMessages(r: ChatRequest): Message[] {
  return r.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
  }));
}

export const finishReason = (r: StopReason): 'stop' | 'length' =>
  r === 'eos' || r === 'stop-string' || r === 'aborted' ? 'stop' : 'length';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export const usage = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
});

/** One token's entry in a chat reply's logprobs.content. */
export function chatLogprob(text: (id: number) => string, token: number, lp: TokenLogprob) {
  const entry = (id: number, logprob: number) => {
    const t = text(id);
    return { token: t, logprob, bytes: [...new TextEncoder().encode(t)] };
  };
  return { ...entry(token, lp.logprob), top_logprobs: lp.top.map((x) => entry(x.token, x.logprob)) };
}

/** The legacy completions logprobs: parallel lists, top ones as {token: logprob} maps. */
export function completionLogprobs(
  text: (id: number) => string,
  entries: readonly { token: number; lp: TokenLogprob }[],
  k: number,
) {
  let offset = 0;
  const text_offset: number[] = [];
  for (const e of entries) {
    text_offset.push(offset);
    offset += text(e.token).length;
  }
  return {
    tokens: entries.map((e) => text(e.token)),
    token_logprobs: entries.map((e) => e.lp.logprob),
    top_logprobs: k ? entries.map((e) => Object.fromEntries(e.lp.top.map((t) => [text(t.token), t.logprob]))) : null,
    text_offset,
  };
}
