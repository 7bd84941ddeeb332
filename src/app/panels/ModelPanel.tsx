// Model: the offline tiny GPT-2 or a GPT-2 from the Hub (any repo whose config says model_type gpt2, at a
// revision). Before downloading: size and device memory for full fine-tuning and LoRA, with warnings. While
// downloading: per-file bytes, percent, speed, ETA, and cancel. Import from disk: an exported folder or zip, any HF
// GPT-2 folder, or a PEFT adapter for the current model. The cache: models with their sizes, usable, deletable.
import { useStudio } from '../../store/index.js';
import { fmtBytes, fmtTime } from '../format.js';
import { MemoryEstimate } from '../MemoryEstimate.js';

const SUGGESTED = ['distilbert/distilgpt2', 'openai-community/gpt2', 'openai-community/gpt2-medium'];

export function ModelPanel() {
  const {
    model,
    hub,
    setHub,
    loadModel,
    inspection,
    downloads,
    downloading,
    downloadError,
    cached,
    send,
    run,
    importModel,
    importing,
    imported,
    importError,
  } = useStudio();
  const busy = run?.status === 'training' || run?.status === 'paused';
  const files = Object.values(downloads);
  return (
    <section className="panel" data-testid="model-panel" aria-labelledby="model-title">
      <div className="step-head">
        <h2 id="model-title">1. Model</h2>
        <span className={`badge ${model ? 'done' : 'todo'}`}>{model ? 'ready' : 'loading'}</span>
      </div>
      <p>
        Current: <b data-testid="current-model">{model?.name ?? '...'}</b>
        {model && ` · ${(model.params / 1e6).toFixed(1)}M parameters · context ${model.nPositions}`}
      </p>
      <div className="row small">
        <label>
          Hub{' '}
          <input
            className="wide"
            data-testid="hub-endpoint"
            value={hub.endpoint}
            onChange={(e) => setHub({ endpoint: e.target.value })}
          />
        </label>
        <label>
          Repo{' '}
          <input
            className="wide"
            data-testid="hub-repo"
            list="suggested-models"
            value={hub.repo}
            onChange={(e) => setHub({ repo: e.target.value.trim() })}
          />
        </label>
        <datalist id="suggested-models">
          {SUGGESTED.map((r) => (
            <option key={r} value={r} />
          ))}
        </datalist>
        <label>
          Revision{' '}
          <input
            data-testid="hub-revision"
            value={hub.revision}
            onChange={(e) => setHub({ revision: e.target.value.trim() || 'main' })}
          />
        </label>
        <label title="For gated or private repos: kept in memory only, sent only to the Hub">
          Token <input type="password" value={hub.token} onChange={(e) => setHub({ token: e.target.value })} />
        </label>
      </div>
      <div className="row">
        <button
          data-testid="inspect-model"
          disabled={!hub.repo}
          onClick={() => send({ type: 'inspect-model', source: { ...hub, token: hub.token || undefined } })}
        >
          Check size
        </button>
        <button data-testid="load-model" disabled={!hub.repo || downloading || busy} onClick={() => loadModel('hub')}>
          Download and use
        </button>
        <button data-testid="cancel-download" disabled={!downloading} onClick={() => send({ type: 'cancel-download' })}>
          Cancel
        </button>
        <button
          data-testid="use-tiny"
          disabled={downloading || busy || model?.id === 'tiny'}
          onClick={() => loadModel('tiny')}
        >
          Use the offline tiny model
        </button>
      </div>
      <div className="row" data-testid="import">
        <span>Import from disk:</span>
        <label className="button">
          a folder{' '}
          <input
            type="file"
            hidden
            data-testid="import-folder"
            disabled={busy || !!importing}
            {...{ webkitdirectory: '' }}
            onChange={(e) => {
              const fs = [...(e.target.files ?? [])];
              if (fs.length) importModel(fs.map((f) => ({ path: f.webkitRelativePath || f.name, file: f })));
              e.target.value = '';
            }}
          />
        </label>
        <label className="button">
          a zip{' '}
          <input
            type="file"
            hidden
            accept=".zip"
            data-testid="import-zip"
            disabled={busy || !!importing}
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) importModel([{ path: f.name, file: f }]);
              e.target.value = '';
            }}
          />
        </label>
        <span className="muted">
          an export of this studio, a Hugging Face GPT-2 folder, or a PEFT LoRA adapter for the current model
        </span>
      </div>
      {importing && (
        <p data-testid="import-progress">
          Importing…{' '}
          {importing.total ? (
            <>
              <progress max={importing.total} value={importing.done} /> {fmtBytes(importing.done)} of{' '}
              {fmtBytes(importing.total)}
            </>
          ) : (
            ''
          )}
        </p>
      )}
      {imported && (
        <p data-testid="import-done">
          Imported {imported.kind === 'adapter' ? 'the adapter, merged into the base model, as' : ''}{' '}
          <b>{imported.name}</b>: it is the current model.
        </p>
      )}
      {importError && (
        <p className="error" data-testid="import-error" role="alert">
          {importError}
        </p>
      )}
      {inspection && (
        <div data-testid="inspection">
          <p>
            {inspection.repo}@{inspection.revision}: {(inspection.params / 1e6).toFixed(1)}M parameters (
            {inspection.config.n_layer} layers, {inspection.config.n_embd} wide) · download{' '}
            {inspection.downloadBytes ? fmtBytes(inspection.downloadBytes) : 'size unknown'}
          </p>
          <MemoryEstimate config={inspection.config} testId="inspection-memory" />
        </div>
      )}
      {files.length > 0 && (
        <table data-testid="downloads">
          <tbody>
            {files.map((p) => (
              <tr key={p.file}>
                <td>{p.file}</td>
                <td>
                  {p.status === 'initiate' && 'starting'}
                  {p.status === 'progress' && (
                    <>
                      <progress max={p.total} value={p.loaded} /> {fmtBytes(p.loaded)} / {fmtBytes(p.total)} (
                      {((100 * p.loaded) / p.total).toFixed(0)}%) · {fmtBytes(p.bytesPerSecond)}/s · ETA{' '}
                      {fmtTime(1000 * p.etaSeconds)}
                    </>
                  )}
                  {p.status === 'done' && (
                    <span data-testid="file-done">
                      {fmtBytes(p.size)}, {p.fromCache ? 'from the cache' : 'downloaded'}
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {downloadError && (
        <p className="error" data-testid="download-error">
          {downloadError}
        </p>
      )}
      {cached.length > 0 && (
        <details open data-testid="cache">
          <summary>Models cached in this browser</summary>
          <table>
            <tbody>
              {cached.map((c) => (
                <tr key={c.prefix} data-testid="cached-model">
                  <td>
                    {c.repo}@{c.revision}
                  </td>
                  <td className="muted">{c.endpoint}</td>
                  <td>
                    {fmtBytes(c.bytes)}
                    {c.complete ? '' : ' (partial)'}
                  </td>
                  <td>
                    {c.complete && (
                      <button
                        disabled={busy || downloading}
                        data-testid="use-cached"
                        onClick={() =>
                          send({
                            type: 'load-model',
                            source: { endpoint: c.endpoint, repo: c.repo, revision: c.revision },
                          })
                        }
                      >
                        Use
                      </button>
                    )}{' '}
                    <button
                      disabled={busy || downloading}
                      onClick={() => send({ type: 'cache-delete', prefix: c.prefix })}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </section>
  );
}
