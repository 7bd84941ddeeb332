// The studio: set-up on the left (device, model, data, settings: a flow that shows what is done and what is missing),
// the live run on the right (tiles, loss chart, sample replies by step, chat), then the runs stored in this browser
// and the exports of the run shown. Narrow screens stack the two.
import { useStudio } from '../store/index.js';
import { ChatPanel } from './panels/ChatPanel.js';
import { DashboardPanel } from './panels/DashboardPanel.js';
import { DataPanel } from './panels/DataPanel.js';
import { DevicePanel } from './panels/DevicePanel.js';
import { ExportPanel } from './panels/ExportPanel.js';
import { ModelPanel } from './panels/ModelPanel.js';
import { RunsPanel } from './panels/RunsPanel.js';
import { SettingsPanel } from './panels/SettingsPanel.js';
import { Tiles } from './panels/Tiles.js';
import { Guide } from './panels/Guide.js';

export function App() {
  const { errors, dismissError, tryIt, run, backend, backendDescription, model } = useStudio();
  const busy = run?.status === 'training' || run?.status === 'paused';
  return (
    <div className="app">
      <header className="topbar">
        <h1>Fine-Tune Studio</h1>
        <span className="tagline">
          Fine-tune a language model on your own GPU, in your browser. Nothing leaves this page.
        </span>
        <span className="spacer" />
        <span className="chip" data-testid="backend-chip" title={backendDescription ?? undefined}>
          {backend === 'webgpu' ? 'WebGPU' : 'WASM'}
          {model ? ` · ${model.name}` : ''}
        </span>
        <button
          className="primary"
          data-testid="try-it"
          disabled={busy}
          onClick={tryIt}
          title="Trains the offline tiny GPT-2 on the bundled sample support chats with the quick LoRA preset"
        >
          Try it
        </button>
      </header>
      <div className="layout">
        <aside className="setup" aria-label="Set up a run">
          <Flow />
          <DevicePanel />
          <ModelPanel />
          <DataPanel />
          <SettingsPanel />
        </aside>
        <main className="workspace" aria-label="The run">
          {errors.map((e, i) => (
            <div key={i} className="error banner" data-testid="error-banner" role="alert">
              <span>
                <b>{e.context}:</b> {e.message}
              </span>{' '}
              <button onClick={() => dismissError(i)}>Dismiss</button>
            </div>
          ))}
          <div className="screen">
            <Guide />
            <Tiles />
            <div className="live">
              <DashboardPanel />
              <ChatPanel />
            </div>
          </div>
          <div className="below">
            <RunsPanel />
            <ExportPanel />
          </div>
        </main>
      </div>
    </div>
  );
}

/** What is done and what is missing before a run can start. */
function Flow() {
  const { model, dataset, run } = useStudio();
  const steps = [
    { name: 'Model', at: 'model-title', done: !!model, what: model?.name ?? 'loading' },
    { name: 'Data', at: 'data-title', done: !!dataset, what: dataset ? dataset.file : 'drop a file' },
    { name: 'Train', at: 'settings-title', done: !!run, what: run ? run.status : 'not started' },
  ];
  return (
    <ol className="flow" data-testid="flow" aria-label="Progress">
      {steps.map((s, i) => (
        <li key={s.name}>
          <a
            href={`#${s.at}`}
            className={`badge ${s.done ? 'done' : 'todo'}`}
            title={`Go to ${s.name}`}
            onClick={(e) => {
              e.preventDefault();
              document.getElementById(s.at)?.scrollIntoView({ block: 'start', behavior: 'smooth' });
            }}
          >
            {s.done ? '✓' : i + 1} {s.name}: {s.what}
          </a>
        </li>
      ))}
    </ol>
  );
}
