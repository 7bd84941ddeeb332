// The Device panel's slice: what the worker found (WebGPU or why not), the backend chosen and the one it runs on,
// and this origin's storage use. The backend is shown as chosen at once and confirmed by the worker's `backend`.
import type { BackendChoice, DeviceInfo } from '../protocol.js';
import type { SliceCreator, SliceHandlers } from './types.js';

export interface DeviceSlice {
  device: DeviceInfo | null;
  backend: BackendChoice;
  /** What the worker says the backend runs on (null until it has switched). */
  backendDescription: string | null;
  storage: { usage: number; quota: number; persisted: boolean; error: string | null } | null;
  /** Switches backend: shown at once, confirmed by the worker's `backend` message. */
  chooseBackend: (b: BackendChoice) => void;
}

export const createDeviceSlice: SliceCreator<DeviceSlice> = (set, get) => ({
  device: null,
  backend: 'webgpu',
  backendDescription: null,
  storage: null,
  chooseBackend: (backend) => {
    set({ backend, backendDescription: null });
    get().send({ type: 'set-backend', backend });
  },
});

export const deviceHandlers: SliceHandlers<'ready' | 'backend' | 'storage'> = (set) => ({
  ready: (m) => set({ device: m.device, backend: m.device.webgpu.ok ? 'webgpu' : 'wasm' }),
  backend: (m) => set({ backend: m.backend, backendDescription: m.description }),
  storage: (m) => set({ storage: { usage: m.usage, quota: m.quota, persisted: m.persisted, error: m.error } }),
});
