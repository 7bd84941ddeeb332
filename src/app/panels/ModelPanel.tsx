// Model: the offline tiny GPT-2 or a model from the Hub (any repo whose config says model_type gpt2, llama, qwen2
// or qwen3, at a revision), with suggestions that say their size and whether a run fits here. Before downloading:
// size and device memory for full fine-tuning and LoRA, with warnings. While downloading: per-file bytes, percent,
// speed, ETA, and cancel. Import from disk: an exported folder or zip, any HF folder of those families, or a PEFT
// adapter for the current model. The cache: models with their sizes, usable, deletable.
import { familyOf } from '../../engine/models/family.js';
import type { ModelConfig } from '../../engine/models/config.js';
import { useStudio } from '../../store/index.js';
import { fmtBytes, fmtTime } from '../format.js';
import { MemoryEstimate, useFit } from '../MemoryEstimate.js';
import { SUGGESTED_MODELS, type SuggestedModel } from '../suggested-models.js';

/** "30 layers, 576 wide, 9 heads (3 KV)": what a config's shape is, for any family. */
export function shapeText(c: ModelConfig): string {
  const f = familyOf(c);
  const a = f.attention(c);
  const kv = a.kvHeads === a.heads ? '' : ` (${a.kvHeads} KV)`;
  return `${f.label(c)}, ${f.layers(c)} layers, ${f.hiddenSize(c)} wide, ${a.heads} heads${kv}`;
}

/** One suggestion: its size, and whether LoRA and a full fine-tune fit this device at the current settings. */
function Suggestion({ m, onPick }: { m: SuggestedModel; onPick: () => void }) {
  const rank = useStudio((s) => s.settings.loraRank);
  const lora = useFit(m.config, { loraRank: rank > 0 ? rank : 8 });
  const full = useFit(m.config, { loraRank: 0 });
  const verdict = (f: typeof lora, what: string) =>
    f && (
      <span className={f.problems.length ? 'warn' : undefined} title={f.problems.join(' ')} data-testid="suggested-fit">
        {what} {f.problems.length ? 'does not fit' : 'fits'} ({fmtBytes(f.estimate.trainingBytes)})
      </span>
    );
  return (
    <li data-testid="suggested-model" data-repo={m.repo}>
      <button className="link" onClick={onPick} aria-label={`Pick ${m.repo}`}>
        {m.repo}
      </button>{' '}
      <span className="muted">
        {m.what} · {shapeText(m.config)} · {(m.params / 1e6).toFixed(0)}M parameters · download{' '}
        {fmtBytes(m.downloadBytes)}
      </span>
      <br />
      {verdict(lora, `LoRA r${lora?.settings.loraRank}`)} · {verdict(full, 'full fine-tune')}
    </li>
  );
}

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
    backend,
    settings: { batch, seq },
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
          {SUGGESTED_MODELS.map((m) => (
            <option key={m.repo} value={m.repo} />
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
      <details data-testid="suggested">
        <summary>Suggested models: size, and whether a run fits this device at the current settings</summary>
        <p className="muted">
          Memory on {backend === 'webgpu' ? 'WebGPU' : 'WASM'} at batch {batch} x {seq}; pick one to read its config
          from the Hub.
        </p>
        <ul className="suggested">
          {SUGGESTED_MODELS.map((m) => (
            <Suggestion
              key={m.repo}
              m={m}
              onPick={() => {
                setHub({ repo: m.repo });
                send({ type: 'inspect-model', source: { ...hub, repo: m.repo, token: hub.token || undefined } });
              }}
            />
          ))}
        </ul>
      </details>
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
          an export of this studio, a Hugging Face folder (GPT-2, Llama, Qwen2, Qwen3; sharded or not), or a PEFT LoRA
          adapter for the current model
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
            {shapeText(inspection.config)}) · download{' '}
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
