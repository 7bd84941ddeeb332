// The store folds worker messages into panel slices; a rejected file never replaces the loaded dataset.
import { DEFAULT_CHAT_TEMPLATE } from '../engine/data/template.js';
import { describe, expect, it } from 'vitest';
import type { DatasetSummary, FromWorker, RunState, ToWorker } from '../protocol.js';
import { createStudioStore, DEFAULT_SETTINGS } from './index.js';

const summary: DatasetSummary = {
  file: 'a.jsonl',
  format: 'chat',
  kind: 'chat',
  records: 3,
  turns: 6,
  histogram: [3, 0, 0, 0, 0, 0, 0],
  skipped: 0,
  trainRows: 3,
  validationRows: 0,
  trainedTokens: 10,
  totalTokens: 30,
  truncated: 0,
  preview: [],
};
const run: RunState = {
  id: 'r1',
  template: '',
  createdAt: 1,
  model: 'tiny',
  dataset: 'a.jsonl',
  settings: DEFAULT_SETTINGS,
  status: 'training',
  step: 0,
  checkpointStep: 0,
  lastLoss: null,
  steps: [],
  evals: [],
  samples: [],
  error: null,
  elapsedMs: 0,
  etaMs: null,
};

function store() {
  const s = createStudioStore();
  const sent: ToWorker[] = [];
  s.getState().setSender((m) => sent.push(m));
  const apply = (m: FromWorker) => s.getState().apply(m);
  return { s, sent, apply };
}

describe('studio store', () => {
  it('keeps the loaded dataset when a later file is rejected', () => {
    const { s, apply } = store();
    apply({ type: 'data-loaded', summary });
    apply({
      type: 'data-rejected',
      file: 'b.jsonl',
      total: 1,
      skippable: false,
      errors: [{ file: 'b.jsonl', line: 2, field: 'messages', message: 'b.jsonl:2: messages: is empty' }],
    });
    expect(s.getState().dataset?.file).toBe('a.jsonl');
    expect(s.getState().rejected?.errors[0].line).toBe(2);
    apply({ type: 'data-loaded', summary: { ...summary, file: 'c.jsonl' } });
    expect(s.getState().rejected).toBeNull();
  });

  it("takes a new model's chat template, but the worker's start-up report keeps a template already typed", () => {
    const { s, apply } = store();
    const tiny = { id: 'tiny', name: 'tiny', params: 1, nPositions: 64, config: {} as never, family: 'GPT-2' };
    s.getState().setDataOptions({ template: 'typed before the worker reported' });
    apply({ type: 'model', model: { ...tiny, template: DEFAULT_CHAT_TEMPLATE } });
    expect(s.getState().dataOptions.template).toBe('typed before the worker reported');
    apply({ type: 'model', model: { ...tiny, template: DEFAULT_CHAT_TEMPLATE } }); // the same model again
    expect(s.getState().dataOptions.template).toBe('typed before the worker reported');
    const chatml = '{{ "<|im_start|>" }}';
    apply({ type: 'model', model: { ...tiny, id: 'hub:x|acme/smol@main', family: 'Llama', template: chatml } });
    expect(s.getState().dataOptions.template).toBe(chatml);
  });

  it('appends steps, evals and samples to the current run and tracks its status', () => {
    const { s, apply } = store();
    apply({ type: 'run', run });
    for (let i = 1; i <= 3; i++)
      apply({
        type: 'step',
        point: { step: i, loss: 10 - i, lr: 1e-3, gradNorm: 1, tokensPerSecond: 50 },
        elapsedMs: i * 1000,
        etaMs: 5000,
      });
    apply({ type: 'eval', point: { step: 3, loss: 7.5 } });
    apply({ type: 'sample', sample: { step: 3, prompt: 'User: hi\nAssistant:', text: ' hello' } });
    apply({ type: 'run-status', status: 'paused', step: 3, checkpointStep: 3, error: null, checkpointError: null });
    const r = s.getState().run!;
    expect(r.steps.map((p) => p.loss)).toEqual([9, 8, 7]);
    expect(r).toMatchObject({ step: 3, lastLoss: 7, status: 'paused', checkpointStep: 3, elapsedMs: 3000 });
    expect(r.evals).toEqual([{ step: 3, loss: 7.5 }]);
    expect(r.samples[0].text).toBe(' hello');
    expect(run.steps).toEqual([]); // the message's own arrays are not mutated
  });

  it('streams chat tokens into the last reply and ends the stream on done or error', () => {
    const { s, sent, apply } = store();
    s.getState().sendChat('hi');
    const msg = sent.at(-1)!;
    expect(msg).toMatchObject({ type: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    const id = (msg as Extract<ToWorker, { type: 'chat' }>).id;
    apply({ type: 'chat-token', id, text: 'Hel' });
    apply({ type: 'chat-token', id, text: 'lo' });
    apply({ type: 'chat-token', id: id + 99, text: 'stale' }); // from another request: ignored
    apply({ type: 'chat-done', id, reason: 'eos', tokensPerSecond: 12 });
    expect(s.getState().chat.at(-1)).toEqual({ role: 'assistant', content: 'Hello', tokensPerSecond: 12 });
    expect(s.getState()).toMatchObject({ streaming: null, chatTokensPerSecond: 12 });
    s.getState().sendChat('again');
    apply({ type: 'error', context: 'chat', message: 'device lost' });
    expect(s.getState().streaming).toBeNull();
    expect(s.getState().errors.at(-1)).toEqual({ context: 'chat', message: 'device lost' });
  });

  it('compares: the tuned reply, then the base model on the same conversation, side by side; stop ends both', () => {
    const { s, sent, apply } = store();
    s.getState().setSystemPrompt('Be brief.');
    s.getState().setCompare(true);
    s.getState().sendChat('hi');
    const tuned = sent.at(-1) as Extract<ToWorker, { type: 'chat' }>;
    expect(tuned).toMatchObject({
      weights: 'tuned',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    });
    apply({ type: 'chat-token', id: tuned.id, text: 'tuned!' });
    apply({ type: 'chat-done', id: tuned.id, reason: 'eos', tokensPerSecond: 5 });
    const base = sent.at(-1) as Extract<ToWorker, { type: 'chat' }>;
    expect(base).toMatchObject({ weights: 'base', messages: tuned.messages });
    expect(base.id).not.toBe(tuned.id);
    apply({ type: 'chat-token', id: base.id, text: 'base.' });
    apply({ type: 'chat-done', id: base.id, reason: 'eos', tokensPerSecond: 6 });
    expect(s.getState().chat.at(-1)).toMatchObject({ content: 'tuned!', base: 'base.' });
    expect(sent.filter((m) => m.type === 'chat')).toHaveLength(2);
    // stopped while the tuned reply streams: the base model is not asked
    s.getState().sendChat('more');
    const next = sent.at(-1) as Extract<ToWorker, { type: 'chat' }>;
    expect(next.messages.map((m) => m.content)).toEqual(['Be brief.', 'hi', 'tuned!', 'more']); // the tuned replies are the history
    s.getState().stopChat();
    expect(sent.at(-1)).toEqual({ type: 'chat-stop', id: next.id });
    apply({ type: 'chat-done', id: next.id, reason: 'stopped', tokensPerSecond: 1 });
    expect(sent.filter((m) => m.type === 'chat')).toHaveLength(3);
  });

  it('regenerates the last reply from the same turns, and clears', () => {
    const { s, sent, apply } = store();
    s.getState().sendChat('hi');
    const first = sent.at(-1) as Extract<ToWorker, { type: 'chat' }>;
    apply({ type: 'chat-token', id: first.id, text: 'one' });
    apply({ type: 'chat-done', id: first.id, reason: 'eos', tokensPerSecond: 5 });
    s.getState().regenerate();
    const again = sent.at(-1) as Extract<ToWorker, { type: 'chat' }>;
    expect(again.messages).toEqual(first.messages);
    expect(s.getState().chat).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', base: undefined },
    ]);
    apply({ type: 'chat-done', id: again.id, reason: 'eos', tokensPerSecond: 5 });
    s.getState().clearChat();
    expect(s.getState().chat).toEqual([]);
  });

  it('"Try it" starts the quick preset once the tiny model and the sample data are in, and only then', () => {
    const { s, sent, apply } = store();
    globalThis.fetch = () => Promise.resolve(new Response('{}'));
    s.getState().tryIt();
    expect(s.getState().settings).toMatchObject({ loraRank: 0, seq: 64, steps: 40, sampleEvery: 5 }); // the tiny model's quick preset
    const model = {
      id: 'tiny',
      name: 'tiny',
      params: 1,
      nPositions: 128,
      config: {} as never,
      family: 'GPT-2',
      template: '',
    };
    apply({ type: 'model', model });
    expect(sent.some((m) => m.type === 'start-run')).toBe(false); // the data is not in yet
    apply({ type: 'data-loaded', summary: { ...summary, file: 'sample-support.jsonl', validationRows: 4 } });
    expect(sent.at(-1)).toMatchObject({ type: 'start-run', settings: { steps: 40 } });
    expect(s.getState().tour).toEqual({ stage: 'running', error: null });
    apply({ type: 'data-loaded', summary: { ...summary, file: 'sample-support.jsonl', validationRows: 4 } });
    expect(sent.filter((m) => m.type === 'start-run')).toHaveLength(1);
  });

  it('"Try it" says why it could not start (the settings check), and sends nothing', () => {
    const { s, sent, apply } = store();
    globalThis.fetch = () => Promise.resolve(new Response('{}'));
    s.getState().tryIt();
    apply({
      type: 'model',
      model: {
        id: 'tiny',
        name: 'tiny',
        params: 1,
        nPositions: 32,
        config: {} as never,
        family: 'GPT-2',
        template: '',
      },
    });
    apply({ type: 'data-loaded', summary: { ...summary, file: 'sample-support.jsonl', validationRows: 4 } });
    expect(s.getState().tour?.error).toMatch(/context is 32 tokens/);
    expect(sent.some((m) => m.type === 'start-run')).toBe(false);
  });

  it('overlays the ticked runs: asks for their curves, drops deleted ones', () => {
    const { s, sent, apply } = store();
    const r = (id: string) => ({ ...run, id });
    apply({ type: 'runs', runs: [r('a'), r('b')] });
    s.getState().toggleOverlay('a');
    s.getState().toggleOverlay('b');
    expect(sent.at(-1)).toEqual({ type: 'run-curves', ids: ['a', 'b'] });
    apply({
      type: 'run-curves',
      curves: [
        { id: 'a', steps: [], evals: [] },
        { id: 'b', steps: [], evals: [] },
      ],
    });
    apply({ type: 'runs', runs: [r('b')] });
    expect(s.getState().overlay).toEqual(['b']);
    expect(s.getState().curves.map((c) => c.id)).toEqual(['b']);
  });

  it('opens a run from the list, then resumes it or brings its exports into view', () => {
    const { s, sent, apply } = store();
    s.getState().openThen('r1', 'resume');
    expect(sent.at(-1)).toEqual({ type: 'open-run', id: 'r1' });
    apply({ type: 'run', run: { ...run, id: 'r0' } }); // another run shown first: nothing yet
    expect(sent.at(-1)).toEqual({ type: 'open-run', id: 'r1' });
    apply({ type: 'run', run: { ...run, status: 'interrupted' } });
    expect(sent.at(-1)).toEqual({ type: 'resume' });
    apply({ type: 'run', run }); // later messages about the run do not resume again
    expect(sent.filter((m) => m.type === 'resume')).toHaveLength(1);
    s.getState().openThen('r1', 'export');
    apply({ type: 'run', run });
    expect(s.getState().exportFocus).toBe(1);
  });

  it('measures the speed on request and keeps it per backend and kind of run', () => {
    const { s, sent, apply } = store();
    s.getState().measureSpeed();
    expect(sent.at(-1)).toEqual({ type: 'measure-speed', settings: DEFAULT_SETTINGS });
    expect(s.getState().measuring).toBe(true);
    apply({ type: 'speed', backend: 'wasm', lora: true, tokensPerSecond: 900, params: 3e6 });
    expect(s.getState().measuring).toBe(false);
    expect(s.getState().speeds['wasm:lora']).toEqual({ tokensPerSecond: 900, params: 3e6 });
    s.getState().measureSpeed();
    apply({ type: 'error', context: 'measure-speed', message: 'no' });
    expect(s.getState().measuring).toBe(false);
  });

  it('chooses a backend at once and tells the worker', () => {
    const { s, sent, apply } = store();
    apply({
      type: 'ready',
      runs: [],
      device: { webgpu: { ok: false, reason: 'no adapter' }, crossOriginIsolated: true, threads: 2 },
    });
    expect(s.getState().backend).toBe('wasm');
    s.getState().chooseBackend('webgpu');
    expect(s.getState().backend).toBe('webgpu');
    expect(sent.at(-1)).toEqual({ type: 'set-backend', backend: 'webgpu' });
  });
});
