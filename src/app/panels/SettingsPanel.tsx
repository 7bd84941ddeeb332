// Settings: a preset (quick LoRA, full fine-tune, custom) with its estimated time and memory, the settings folded
// away under "Advanced", each checked as it is typed (an inline message on the field; Start disabled with the
// reason, nothing sent), the memory the run needs on this backend, and Start.
import { useState } from 'react';
import { estimateMemory } from '../../engine/models/memory.js';
import { loraOfRank } from '../../engine/models/lora.js';
import type { TrainSettings } from '../../protocol.js';
import { estimateRunMs, presetOf, presets, problemList, settingsProblems, type SettingsField } from '../../settings.js';
import { speedKey, useStudio } from '../../store/index.js';
import { fmtBytes, fmtTime } from '../format.js';
import { MemoryEstimate, useFit } from '../MemoryEstimate.js';

const FIELDS: { key: SettingsField; label: string; help: string; step?: number }[] = [
  { key: 'steps', label: 'Steps', help: 'optimizer steps in the run' },
  { key: 'lr', label: 'Learning rate', help: 'peak, after warmup; cosine decay to 10% of it', step: 1e-4 },
  { key: 'batch', label: 'Batch', help: 'sequences per step' },
  { key: 'seq', label: 'Sequence length', help: 'tokens per sequence; longer conversations are cut' },
  { key: 'warmupSteps', label: 'Warmup', help: 'steps of linear warmup' },
  { key: 'loraRank', label: 'LoRA rank', help: '0 trains every weight; >0 trains low-rank adapters only' },
  { key: 'evalEvery', label: 'Eval every', help: 'steps between validation losses (0: off)' },
  { key: 'sampleEvery', label: 'Samples every', help: 'steps between sample replies (0: off)' },
  { key: 'checkpointEvery', label: 'Checkpoint every', help: 'steps between saves to this browser' },
];

export function SettingsPanel() {
  const { settings, setSettings, applyPreset, run, dataset, send, backend, model, speeds, measuring, measureSpeed } =
    useStudio();
  const fit = useFit(model?.config);
  const active = run?.status === 'training' || run?.status === 'paused';
  const problems = settingsProblems(settings, {
    nPositions: model?.nPositions,
    validationRows: dataset?.validationRows,
  });
  const [custom, setCustom] = useState(false); // chosen by hand, even while the values still match a preset
  const preset = custom ? 'custom' : presetOf(settings, model);
  const valid = problemList(problems).length === 0;
  // Advanced opens by itself when the preset becomes custom or a field goes wrong, and only the person folds it: a
  // re-render (the model becoming ready and its preset applied, a problem fixed) never closes it under the cursor.
  // It is opened while rendering, when `needsAdvanced` turns true (React's "adjusting some state when a prop
  // changes"), rather than in an effect that would render the panel twice.
  const [advancedOpen, setAdvancedOpen] = useState(false);
  const needsAdvanced = !!model && (preset === 'custom' || !valid);
  const [neededBefore, setNeededBefore] = useState(false);
  if (needsAdvanced !== neededBefore) {
    setNeededBefore(needsAdvanced);
    if (needsAdvanced) setAdvancedOpen(true);
  }
  const list = presets(model);
  const blocked = [
    ...(!model ? ['The model is still loading.'] : []),
    ...(!dataset ? ['Load a dialogue file first (step 2, Data).'] : []),
    ...(active ? ['A run is going: pause and stop it first.'] : []),
    ...problemList(problems),
    ...(valid ? (fit?.problems.map((p) => `Will not fit: ${p}`) ?? []) : []), // memory is estimated for valid settings only
  ];
  const timeOf = (s: TrainSettings) => {
    const measured = speeds[speedKey(backend, s.loraRank > 0)] ?? null;
    return model ? estimateRunMs(s, model.params, measured) : null;
  };
  const time = timeOf(settings);
  return (
    <section className="panel" data-testid="settings-panel" aria-labelledby="settings-title">
      <div className="step-head">
        <h2 id="settings-title">3. Train</h2>
        <span className={`badge ${blocked.length ? 'todo' : 'done'}`}>{blocked.length ? 'set up' : 'ready'}</span>
      </div>
      <fieldset className="presets" disabled={active}>
        <legend>Preset</legend>
        {list.map((p) => {
          const s = { ...settings, ...p.settings };
          const mem = model
            ? estimateMemory(model.config, s.batch, s.seq, loraOfRank(model.config, s.loraRank), {
                flatParams: backend === 'webgpu',
              })
            : null;
          const t = timeOf(s);
          return (
            <label key={p.name} title={p.what}>
              <input
                type="radio"
                name="preset"
                data-testid={`preset-${p.name}`}
                checked={preset === p.name}
                onChange={() => {
                  setCustom(p.name === 'custom');
                  if (p.name !== 'custom') applyPreset(p.name);
                }}
              />
              <span>
                {p.label}
                <br />
                <small className="muted" data-testid={`preset-${p.name}-estimate`}>
                  {mem ? fmtBytes(mem.trainingBytes) : ''}
                  {t !== null ? ` · ~${fmtTime(t)}` : ''}
                </small>
              </span>
            </label>
          );
        })}
      </fieldset>
      <p className="muted" style={{ margin: '0 0 6px' }}>
        {list.find((p) => p.name === preset)!.what}
      </p>
      <details data-testid="advanced" open={advancedOpen} onToggle={(e) => setAdvancedOpen(e.currentTarget.open)}>
        <summary>Advanced settings</summary>
        <div className="grid">
          {FIELDS.map((f) => {
            const v = settings[f.key] as number;
            const wrong = problems[f.key];
            return (
              <div key={f.key} className="field">
                <label htmlFor={`set-${f.key}`}>{f.label}</label>
                <input
                  id={`set-${f.key}`}
                  type="number"
                  data-testid={`set-${f.key}`}
                  value={Number.isNaN(v) ? '' : v}
                  step={f.step ?? 1}
                  min={0}
                  disabled={active}
                  aria-invalid={wrong ? true : undefined}
                  aria-describedby={`${f.key}-help${wrong ? ` ${f.key}-error` : ''}`}
                  onChange={(e) => setSettings({ [f.key]: e.target.valueAsNumber })}
                />
                <small id={`${f.key}-help`}>{f.help}</small>
                {wrong && (
                  <span className="invalid" id={`${f.key}-error`} data-testid={`invalid-${f.key}`}>
                    {wrong}
                  </span>
                )}
              </div>
            );
          })}
        </div>
      </details>
      {valid ? (
        <MemoryEstimate config={model?.config} testId="run-memory" />
      ) : (
        <p className="muted">Memory and time are estimated once the settings above are fixed.</p>
      )}
      {valid && (
        <p className="muted" data-testid="time-estimate">
          {time !== null
            ? `Estimated time: ~${fmtTime(time)} for ${settings.steps} steps at the speed measured on ${backend === 'webgpu' ? 'WebGPU' : 'WASM'} here (evaluation and samples add to it). `
            : "Estimated time: not known until this backend's speed is measured (a run's first steps measure it). "}
          <button
            data-testid="measure-speed"
            disabled={measuring || active || !model || (fit?.problems.length ?? 0) > 0}
            onClick={measureSpeed}
            title="Times two training steps of this model at these settings on random tokens (one more compiles first); nothing is stored"
          >
            {measuring ? 'Measuring…' : time !== null ? 'Measure again' : 'Measure speed'}
          </button>
        </p>
      )}
      <div className="row">
        <button
          className="primary"
          data-testid="start"
          disabled={blocked.length > 0}
          aria-describedby={blocked.length ? 'start-blocked' : undefined}
          onClick={() => send({ type: 'start-run', settings })}
        >
          Start training
        </button>
      </div>
      {blocked.length > 0 && (
        <ul
          className="muted"
          id="start-blocked"
          data-testid="start-blocked"
          aria-label="Why Start is disabled"
          style={{ margin: 0, paddingLeft: 18 }}
        >
          {blocked.map((b, i) => (
            <li key={i}>{b}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
