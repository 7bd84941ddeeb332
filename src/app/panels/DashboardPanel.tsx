// The live run: status and controls (pause, resume, stop), the loss chart (with its text alternative), and the
// sample replies as a timeline by step, newest first, so a person sees them improve.
import { useState } from 'react';
import { useStudio } from '../../store/index.js';
import { LossChart } from '../LossChart.js';

export function DashboardPanel() {
  const { run, send, backend, tryIt, tour } = useStudio();
  const [smoothing, setSmoothing] = useState(0.6);
  const [log, setLog] = useState(false);
  const status = run?.status;
  const active = status === 'training' || status === 'paused';
  const last = run?.steps[run.steps.length - 1];
  const byStep = new Map<number, { prompt: string; text: string }[]>();
  for (const s of run?.samples ?? []) byStep.set(s.step, [...(byStep.get(s.step) ?? []), s]);
  const timeline = [...byStep.entries()].sort((a, b) => b[0] - a[0]);
  return (
    <section className="panel" data-testid="train-panel" aria-labelledby="run-title">
      <h2 id="run-title" className="sr-only">
        Training run
      </h2>
      {!run ? (
        <div data-testid="empty-run">
          <h2>No run yet</h2>
          <p>
            Press <b>Try it</b> (top right) to fine-tune the offline tiny GPT-2 on the bundled sample conversations in
            one click, or set up your own run on the left: a model, your dialogue file, a preset, then{' '}
            <b>Start training</b>.
          </p>
          <p>
            <button
              className="primary"
              data-testid="try-it-empty"
              disabled={tour?.stage === 'loading' && !tour.error}
              onClick={tryIt}
            >
              Try it: train the tiny model on sample chats
            </button>
          </p>
          <p className="muted">
            The loss chart, sample replies and the run's figures appear here as it trains; chat with the model at any
            time on the right.
          </p>
        </div>
      ) : (
        <>
          <div className="runbar" data-testid="run-status" data-run-id={run.id}>
            <span className={`badge ${status === 'completed' ? 'done' : status === 'failed' ? 'bad' : 'todo'}`}>
              <span data-testid="status">{run.status}</span>
            </span>
            <span className="muted what" title={run.id}>
              {run.name ?? run.dataset} · last checkpoint: step{' '}
              <span data-testid="checkpoint-step">{run.checkpointStep}</span>
            </span>
            <button data-testid="pause" disabled={status !== 'training'} onClick={() => send({ type: 'pause' })}>
              Pause
            </button>
            <button
              data-testid="resume"
              disabled={
                !(status === 'paused' || status === 'interrupted' || status === 'failed' || status === 'stopped')
              }
              onClick={() => send({ type: 'resume' })}
            >
              Resume
            </button>
            <button data-testid="stop" disabled={!active} onClick={() => send({ type: 'stop' })}>
              Stop
            </button>
          </div>
          {run.error && (
            <p className="error" data-testid="run-error" role="alert">
              {run.error}
            </p>
          )}
          {run.checkpointError && (
            <p className="error" data-testid="checkpoint-error">
              {run.checkpointError}
            </p>
          )}
          <div className="row compact" style={{ margin: '2px 0' }}>
            <label>
              Smoothing{' '}
              <input
                type="range"
                min={0}
                max={0.99}
                step={0.01}
                value={smoothing}
                onChange={(e) => setSmoothing(Number(e.target.value))}
              />
            </label>
            <label>
              <input type="checkbox" checked={log} onChange={(e) => setLog(e.target.checked)} /> Log scale
            </label>
            {backend === 'wasm' && <span className="muted">WASM fallback: CPU speed</span>}
          </div>
          <LossChart steps={run.steps} evals={run.evals} smoothing={smoothing} log={log} version={run.steps.length} />
          {last?.weightsOnDevice && (
            <div
              className="muted oneline"
              data-testid="residency"
              title="weights stay on the GPU: nothing but the loss and the gradient norm comes back each step"
            >
              weights in GPU buffers: {last.weightsOnDevice.onDevice}/{last.weightsOnDevice.total} tensors · read back
              to the CPU in the last step: {last.readBackBytes} bytes (the loss and the gradient norm)
            </div>
          )}
          <div className="timeline" role="region" aria-label="Sample replies by step" tabIndex={0}>
            <h3>
              Sample replies{' '}
              {run.settings.sampleEvery > 0 ? `(every ${run.settings.sampleEvery} steps, newest first)` : '(off)'}
            </h3>
            <ol data-testid="samples">
              {timeline.map(([step, ss]) => (
                <li key={step}>
                  <span className="at">step {step}</span>
                  <div>
                    {ss.map((s, i) => (
                      <pre key={i} title={s.prompt}>
                        <span className="muted">{lastTurn(s.prompt)}</span>
                        <b>{s.text}</b>
                      </pre>
                    ))}
                  </div>
                </li>
              ))}
            </ol>
            {!timeline.length && (
              <p className="muted">
                {run.settings.sampleEvery > 0
                  ? `The first replies come at step ${run.settings.sampleEvery}.`
                  : 'Sampling is off for this run.'}
              </p>
            )}
          </div>
        </>
      )}
    </section>
  );
}

/** The end of a sample prompt (the person's last message and the reply's start), the whole in a tooltip. */
const lastTurn = (prompt: string) => prompt.split('\n').slice(-2).join('\n');
