// Export a paused or finished run, from its last saved checkpoint, as a zip: a Hugging Face folder, the same with
// the transformers.js ONNX files, a PEFT adapter (LoRA runs), a standalone chat page, a TRL hand-off recipe, or
// GGUF files with an Ollama Modelfile.
import { useEffect, useRef } from 'react';
import type { ExportKind } from '../../protocol.js';
import { useStudio } from '../../store/index.js';
import { fmtBytes } from '../format.js';

const KINDS: { kind: ExportKind; label: string; what: string }[] = [
  {
    kind: 'hf',
    label: 'Hugging Face folder',
    what: 'config, model.safetensors (LoRA merged), tokenizer with the chat template, generation defaults, model card',
  },
  {
    kind: 'transformers-js',
    label: 'transformers.js package',
    what: 'the Hugging Face folder plus onnx/model.onnx, for AutoModelForCausalLM in JavaScript',
  },
  {
    kind: 'adapter',
    label: 'PEFT LoRA adapter',
    what: 'adapter_config.json and adapter_model.safetensors for PeftModel.from_pretrained',
  },
  {
    kind: 'chat-page',
    label: 'Chat page',
    what: 'index.html + the model + the runtime: chat with it from any static file server (WebGPU or WASM)',
  },
  {
    kind: 'recipe',
    label: 'Training recipe (TRL)',
    what: 'the dataset, train.py for SFTTrainer, an accelerate + DeepSpeed config: continue on bigger GPUs',
  },
  {
    kind: 'gguf',
    label: 'GGUF (llama.cpp, Ollama, LM Studio)',
    what: 'F16 and Q8_0 GGUF files and an Ollama Modelfile: ollama create NAME -f Modelfile',
  },
];

export function ExportPanel() {
  const { run, exporting, exported, exportError, startExport, cancelExport, exportFocus } = useStudio();
  const link = useRef<HTMLAnchorElement>(null);
  const panel = useRef<HTMLElement>(null);
  useEffect(() => {
    if (exportFocus) {
      panel.current?.scrollIntoView({ block: 'start' }); // "Export" in the runs list
      panel.current?.focus();
    }
  }, [exportFocus]);
  useEffect(() => {
    if (exported) link.current?.click(); // the browser's download of the finished zip
  }, [exported]);
  if (!run) return null;
  const ready = run.status !== 'training' && run.checkpointStep > 0;
  const why =
    run.status === 'training'
      ? 'Pause the run to export it (pausing saves a checkpoint).'
      : run.checkpointStep === 0
        ? 'No checkpoint saved yet.'
        : null;
  return (
    <section className="panel" data-testid="export-panel" aria-labelledby="export-title" ref={panel} tabIndex={-1}>
      <h2 id="export-title">Export</h2>
      <p className="muted">
        From the checkpoint at step {run.checkpointStep} of this run. {why}
      </p>
      <ul className="exports">
        {KINDS.map((k) => {
          const noAdapter = k.kind === 'adapter' && run.settings.loraRank === 0;
          return (
            <li key={k.kind}>
              <button
                data-testid={`export-${k.kind}`}
                disabled={!ready || !!exporting || noAdapter}
                onClick={() => startExport(k.kind)}
              >
                {k.label}
              </button>{' '}
              <span className="muted">
                {noAdapter ? 'This run fine-tuned all weights: no adapter (export the Hugging Face folder).' : k.what}
              </span>
            </li>
          );
        })}
      </ul>
      {exporting && (
        <p data-testid="export-progress">
          Zipping the {exporting.kind} export… <progress max={exporting.total || 1} value={exporting.done} />{' '}
          {exporting.total ? `${fmtBytes(exporting.done)} of ${fmtBytes(exporting.total)}` : ''}{' '}
          <button onClick={cancelExport}>Cancel</button>
        </p>
      )}
      {exportError && (
        <p className="error" data-testid="export-error" role="alert">
          {exportError.kind} export: {exportError.message}
        </p>
      )}
      {exported && (
        <p data-testid="export-ready">
          <a ref={link} href={exported.url} download={exported.fileName} data-testid="export-link">
            {exported.fileName}
          </a>{' '}
          ({fmtBytes(exported.bytes)}) is ready.
        </p>
      )}
    </section>
  );
}
