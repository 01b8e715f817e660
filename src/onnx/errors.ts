// Failures of the model builder and converter. Each says what was wrong and what to do about it.

import { TrimError } from '../core/errors.ts';

/** Model dimensions that cannot form a working Qwen2 (e.g. heads not dividing hidden). */
export class ModelSpecError extends TrimError {}

/** A checkpoint folder that cannot be converted: missing files, unknown tensors, wrong shapes. */
export class CheckpointError extends TrimError {}

/** A .safetensors file whose bytes do not follow the format (truncated, bad header, unknown dtype). */
export class SafetensorsFormatError extends TrimError {}
