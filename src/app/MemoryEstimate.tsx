// The memory a run of `config` would need at the settings now in the Train panel, on the backend now chosen:
// device memory, the checkpoint's size in storage, and what stops it from fitting (with the way out). The same
// estimate and checks the worker applies before it starts a run (engine/models/memory.ts).
import { estimateMemory } from '../engine/models/memory.js';
import { fitProblems } from '../engine/train/fit.js';
import type { ModelConfig } from '../engine/models/config.js';
import { loraOfRank } from '../engine/models/lora.js';
import { useStudio } from '../store/index.js';
import { fmtBytes } from './format.js';

/** The estimate and fit problems of a run of `config` at the Train panel's settings (or another LoRA rank). */
export function useFit(config: ModelConfig | undefined, o: { loraRank?: number } = {}) {
  const { settings: current, backend, device, storage } = useStudio();
  if (!config) return null;
  const settings = o.loraRank === undefined ? current : { ...current, loraRank: o.loraRank };
  const lora = loraOfRank(config, settings.loraRank);
  const estimate = estimateMemory(config, settings.batch, settings.seq, lora, { flatParams: backend === 'webgpu' }); // the WebGPU backend packs the trained parameters (GraphOptions.flatParams)
  const adapter = device?.webgpu.ok ? device.webgpu.adapter : null;
  const freeStorage = storage && storage.quota ? storage.quota - storage.usage : null;
  const problems = fitProblems(estimate, settings.batch, settings.seq, { backend, adapter, freeStorage }, !!lora);
  return { estimate, problems, lora: !!lora, settings, backend };
}

export function MemoryEstimate({ config, testId }: { config: ModelConfig | undefined; testId: string }) {
  const fit = useFit(config);
  if (!fit) return null;
  const { estimate: e, settings: s } = fit;
  return (
    <div data-testid={testId} data-training-bytes={e.trainingBytes}>
      <span className="muted">
        Estimated for {fit.lora ? `LoRA rank ${s.loraRank}` : 'a full fine-tune'} at batch {s.batch} x {s.seq} on{' '}
        {fit.backend === 'webgpu' ? 'WebGPU' : 'WASM'}: {fmtBytes(e.trainingBytes)} of{' '}
        {fit.backend === 'webgpu' ? 'GPU memory' : 'WASM heap'} (weights {fmtBytes(e.weightsBytes)}, activations{' '}
        {fmtBytes(e.activationBytes)}) · each checkpoint {fmtBytes(e.checkpointBytes)} of storage
      </span>
      {fit.problems.map((p, i) => (
        <p key={i} className="warn" data-testid="fit-problem">
          Will not fit: {p}
        </p>
      ))}
    </div>
  );
}
