// Device: what WebGPU offers (or why it runs on the WASM fallback), choosing the fallback by hand, storage use.
import { useStudio } from '../../store/index.js';
import { fmtBytes } from '../format.js';

export function DevicePanel() {
  const { device, backend, backendDescription, run, chooseBackend, storage } = useStudio();
  const busy = run?.status === 'training' || run?.status === 'paused';
  if (!device)
    return (
      <section className="panel" aria-label="Device">
        <h2>Device</h2>
        <p>Starting the engine...</p>
      </section>
    );
  const w = device.webgpu;
  return (
    <section className="panel" data-testid="device-panel" aria-labelledby="device-title">
      <div className="step-head">
        <h2 id="device-title">Device</h2>
        <span className={`badge ${w.ok ? 'done' : 'todo'}`}>{w.ok ? 'WebGPU' : 'WASM only'}</span>
      </div>
      {w.ok ? (
        <p data-testid="webgpu-adapter">
          WebGPU adapter: <b>{w.adapter.vendor}</b> {w.adapter.architecture}{' '}
          {w.adapter.description && `(${w.adapter.description})`} · max buffer {fmtBytes(w.adapter.maxBufferSize)} · max
          storage binding {fmtBytes(w.adapter.maxStorageBufferBindingSize)}
        </p>
      ) : (
        <p className="warn" data-testid="webgpu-missing">
          No WebGPU: {w.reason}. Training runs on the WASM fallback (CPU, much slower).
        </p>
      )}
      <div className="row">
        <label>
          <input
            type="radio"
            name="backend"
            data-testid="backend-webgpu"
            checked={backend === 'webgpu'}
            disabled={!w.ok || busy}
            onChange={() => chooseBackend('webgpu')}
          />{' '}
          WebGPU
        </label>
        <label>
          <input
            type="radio"
            name="backend"
            data-testid="backend-wasm"
            checked={backend === 'wasm'}
            disabled={busy}
            onChange={() => chooseBackend('wasm')}
          />{' '}
          WASM fallback
          {device.crossOriginIsolated ? ` (${device.threads} threads)` : ' (1 thread: page not cross-origin isolated)'}
        </label>
      </div>
      {backendDescription && (
        <p className="muted" data-testid="backend-description">
          Running on: {backendDescription}
        </p>
      )}
      {storage && (
        <p className={storage.error ? 'warn' : 'muted'} data-testid="storage">
          Storage: {fmtBytes(storage.usage)} of {fmtBytes(storage.quota)} used{storage.persisted ? ', persistent' : ''}.{' '}
          {storage.error}
        </p>
      )}
    </section>
  );
}
