// The studio: Device, Model, Data, Train, Chat, Export, and the runs stored in this browser.
import { useStudio } from '../store/index.js';
import { ChatPanel } from './panels/ChatPanel.js';
import { DataPanel } from './panels/DataPanel.js';
import { DevicePanel } from './panels/DevicePanel.js';
import { ExportPanel } from './panels/ExportPanel.js';
import { ModelPanel } from './panels/ModelPanel.js';
import { RunsPanel } from './panels/RunsPanel.js';
import { TrainPanel } from './panels/TrainPanel.js';

export function App() {
  const { errors, dismissError } = useStudio();
  return (
    <main>
      <header><h1>Fine-Tune Studio</h1><span className="muted">GPT-2 fine-tuning on your own GPU, in your browser. Nothing leaves this page.</span></header>
      {errors.map((e, i) => (
        <div key={i} className="error banner" data-testid="error-banner">
          <b>{e.context}:</b> {e.message} <button onClick={() => dismissError(i)}>dismiss</button>
        </div>
      ))}
      <DevicePanel />
      <ModelPanel />
      <DataPanel />
      <TrainPanel />
      <ChatPanel />
      <ExportPanel />
      <RunsPanel />
    </main>
  );
}
