// The OpenAI-compatible HTTP server over one model: GET /health, GET /v1/models, POST /v1/chat/completions and
// POST /v1/completions (streamed as SSE or whole), every request decoded in the shared batch (generate/batch.ts).
// Safe by default: an API key compared in constant time, bodies bounded before parsing, no CORS unless asked, a
// bounded queue (429 with Retry-After), a disconnected client's slot freed at once, and a shutdown that ends the
// streams in flight with an error event. Errors are OpenAI's shape with the right status (openai.ts).
import { createHash, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CHAT_VARS, ChatTemplate, DEFAULT_CHAT_TEMPLATE } from '../engine/data/template.js';
import type { Tokenizer } from '../engine/data/tokenizer.js';
import type { BatchDecoder, BatchEvent, BatchRequest, TokenLogprob } from '../engine/generate/batch.js';
import type { SampleOptions } from '../engine/generate/sampling.js';
import {
  ApiError,
  CHAT_REQUEST,
  chatLogprob,
  chatMessages,
  COMPLETION_REQUEST,
  completionLogprobs,
  finishReason,
  parseRequest,
  usage,
  type ChatRequest,
  type CompletionRequest,
} from './openai.js';

export interface ServedModel {
  /** The id clients name in `model`. */
  readonly id: string;
  readonly tok: Tokenizer;
  readonly template: string;
  /** Temperature and top-p when a request leaves them out (the model's generation_config). */
  readonly sampling: SampleOptions;
}

export interface ServerOptions {
  readonly model: ServedModel;
  readonly decoder: BatchDecoder;
  /** Requests must carry `Authorization: Bearer <key>`. */
  readonly apiKey?: string;
  /** The one origin browsers may call from. */
  readonly cors?: string;
  /** Requests waiting for a slot at most; past it, 429. */
  readonly maxQueue: number;
  readonly maxBodyBytes?: number;
  readonly log?: (line: string) => void;
}

export interface ApiServer {
  readonly server: Server;
  /** Stops taking requests, ends the streams in flight with an error event, and waits for the batch to drain. */
  shutdown(): Promise<void>;
}

const MiB = 2 ** 20;
const fmt = (n: number) => n.toLocaleString('en-US');

/** One generation in flight: what shutdown must end. */
interface Flight {
  readonly abort: AbortController;
  readonly res: ServerResponse;
  streaming: boolean;
}

export function createApiServer(o: ServerOptions): ApiServer {
  const { model, decoder } = o;
  const template = ChatTemplate.forTokenizer(model.tok, model.template, { vars: CHAT_VARS });
  const context = decoder.options.context;
  const created = Math.floor(Date.now() / 1000);
  const keyDigest = o.apiKey ? createHash('sha256').update(o.apiKey).digest() : null;
  const flights = new Set<Flight>();
  let closing = false;
  const tokenText = (id: number) => model.tok.decode([id]);

  const authorized = (req: IncomingMessage) => {
    if (!keyDigest) return true;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return !!m && timingSafeEqual(createHash('sha256').update(m[1]).digest(), keyDigest);
  };

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const limit = o.maxBodyBytes ?? 4 * MiB;
    const tooLarge = () =>
      new ApiError(
        413,
        `the request body is over ${fmt(limit)} bytes`,
        'invalid_request_error',
        null,
        'request_too_large',
      );
    if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > limit) throw tooLarge();
      chunks.push(c as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch (e) {
      throw new ApiError(400, `the request body is not valid JSON (${(e as Error).message})`);
    }
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  function checkModel(name: string) {
    if (name !== model.id)
      throw new ApiError(
        404,
        `the model '${name}' does not exist; this server serves '${model.id}'`,
        'invalid_request_error',
        'model',
        'model_not_found',
      );
  }

  /** The decoder's options for a request, after the checks every generation shares. */
  function batchRequest(
    r: ChatRequest | CompletionRequest,
    prompt: number[],
    what: 'messages' | 'prompt',
    maxTokens: number | null | undefined,
    signal: AbortSignal,
    stops: readonly string[] = [],
  ): BatchRequest {
    const room = context - prompt.length;
    const max = maxTokens ?? room;
    if (room < 1 || prompt.length + max > context)
      throw new ApiError(
        400,
        `this model's context is ${fmt(context)} tokens; the ${what} ${what === 'messages' ? 'are' : 'is'} ${fmt(prompt.length)} and max_tokens asks for ${fmt(max)} more`,
        'invalid_request_error',
        what,
        'context_length_exceeded',
      );
    // a request waits when every slot is taken; past maxQueue waiting, it is refused
    const { active, queued } = decoder.load;
    const waiting = active + queued - decoder.options.maxBatch;
    if (waiting >= 0 && waiting >= o.maxQueue)
      throw new ApiError(
        429,
        `the server is busy: ${fmt(Math.max(0, waiting))} requests are waiting for a slot; retry shortly`,
        'rate_limit_error',
        null,
        'rate_limit_exceeded',
        { 'retry-after': '1' },
      );
    const stop = r.stop == null ? [] : typeof r.stop === 'string' ? [r.stop] : r.stop;
    return {
      temperature: r.temperature ?? model.sampling.temperature,
      topP: r.top_p ?? (r.temperature === undefined ? model.sampling.topP : 1),
      topK: r.top_k ?? 0,
      repetitionPenalty: r.repetition_penalty ?? 1,
      maxNewTokens: max,
      stopStrings: [...stop.filter((s) => s.length > 0), ...stops],
      seed: r.seed ?? randomInt(2 ** 31),
      signal,
    };
  }

  /** Streams or collects one generation; `shape` turns its pieces into the endpoint's JSON. */
  async function generate(
    res: ServerResponse,
    prompt: number[],
    g: BatchRequest,
    stream: { usage: boolean } | null,
    shape: {
      chunk(text: string, lps: { token: number; lp: TokenLogprob }[], finish: string | null): unknown;
      first?(): unknown;
      whole(text: string, lps: { token: number; lp: TokenLogprob }[], finish: string, n: number): unknown;
    },
    flight: Flight,
  ) {
    const events = decoder.generate(prompt, g);
    const lps: { token: number; lp: TokenLogprob }[] = [];
    // with include_usage every chunk carries usage: null but the last, as OpenAI's do
    const write = (x: unknown) =>
      res.write(`data: ${JSON.stringify(stream?.usage ? { ...(x as object), usage: null } : x)}\n\n`);
    let done: Extract<BatchEvent, { type: 'done' }> | null = null;
    if (stream) {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      flight.streaming = true;
      if (shape.first) write(shape.first());
    }
    for await (const e of events) {
      if (e.type === 'done') {
        done = e;
        break;
      }
      if (e.logprob) lps.push({ token: e.token, lp: e.logprob });
      if (stream && (e.text || e.logprob))
        write(shape.chunk(e.text, e.logprob ? [{ token: e.token, lp: e.logprob }] : [], null));
    }
    if (!done || res.destroyed) return;
    if (closing && done.reason === 'aborted') return; // shutdown wrote the ending
    const finish = finishReason(done.reason);
    const u = usage(done.promptTokens, done.tokens.length);
    if (stream) {
      write(shape.chunk('', [], finish));
      if (stream.usage)
        res.write(`data: ${JSON.stringify({ ...(shape.chunk('', [], null) as object), choices: [], usage: u })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else send(res, 200, { ...(shape.whole(done.text, lps, finish, done.tokens.length) as object), usage: u });
  }

  async function chat(req: IncomingMessage, res: ServerResponse, flight: Flight) {
    const r = parseRequest(CHAT_REQUEST, await readBody(req));
    checkModel(r.model);
    if (r.top_logprobs != null && !r.logprobs)
      throw new ApiError(400, 'top_logprobs: needs logprobs set to true', 'invalid_request_error', 'top_logprobs');
    const prompt = model.tok.encode(template.render(chatMessages(r), true));
    // the studio's plain-text template marks turns with "User:" (the chat CLI stops there too)
    const turns = model.template === DEFAULT_CHAT_TEMPLATE ? ['\nUser:'] : [];
    const g = batchRequest(r, prompt, 'messages', r.max_completion_tokens ?? r.max_tokens, flight.abort.signal, turns);
    const head = {
      id: `chatcmpl-${randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      system_fingerprint: null,
    };
    const logprobs = (lps: { token: number; lp: TokenLogprob }[]) =>
      r.logprobs ? { content: lps.map((x) => chatLogprob(tokenText, x.token, x.lp)), refusal: null } : null;
    await generate(
      res,
      prompt,
      { ...g, logprobs: !!r.logprobs, topLogprobs: r.top_logprobs ?? 0 },
      r.stream ? { usage: !!r.stream_options?.include_usage } : null,
      {
        first: () => ({
          ...head,
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
        }),
        chunk: (text, lps, finish) => ({
          ...head,
          object: 'chat.completion.chunk',
          choices: [
            {
              index: 0,
              delta: finish ? {} : { content: text },
              logprobs: lps.length ? logprobs(lps) : null,
              finish_reason: finish,
            },
          ],
        }),
        whole: (text, lps, finish) => ({
          ...head,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: text, refusal: null },
              logprobs: logprobs(lps),
              finish_reason: finish,
            },
          ],
        }),
      },
      flight,
    );
  }

  async function complete(req: IncomingMessage, res: ServerResponse, flight: Flight) {
    const r = parseRequest(COMPLETION_REQUEST, await readBody(req));
    checkModel(r.model);
    const text = typeof r.prompt === 'string' ? r.prompt : r.prompt[0];
    const prompt = model.tok.encode(text);
    if (!prompt.length) throw new ApiError(400, 'prompt: is empty', 'invalid_request_error', 'prompt');
    const k = r.logprobs ?? 0;
    const g = batchRequest(r, prompt, 'prompt', r.max_tokens ?? 16, flight.abort.signal);
    const head = {
      id: `cmpl-${randomUUID()}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      system_fingerprint: null,
    };
    const logprobs = (lps: { token: number; lp: TokenLogprob }[]) =>
      r.logprobs != null ? completionLogprobs(tokenText, lps, k) : null;
    await generate(
      res,
      prompt,
      { ...g, logprobs: r.logprobs != null, topLogprobs: k },
      r.stream ? { usage: !!r.stream_options?.include_usage } : null,
      {
        chunk: (t, lps, finish) => ({
          ...head,
          choices: [{ index: 0, text: t, logprobs: lps.length ? logprobs(lps) : null, finish_reason: finish }],
        }),
        whole: (t, lps, finish) => ({
          ...head,
          choices: [{ index: 0, text: t, logprobs: logprobs(lps), finish_reason: finish }],
        }),
      },
      flight,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (o.cors) {
      res.setHeader('access-control-allow-origin', o.cors);
      res.setHeader('vary', 'origin');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers': 'authorization, content-type',
          'access-control-max-age': '600',
        });
        return void res.end();
      }
    }
    const route = `${req.method} ${path}`;
    if (route === 'GET /health')
      return send(res, 200, { status: closing ? 'stopping' : 'ok', model: model.id, ...decoder.load });
    const known = ['GET /v1/models', `GET /v1/models/${model.id}`, 'POST /v1/chat/completions', 'POST /v1/completions'];
    if (!known.includes(route) && !(req.method === 'GET' && path.startsWith('/v1/models/')))
      throw new ApiError(
        404,
        `unknown route ${route}; this server has GET /health, GET /v1/models, POST /v1/chat/completions, POST /v1/completions`,
        'invalid_request_error',
        null,
        'unknown_url',
      );
    if (!authorized(req))
      throw new ApiError(
        401,
        req.headers.authorization
          ? 'the API key is wrong'
          : 'this server needs an API key: send Authorization: Bearer <key>',
        'invalid_request_error',
        null,
        'invalid_api_key',
      );
    const card = { id: model.id, object: 'model', created, owned_by: 'fine-tune-studio' };
    if (route === 'GET /v1/models') return send(res, 200, { object: 'list', data: [card] });
    if (req.method === 'GET') {
      checkModel(decodeURIComponent(path.slice('/v1/models/'.length)));
      return send(res, 200, card);
    }
    if (closing) throw new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down');
    const flight: Flight = { abort: new AbortController(), res, streaming: false };
    flights.add(flight);
    res.on('close', () => {
      if (!res.writableFinished) flight.abort.abort(); // the client left: free its slot
      flights.delete(flight);
    });
    await (path === '/v1/chat/completions' ? chat(req, res, flight) : complete(req, res, flight));
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    handle(req, res)
      .catch((e: Error) => {
        const err = e instanceof ApiError ? e : new ApiError(500, e.message, 'server_error');
        if (res.headersSent) {
          if (!res.writableEnded) res.end(`data: ${JSON.stringify(err.body())}\n\n`);
        } else send(res, err.status, err.body(), err.headers);
      })
      .finally(() =>
        o.log?.(`${req.method} ${req.url} ${res.statusCode} ${((performance.now() - started) / 1000).toFixed(2)} s`),
      );
  });
  server.requestTimeout = 0; // long generations stream for minutes
  server.headersTimeout = 30_000;

  return {
    server,
    async shutdown() {
      closing = true;
      server.close();
      const ending = new ApiError(
        503,
        'the server is shutting down; this reply was cut short',
        'server_error',
        null,
        'shutting_down',
      );
      const flushed: Promise<unknown>[] = [];
      for (const f of flights) {
        if (f.streaming && !f.res.writableEnded) f.res.end(`data: ${JSON.stringify(ending.body())}\n\n`);
        else if (!f.res.headersSent) send(f.res, 503, ending.body());
        f.abort.abort();
        flushed.push(new Promise((r) => (f.res.writableFinished ? r(null) : f.res.once('finish', r))));
      }
      // the endings reach the clients before their connections close (at most 2 s)
      await Promise.race([Promise.all(flushed), new Promise((r) => setTimeout(r, 2000))]);
      server.closeAllConnections();
      await decoder.release();
    },
  };
}
