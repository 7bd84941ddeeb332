// The studio's compute backend: WebGPU or the WASM fallback as the person chose, made on first use and made again
// after a lost device. Whoever holds GPU tensors made on it (the chat's uploaded checkpoint) is told when it goes.
import type { Backend } from '../src/engine/runtime/backend.js';
import { createWasmBackend, createWebGpuBackend, type WebBackendOptions } from '../src/engine/runtime/web.js';
import type { BackendChoice, FromWorker } from '../src/protocol.js';

/** The choice a made backend answers to. */
export const choiceOf = (b: Backend): BackendChoice => (b.name === 'webgpu' ? 'webgpu' : 'wasm');

export class StudioBackend {
  private choice: BackendChoice = 'webgpu';
  private backend: Promise<Backend> | null = null;
  /** Bumped whenever the backend is dropped: a backend made for an older generation is stale. */
  private generation = 0;

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly web: WebBackendOptions,
    /** Called when the backend is dropped (tensors made on it are gone). */
    private readonly onDrop: () => void,
  ) {}

  /** Switches backend; `busy` (a run holds the current one) refuses. */
  set(choice: BackendChoice, busy: boolean): void {
    if (choice === this.choice && this.backend) return; // already the one in use
    if (busy) throw new Error('pause or stop the run before changing the backend');
    this.choice = choice;
    this.drop();
    void this.get().catch((e: Error) => this.post({ type: 'error', context: 'backend', message: e.message }));
  }

  drop(): void {
    this.backend = null;
    this.generation++;
    this.onDrop();
  }

  get(): Promise<Backend> {
    if (this.backend) return this.backend;
    const generation = this.generation;
    const current = () => generation === this.generation;
    this.backend = (async () => {
      const b = this.choice === 'webgpu' ? await createWebGpuBackend(this.web) : await createWasmBackend(this.web);
      b.onDeviceLost?.((reason) => {
        if (current()) this.drop(); // the next use makes a new device
        this.post({
          type: 'error',
          context: 'device',
          message: `The GPU device was lost (${reason}). Resume continues the run from its last checkpoint on a new device.`,
        });
      });
      // a backend replaced while it was being made (the person chose another) must not announce itself
      if (current()) this.post({ type: 'backend', backend: choiceOf(b), description: b.description });
      return b;
    })();
    return this.backend;
  }
}
