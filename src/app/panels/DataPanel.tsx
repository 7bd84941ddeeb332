// Data: a file picker and drag-and-drop; the format (detected, or chosen), CSV columns, which tokens are trained,
// what happens to long conversations, packing, and the chat template with a live preview. Stats, a length
// histogram, the first errors (file:line: field), and a preview with the trained tokens highlighted. A bad file
// never replaces the dataset already loaded.
import { useState, type DragEvent } from 'react';
import { useStudio } from '../../store/index.js';
import { DEFAULT_CHAT_TEMPLATE } from '../../engine/data/template.js';
import { FORMATS, LIMITS } from '../../engine/data/formats.js';
import { HISTOGRAM_EDGES } from '../../engine/data/rows.js';

export function DataPanel() {
  const { dataset, rejected, dataOptions: o, setDataOptions, apply, loading } = useStudio();
  const [over, setOver] = useState(false);
  const load = async (f: File | undefined) => {
    if (!f) return;
    if (f.size > LIMITS.fileBytes) {
      apply({
        type: 'data-rejected',
        file: f.name,
        total: 1,
        skippable: false,
        errors: [
          {
            file: f.name,
            line: 1,
            field: null,
            message: `${f.name}:1: the file is ${(f.size / 2 ** 20).toFixed(0)} MiB, over the ${LIMITS.fileBytes / 2 ** 20} MiB limit`,
          },
        ],
      });
      return;
    }
    const bytes = await f.arrayBuffer();
    useStudio
      .getState()
      .send({ type: 'load-data', file: f.name, bytes, options: o, seq: useStudio.getState().settings.seq }, [bytes]); // moved, not copied
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void load(e.dataTransfer.files[0]);
  };
  const hist = dataset?.histogram ?? [];
  const maxBar = Math.max(1, ...hist);
  return (
    <section className="panel" data-testid="data-panel" aria-labelledby="data-title">
      <div className="step-head">
        <h2 id="data-title">2. Data</h2>
        <span className={`badge ${dataset ? 'done' : 'todo'}`}>
          {dataset ? `${dataset.records} ${dataset.kind === 'chat' ? 'conversations' : 'records'}` : 'missing'}
        </span>
      </div>
      <div
        className={`drop ${over ? 'over' : ''}`}
        data-testid="drop-zone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        Drop a dialogue file here, or{' '}
        <label className="link">
          choose one
          <input
            type="file"
            data-testid="file-input"
            accept=".jsonl,.json,.txt,.csv,.tsv"
            onChange={(e) => void load(e.target.files?.[0])}
            hidden
          />
        </label>
        .
        <div className="muted">
          Chat JSONL or JSON (<code>{'{"messages":[{"role","content"}]}'}</code>), ShareGPT (
          <code>{'{"conversations":[{"from","value"}]}'}</code>), Alpaca (
          <code>{'{"instruction","input","output"}'}</code>), <code>{'{"text"}'}</code> or plain text, CSV/TSV with
          prompt and response columns. UTF-8. Up to {LIMITS.fileBytes / 2 ** 20} MiB,{' '}
          {LIMITS.recordChars.toLocaleString()} characters a record.
        </div>
        <div className="muted">
          Samples:{' '}
          <a href="sample-support.jsonl" download>
            support chats (English, chat JSONL)
          </a>{' '}
          ·{' '}
          <a href="sample-support-zh.json" download>
            客服对话 (Chinese, ShareGPT JSON)
          </a>
        </div>
      </div>
      <div className="row small">
        <label>
          Format{' '}
          <select
            data-testid="opt-format"
            value={o.format}
            onChange={(e) => setDataOptions({ format: e.target.value as typeof o.format })}
          >
            <option value="auto">detect</option>
            {FORMATS.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
        {dataset?.columns && (
          <>
            <label>
              Prompt column{' '}
              <select
                value={o.promptColumn ?? ''}
                onChange={(e) => setDataOptions({ promptColumn: e.target.value || undefined })}
              >
                <option value="">guess</option>
                {dataset.columns.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <label>
              Response column{' '}
              <select
                value={o.responseColumn ?? ''}
                onChange={(e) => setDataOptions({ responseColumn: e.target.value || undefined })}
              >
                <option value="">guess</option>
                {dataset.columns.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
          </>
        )}
        <label title="Which tokens the loss is computed on">
          Train on{' '}
          <select
            data-testid="opt-loss"
            value={o.lossOn}
            onChange={(e) => setDataOptions({ lossOn: e.target.value as typeof o.lossOn })}
          >
            <option value="assistant">assistant replies + end token</option>
            <option value="last-assistant">last assistant reply only</option>
            <option value="all">all tokens</option>
          </select>
        </label>
        <label title="Conversations longer than the sequence length">
          Too long{' '}
          <select
            value={o.overflow}
            onChange={(e) => setDataOptions({ overflow: e.target.value as typeof o.overflow })}
          >
            <option value="drop-oldest">drop oldest turns, keep system prompt</option>
            <option value="truncate">cut the end</option>
          </select>
        </label>
        <label title="Several short conversations per row: fewer padded tokens; a conversation can attend to the ones before it in its row">
          <input type="checkbox" checked={o.pack} onChange={(e) => setDataOptions({ pack: e.target.checked })} /> pack
        </label>
        <label>
          <input type="checkbox" checked={o.skipBad} onChange={(e) => setDataOptions({ skipBad: e.target.checked })} />{' '}
          skip bad records
        </label>
      </div>
      <details>
        <summary>
          Chat template (Jinja, as tokenizer_config.json's chat_template; used for training, chat and exports)
        </summary>
        <textarea
          data-testid="template"
          aria-label="Chat template (Jinja)"
          rows={7}
          className="template"
          value={o.template}
          onChange={(e) => setDataOptions({ template: e.target.value })}
        />
        <button onClick={() => setDataOptions({ template: DEFAULT_CHAT_TEMPLATE })}>Reset to default</button>
      </details>
      {loading && (
        <p data-testid="data-loading">
          {loading.stage === 'reading' ? 'Reading' : 'Tokenizing'} {loading.file}:{' '}
          <progress max={loading.total} value={loading.done} /> {loading.done.toLocaleString()} /{' '}
          {loading.total.toLocaleString()}
        </p>
      )}
      {rejected && (
        <div className="error" data-testid="data-errors">
          <b>{rejected.file} was not loaded</b>
          {dataset ? ` (still using ${dataset.file})` : ''}: {rejected.total} problem{rejected.total > 1 ? 's' : ''}
          <ul>
            {rejected.errors.slice(0, 5).map((e, i) => (
              <li key={i}>
                <code>{e.message}</code>
              </li>
            ))}
          </ul>
          {rejected.skippable && !o.skipBad && (
            <span className="muted">Tick "skip bad records" to train on the good ones.</span>
          )}
        </div>
      )}
      {dataset && (
        <div data-testid="dataset-summary">
          <p>
            <b>{dataset.file}</b> ({dataset.format}): {dataset.records}{' '}
            {dataset.kind === 'chat' ? `conversations, ${dataset.turns} turns` : 'text records'}
            {dataset.skipped ? `, ${dataset.skipped} skipped` : ''} · {dataset.totalTokens} tokens,{' '}
            {dataset.trainedTokens} trained
            {dataset.truncated ? ` · ${dataset.truncated} shortened to fit` : ''} · {dataset.trainRows} train /{' '}
            {dataset.validationRows} validation rows
          </p>
          {dataset.kind === 'chat' && (
            <div className="hist" data-testid="histogram" title="conversation length in tokens">
              {hist.map((n, i) => (
                <div key={i} className="bar">
                  <div style={{ height: `${(60 * n) / maxBar}px` }} />
                  <small>{i < HISTOGRAM_EDGES.length ? `<${HISTOGRAM_EDGES[i]}` : `${HISTOGRAM_EDGES.at(-1)}+`}</small>
                  <small>{n}</small>
                </div>
              ))}
            </div>
          )}
          <details open>
            <summary>
              Preview (<span className="trained">trained tokens</span> highlighted)
            </summary>
            {dataset.preview.map((segs, i) => (
              <pre key={i} data-testid="preview">
                {segs.map((s, k) =>
                  s.trained ? (
                    <span key={k} className="trained">
                      {s.text}
                    </span>
                  ) : (
                    <span key={k}>{s.text}</span>
                  ),
                )}
              </pre>
            ))}
          </details>
        </div>
      )}
    </section>
  );
}
