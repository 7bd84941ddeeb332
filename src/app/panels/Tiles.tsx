// The live run at a glance: step, training loss, validation loss, tokens/s, time left and device memory.
import { useStudio } from '../../store/index.js';
import { fmtBytes, fmtTime } from '../format.js';

export function Tiles() {
  const { run, backend } = useStudio();
  const last = run?.steps[run.steps.length - 1];
  const lastEval = run?.evals[run.evals.length - 1];
  const memPeak = run?.steps.reduce((m, p) => Math.max(m, p.deviceMemory?.peakBytes ?? 0), 0) ?? 0;
  const training = run?.status === 'training';
  return (
    <section className="tiles" data-testid="tiles" aria-label="Run figures">
      <Tile label="Step" sub={run ? `of ${run.settings.steps}` : 'no run yet'}>
        {run ? (
          <>
            <span data-testid="step">{run.step}</span>
            <span className="muted">/{run.settings.steps}</span>
          </>
        ) : (
          '-'
        )}
      </Tile>
      <Tile label="Train loss" sub={last ? `grad norm ${last.gradNorm.toFixed(2)}` : ''}>
        {run ? <span data-testid="loss">{run.lastLoss?.toFixed(4) ?? '-'}</span> : '-'}
      </Tile>
      <Tile
        label="Validation loss"
        sub={
          run?.bestEval
            ? `best ${run.bestEval.loss.toFixed(3)} at step ${run.bestEval.step}`
            : run && run.settings.evalEvery === 0
              ? 'evaluation off'
              : ''
        }
      >
        <span data-testid="val-loss">{lastEval ? lastEval.loss.toFixed(4) : '-'}</span>
      </Tile>
      <Tile label="Tokens/s" sub={last ? `lr ${last.lr.toExponential(1)}` : ''}>
        <span data-testid="tokens-per-sec">{last ? last.tokensPerSecond.toFixed(0) : '-'}</span>
      </Tile>
      <Tile label="Time left" sub={run ? `elapsed ${fmtTime(run.elapsedMs)}` : ''}>
        <span data-testid="eta">{training ? fmtTime(run.etaMs) : run?.status === 'completed' ? 'done' : '-'}</span>
      </Tile>
      <Tile
        label={backend === 'webgpu' ? 'GPU buffers' : 'WASM heap'}
        sub={last?.deviceMemory ? `peak ${fmtBytes(memPeak)}` : 'measured while training'}
        attrs={
          last?.deviceMemory
            ? {
                'data-testid': 'device-memory',
                'data-peak-bytes': memPeak,
                title:
                  'measured: the bytes the engine holds on the device, after the last step and at most during any step',
              }
            : {}
        }
      >
        {last?.deviceMemory ? fmtBytes(last.deviceMemory.currentBytes) : '-'}
      </Tile>
    </section>
  );
}

function Tile({
  label,
  sub,
  children,
  attrs,
}: {
  label: string;
  sub: string;
  children: React.ReactNode;
  attrs?: Record<string, string | number>;
}) {
  return (
    <div className="tile" role="group" aria-label={label} {...attrs}>
      <div className="label">{label}</div>
      <div className="value">{children}</div>
      <div className="sub">{sub || ' '}</div>
    </div>
  );
}
