// Data: a file picker and drag-and-drop; counts, the first errors (file:line: field), and a preview. A bad file
// never replaces the dataset already loaded.
import { useState, type DragEvent } from 'react';
import { useStudio } from '../../store/index.js';

export const MAX_FILE_BYTES = 200 * 2 ** 20;

export function DataPanel() {
  const { dataset, rejected, skipBad, setSkipBad, send } = useStudio();
  const [over, setOver] = useState(false);
  const load = async (f: File | undefined) => {
    if (!f) return;
    if (f.size > MAX_FILE_BYTES) {
      useStudio.getState().apply({ type: 'data-rejected', file: f.name, total: 1, errors: [{ file: f.name, line: 1, field: null, message: `${f.name}: ${(f.size / 2 ** 20).toFixed(0)} MiB is over the ${MAX_FILE_BYTES / 2 ** 20} MiB limit` }] });
      return;
    }
    send({ type: 'load-data', file: f.name, text: await f.text(), skipBad });
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void load(e.dataTransfer.files[0]);
  };
  return (
    <section className="panel" data-testid="data-panel">
      <h2>Data</h2>
      <div className={`drop ${over ? 'over' : ''}`} data-testid="drop-zone" onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)} onDrop={onDrop}>
        Drop a dialogue file here, or <label className="link">choose one<input type="file" data-testid="file-input" accept=".jsonl,.json,.txt" onChange={(e) => void load(e.target.files?.[0])} hidden /></label>.
        <div className="muted">Chat JSONL (<code>{'{"messages":[{"role","content"}]}'}</code>), JSONL of <code>{'{"text"}'}</code>, or plain text. Up to {MAX_FILE_BYTES / 2 ** 20} MiB.</div>
        <div className="muted">Samples: <a href="sample-support.jsonl" download>support chats (JSONL)</a></div>
      </div>
      <label><input type="checkbox" checked={skipBad} onChange={(e) => setSkipBad(e.target.checked)} /> skip bad records (they are counted) instead of rejecting the file</label>
      {rejected && (
        <div className="error" data-testid="data-errors">
          <b>{rejected.file} was not loaded</b>{dataset ? ` (still using ${dataset.file})` : ''}: {rejected.total} problem{rejected.total > 1 ? 's' : ''}
          <ul>{rejected.errors.slice(0, 5).map((e, i) => <li key={i}><code>{e.message}</code></li>)}</ul>
        </div>
      )}
      {dataset && (
        <div data-testid="dataset-summary">
          <p>
            <b>{dataset.file}</b>: {dataset.records} {dataset.kind === 'chat' ? 'conversations' : 'text records'}
            {dataset.skipped ? `, ${dataset.skipped} skipped` : ''} · {dataset.totalTokens} tokens, {dataset.trainedTokens} trained
            {dataset.truncated ? ` · ${dataset.truncated} truncated to the sequence length` : ''} · {dataset.trainRows} train / {dataset.validationRows} validation rows
          </p>
          <details><summary>Preview</summary>{dataset.preview.map((p, i) => <pre key={i}>{p}</pre>)}</details>
        </div>
      )}
    </section>
  );
}
