// The store folds worker messages into panel slices; a rejected file never replaces the loaded dataset.
import { describe, expect, it } from 'vitest';
import type { DatasetSummary, FromWorker, RunState, ToWorker } from '../protocol.js';
import { createStudioStore, DEFAULT_SETTINGS } from './index.js';

const summary: DatasetSummary = { file: 'a.jsonl', format: 'chat', kind: 'chat', records: 3, turns: 6, histogram: [3, 0, 0, 0, 0, 0, 0], skipped: 0, trainRows: 3, validationRows: 0, trainedTokens: 10, totalTokens: 30, truncated: 0, preview: [] };
const run: RunState = {
  id: 'r1', template: '', createdAt: 1, model: 'tiny', dataset: 'a.jsonl', settings: DEFAULT_SETTINGS, status: 'training', step: 0, checkpointStep: 0,
  lastLoss: null, steps: [], evals: [], samples: [], error: null, elapsedMs: 0, etaMs: null,
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
    apply({ type: 'data-rejected', file: 'b.jsonl', total: 1, skippable: false, errors: [{ file: 'b.jsonl', line: 2, field: 'messages', message: 'b.jsonl:2: messages: is empty' }] });
    expect(s.getState().dataset?.file).toBe('a.jsonl');
    expect(s.getState().rejected?.errors[0].line).toBe(2);
    apply({ type: 'data-loaded', summary: { ...summary, file: 'c.jsonl' } });
    expect(s.getState().rejected).toBeNull();
  });

  it('appends steps, evals and samples to the current run and tracks its status', () => {
    const { s, apply } = store();
    apply({ type: 'run', run });
    for (let i = 1; i <= 3; i++) apply({ type: 'step', point: { step: i, loss: 10 - i, lr: 1e-3, gradNorm: 1, tokensPerSecond: 50 }, elapsedMs: i * 1000, etaMs: 5000 });
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
    expect(s.getState().chat.at(-1)).toEqual({ role: 'assistant', content: 'Hello' });
    expect(s.getState()).toMatchObject({ streaming: null, chatTokensPerSecond: 12 });
    s.getState().sendChat('again');
    apply({ type: 'error', context: 'chat', message: 'device lost' });
    expect(s.getState().streaming).toBeNull();
    expect(s.getState().errors.at(-1)).toEqual({ context: 'chat', message: 'device lost' });
  });

  it('chooses a backend at once and tells the worker', () => {
    const { s, sent, apply } = store();
    apply({ type: 'ready', runs: [], device: { webgpu: { ok: false, reason: 'no adapter' }, crossOriginIsolated: true, threads: 2 } });
    expect(s.getState().backend).toBe('wasm');
    s.getState().chooseBackend('webgpu');
    expect(s.getState().backend).toBe('webgpu');
    expect(sent.at(-1)).toEqual({ type: 'set-backend', backend: 'webgpu' });
  });
});
