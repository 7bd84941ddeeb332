// The protocol's messages survive structured cloning (what postMessage does) with their typed arrays and shapes,
// and the exhaustiveness guard names what it was given.
import { describe, expect, it } from 'vitest';
import { unreachable, type FromWorker, type ToWorker } from './protocol.js';

describe('worker protocol', () => {
  it('round-trips every message kind through structuredClone', () => {
    const msgs: (ToWorker | FromWorker)[] = [
      { type: 'init' },
      {
        type: 'load-data',
        file: 'a.jsonl',
        bytes: new TextEncoder().encode('{}').buffer,
        options: {
          format: 'auto',
          skipBad: true,
          lossOn: 'assistant',
          overflow: 'drop-oldest',
          pack: false,
          template: '{{ x }}',
        },
        seq: 64,
      },
      {
        type: 'chat',
        id: 3,
        messages: [{ role: 'user', content: '你好 🙂' }],
        settings: { temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.1, maxNewTokens: 8 },
        weights: 'base',
      },
      {
        type: 'run-curves',
        curves: [{ id: 'r', steps: [{ step: 1, loss: 3 }], evals: [{ step: 1, loss: 3.5 }] }],
      },
      {
        type: 'step',
        point: { step: 1, loss: 10.8, lr: 1e-4, gradNorm: 2.5, tokensPerSecond: 100 },
        elapsedMs: 1,
        etaMs: 2,
      },
      {
        type: 'data-rejected',
        file: 'b.jsonl',
        total: 1,
        skippable: true,
        errors: [{ file: 'b.jsonl', line: 7, field: 'messages[0].role', message: 'x' }],
      },
    ];
    for (const m of msgs) expect(structuredClone(m)).toEqual(m);
  });
  it('names an unhandled message', () => {
    expect(() => unreachable({ type: 'nope' } as never)).toThrow(/unhandled message {"type":"nope"}/);
  });
});
