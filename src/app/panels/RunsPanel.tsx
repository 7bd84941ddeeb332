// The runs stored in this browser: name (editable), model, data, status, steps, best validation loss; tick several
// to overlay their loss curves; open, resume, export, delete.
import { useState } from 'react';
import type { RunSummary } from '../../protocol.js';
import { useStudio } from '../../store/index.js';
import { OverlayChart } from '../LossChart.js';

/** A model id as people read it: the Hub repo, or the offline tiny model. */
const modelName = (id: string) => (id === 'tiny' ? 'tiny GPT-2 (offline)' : (id.match(/\|(.+)$/)?.[1] ?? id));
/** A run as the list and the overlay chart name it: its name, else its data and start time (a rename shows at once). */
const runLabel = (r: RunSummary) => r.name ?? `${r.dataset} · ${new Date(r.createdAt).toLocaleString()}`;

export function RunsPanel() {
  const { runs, run, send, overlay, curves, toggleOverlay, renameRun, openThen } = useStudio();
  const busy = run?.status === 'training' || run?.status === 'paused';
  if (!runs.length) return null;
  return (
    <section className="panel" data-testid="runs-panel" aria-labelledby="runs-title">
      <h2 id="runs-title">Runs in this browser</h2>
      <div style={{ overflowX: 'auto' }}>
        <table>
          <thead>
            <tr>
              <th scope="col">Overlay</th>
              <th scope="col">Name</th>
              <th scope="col">Model</th>
              <th scope="col">Data</th>
              <th scope="col">Status</th>
              <th scope="col">Steps</th>
              <th scope="col">Best val. loss</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} className={r.id === run?.id ? 'current' : ''} data-testid="run-row" data-run-id={r.id}>
                <td>
                  <input
                    type="checkbox"
                    data-testid="overlay-run"
                    aria-label={`Overlay the loss curve of ${runLabel(r)}`}
                    checked={overlay.includes(r.id)}
                    onChange={() => toggleOverlay(r.id)}
                  />
                </td>
                <td>
                  <RunName r={r} rename={(name) => renameRun(r.id, name)} />
                </td>
                <td>
                  {modelName(r.model)}
                  {r.settings.loraRank ? ` · LoRA ${r.settings.loraRank}` : ' · full'}
                </td>
                <td>{r.dataset}</td>
                <td>{r.status}</td>
                <td>
                  {r.step}/{r.settings.steps}
                </td>
                <td>{r.bestEval ? `${r.bestEval.loss.toFixed(3)} (step ${r.bestEval.step})` : '-'}</td>
                <td style={{ whiteSpace: 'nowrap' }}>
                  <button disabled={busy} onClick={() => send({ type: 'open-run', id: r.id })}>
                    Open
                  </button>{' '}
                  <button
                    disabled={busy || r.status === 'completed'}
                    onClick={() => openThen(r.id, 'resume')}
                    title={
                      r.status === 'completed'
                        ? 'complete: start a new run to train more'
                        : 'continue from its last checkpoint'
                    }
                  >
                    Resume
                  </button>{' '}
                  <button disabled={busy && r.id !== run?.id} onClick={() => openThen(r.id, 'export')}>
                    Export
                  </button>{' '}
                  <button
                    disabled={busy}
                    onClick={() =>
                      confirm(`Delete the run "${runLabel(r)}" and its checkpoint?`) &&
                      send({ type: 'delete-run', id: r.id })
                    }
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {overlay.length > 0 &&
        (curves.length === overlay.length ? (
          <OverlayChart
            curves={curves.map((c) => {
              const r = runs.find((x) => x.id === c.id);
              return { ...c, label: r ? runLabel(r) : c.id };
            })}
          />
        ) : (
          <p className="muted">Reading the curves…</p>
        ))}
      {overlay.length === 0 && runs.length > 1 && (
        <p className="muted">Tick two or more runs to overlay their loss curves.</p>
      )}
    </section>
  );
}

function RunName({ r, rename }: { r: RunSummary; rename: (name: string) => void }) {
  const [draft, setDraft] = useState<string | null>(null);
  const commit = () => {
    if (draft !== null && draft !== (r.name ?? '')) rename(draft);
    setDraft(null);
  };
  return (
    <input
      data-testid="run-name"
      aria-label={`Name of the run started ${new Date(r.createdAt).toLocaleString()}`}
      value={draft ?? r.name ?? ''}
      placeholder={new Date(r.createdAt).toLocaleString()}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') commit();
        if (e.key === 'Escape') setDraft(null);
      }}
      style={{ width: '100%', minWidth: 120 }}
    />
  );
}
