// Past runs stored in this browser: reopen (chart, samples, resume from its checkpoint) or delete.
import { useStudio } from '../../store/index.js';

export function RunsPanel() {
  const { runs, run, send } = useStudio();
  const busy = run?.status === 'training';
  if (!runs.length) return null;
  return (
    <section className="panel" data-testid="runs-panel">
      <h2>Runs in this browser</h2>
      <table>
        <thead><tr><th>started</th><th>data</th><th>status</th><th>step</th><th>loss</th><th /></tr></thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} className={r.id === run?.id ? 'current' : ''}>
              <td>{new Date(r.createdAt).toLocaleString()}</td><td>{r.dataset}</td><td>{r.status}</td><td>{r.step}/{r.settings.steps}</td><td>{r.lastLoss?.toFixed(3) ?? '-'}</td>
              <td>
                <button disabled={busy} onClick={() => send({ type: 'open-run', id: r.id })}>Open</button>{' '}
                <button disabled={busy} onClick={() => confirm('Delete this run and its checkpoint?') && send({ type: 'delete-run', id: r.id })}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
