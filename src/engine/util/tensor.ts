// A float32 tensor as the engine passes weights around (read from safetensors, written to exports): its shape and
// its data, row-major.
export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}
