// Train: hyperparameters with defaults and short explanations; start, pause, resume, stop; the live chart;
// step, tokens/s, elapsed, ETA; sample replies to fixed prompts every N steps.
import { useState } from 'react';
import { useStudio } from '../../store/index.js';
import type { TrainSettings } from '../../protocol.js';
import { LossChart } from '../LossChart.js';
import { fmtBytes, fmtTime } from '../format.js';
import { MemoryEstimate, useFit } from '../MemoryEstimate.js';

const FIELDS: { key: keyof TrainSettings; label: string; help: string; step?: number }[] = [
  { key: 'steps', label: 'Steps', help: 'optimizer steps in the run' },
  { key: 'lr', label: 'Learning rate', help: 'peak, after warmup; cosine decay to 10% of it', step: 1e-4 },
  { key: 'batch', label: 'Batch', help: 'sequences per step' },
  { key: 'seq', label: 'Sequence length', help: 'tokens per sequence; longer conversations are cut' },
  { key: 'warmupSteps', label: 'Warmup', help: 'steps of linear warmup' },
  { key: 'loraRank', label: 'LoRA rank', help: '0 trains every weight; >0 trains low-rank adapters only' },
  { key: 'evalEvery', label: 'Eval every', help: 'steps between validation losses' },
  { key: 'sampleEvery', label: 'Samples every', help: 'steps between sample replies' },
  { key: 'checkpointEvery', label: 'Checkpoint every', help: 'steps between saves to this browser' },
];

export function TrainPanel() {
  const { settings, setSettings, run, dataset, send, backend, model } = useStudio();
  const fit = useFit(model?.config);
  const [smoothing, setSmoothing] = useState(0.6);
  const [log, setLog] = useState(false);
  const status = run?.status;
  const active = status === 'training' || status === 'paused';
  const last = run?.steps[run.steps.length - 1];
  const memPeak = run?.steps.reduce((m, p) => Math.max(m, p.deviceMemory?.peakBytes ?? 0), 0) ?? 0;
  const memKind = backend === 'webgpu' ? 'GPU buffers' : 'WASM heap';
  return (
    <section className="panel" data-testid="train-panel">
      <h2>Train</h2>
      <div className="grid">
        {FIELDS.map((f) => (
          <label key={f.key} title={f.help}>
            {f.label}
            <input type="number" data-testid={`set-${f.key}`} value={settings[f.key] as number} step={f.step ?? 1} min={0} disabled={active}
              onChange={(e) => setSettings({ [f.key]: Number(e.target.value) })} />
            <small>{f.help}</small>
          </label>
        ))}
      </div>
      <MemoryEstimate config={model?.config} testId="run-memory" />
      <div className="row">
        <button data-testid="start" disabled={!dataset || active || !!fit?.problems.length} title={fit?.problems.join(' ')} onClick={() => send({ type: 'start-run', settings })}>Start training</button>
        <button data-testid="pause" disabled={status !== 'training'} onClick={() => send({ type: 'pause' })}>Pause</button>
        <button data-testid="resume" disabled={!(status === 'paused' || status === 'interrupted' || status === 'failed' || status === 'stopped')} onClick={() => send({ type: 'resume' })}>Resume</button>
        <button data-testid="stop" disabled={!active} onClick={() => send({ type: 'stop' })}>Stop</button>
      </div>
      {run && (
        <>
          <p data-testid="run-status" data-run-id={run.id}>
            <b data-testid="status">{run.status}</b> · step <span data-testid="step">{run.step}</span>/{run.settings.steps} · loss{' '}
            <span data-testid="loss">{run.lastLoss?.toFixed(4) ?? '-'}</span> · {last ? `${last.tokensPerSecond.toFixed(0)} tokens/s` : '-'} · elapsed{' '}
            {fmtTime(run.elapsedMs)} · ETA {status === 'training' ? fmtTime(run.etaMs) : '-'} · last checkpoint: step <span data-testid="checkpoint-step">{run.checkpointStep}</span>
            {last?.deviceMemory && (
              <span data-testid="device-memory" data-peak-bytes={memPeak} title="measured: the bytes the engine holds on the device, after the last step and at most during any step">
                {' '}· device memory ({memKind}): {fmtBytes(last.deviceMemory.currentBytes)} now, {fmtBytes(memPeak)} peak
              </span>
            )}
          </p>
          {last?.weightsOnDevice && (
            <p className="muted" data-testid="residency">
              weights in GPU buffers: {last.weightsOnDevice.onDevice}/{last.weightsOnDevice.total} tensors · read back to the CPU in the last step: {last.readBackBytes} bytes (the loss and the gradient norm)
            </p>
          )}
          {run.error && <p className="error" data-testid="run-error">{run.error}</p>}
          {run.checkpointError && <p className="error" data-testid="checkpoint-error">{run.checkpointError}</p>}
          <div className="row">
            <label>smoothing <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} /></label>
            <label><input type="checkbox" checked={log} onChange={(e) => setLog(e.target.checked)} /> log scale</label>
          </div>
          <LossChart steps={run.steps} evals={run.evals} smoothing={smoothing} log={log} version={run.steps.length} />
          <h3>Sample replies</h3>
          <ol className="samples" data-testid="samples">
            {run.samples.slice(-6).map((s, i) => (
              <li key={i}><span className="muted">step {s.step}</span><pre>{s.prompt}<b>{s.text}</b></pre></li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
