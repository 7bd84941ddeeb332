// The settings checks the page shows inline (and the worker repeats): each wrong field named, in words.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from './store/index.js';
import { estimateRunMs, presetOf, presets, problemList, settingsProblems } from './settings.js';

describe('settings checks', () => {
  it('accepts the defaults and every preset', () => {
    expect(settingsProblems(DEFAULT_SETTINGS, { nPositions: 1024, validationRows: 3 })).toEqual({});
    for (const model of [{ id: 'tiny' }, { id: 'hub:x|gpt2@main' }]) {
      for (const p of presets(model))
        expect(
          settingsProblems({ ...DEFAULT_SETTINGS, ...p.settings }, { nPositions: 128, validationRows: 3 }),
        ).toEqual({});
    }
  });

  it('names each wrong field', () => {
    const p = settingsProblems(
      { ...DEFAULT_SETTINGS, seq: 2048, batch: 0, lr: -1e-3, warmupSteps: 300, steps: 200, evalEvery: 25 },
      { nPositions: 1024, validationRows: 0 },
    );
    expect(p.seq).toBe("The model's context is 1024 tokens: a sequence of 2048 does not fit (at most 1024).");
    expect(p.batch).toBe('The batch must be at least 1 (got 0).');
    expect(p.lr).toBe('The learning rate must be above 0 (got -0.001).');
    expect(p.warmupSteps).toBe('Warmup (300 steps) is longer than the run (200 steps).');
    expect(p.evalEvery).toMatch(/no validation rows.*set 0/);
    expect(problemList(p)).toHaveLength(5);
    expect(settingsProblems({ ...DEFAULT_SETTINGS, evalEvery: 0 }, { validationRows: 0 })).toEqual({});
  });

  it('refuses what is not a whole number or not a number', () => {
    expect(settingsProblems({ ...DEFAULT_SETTINGS, batch: 2.5 }).batch).toBe(
      'The batch must be a whole number (got 2.5).',
    );
    expect(settingsProblems({ ...DEFAULT_SETTINGS, steps: Number.NaN }).steps).toBe('Steps must be a number.');
    expect(settingsProblems({ ...DEFAULT_SETTINGS, lr: 5 }).lr).toMatch(/diverges/);
  });

  it('knows the preset a set of settings is', () => {
    const hub = { id: 'hub:x|gpt2@main' };
    expect(presetOf(DEFAULT_SETTINGS, { id: 'tiny' })).toBe('quick'); // the studio starts with the tiny model's quick preset
    expect(presetOf({ ...DEFAULT_SETTINGS, ...presets(hub)[0].settings }, hub)).toBe('quick');
    expect(presets(hub)[0].settings.loraRank).toBe(8); // LoRA on a pretrained model; every weight of the random tiny one
    expect(presets({ id: 'tiny' })[0].settings.loraRank).toBe(0);
    expect(presetOf({ ...DEFAULT_SETTINGS, steps: 41 }, { id: 'tiny' })).toBe('custom');
  });

  it('estimates a run from a speed measured before, scaled to the model', () => {
    const s = { ...DEFAULT_SETTINGS, steps: 10, batch: 2, seq: 50, accumulation: 1 };
    expect(estimateRunMs(s, 100, null)).toBeNull();
    expect(estimateRunMs(s, 100, { tokensPerSecond: 1000, params: 100 })).toBe(1000);
    expect(estimateRunMs(s, 200, { tokensPerSecond: 1000, params: 100 })).toBe(2000);
  });
});
