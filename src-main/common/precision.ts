/**
 * The precisions a model can be installed in: the one list behind the contract's enum
 * (api.ts Precision), the installed package ids, the default for this computer and the words the
 * app and the CLI show.
 *
 *   fp32  float32 weights and compute: exact.
 *   fp16  float16 weights and compute, from an fp16 graph template: half the size, for GPUs.
 *   int8  the large matrix products with int8 weights per output channel and int8 activations
 *         quantised at run time (src-main/engine/model/quantize.ts, made at install, no Python):
 *         about half the time per step on a CPU and under half the size; its error is measured in
 *         docs/cpu-speed.md.
 */

export const PRECISIONS = [
  { id: 'int8', label: 'int8 (fastest on a CPU; under half the size)', suffix: '-int8' },
  { id: 'fp32', label: 'fp32 (exact)', suffix: '' },
  { id: 'fp16', label: 'fp16 (half the size; for a GPU)', suffix: '-fp16' },
] as const;

export type PrecisionId = (typeof PRECISIONS)[number]['id'];
export const PRECISION_IDS = PRECISIONS.map((p) => p.id) as [PrecisionId, ...PrecisionId[]];

/** The id a model installs as in a precision: fp32 keeps it, the others add `-int8` / `-fp16`. */
export function packageIdFor(id: string, precision: PrecisionId): string {
  return `${id}${PRECISIONS.find((p) => p.id === precision)!.suffix}`;
}

/** Whether a GPU that Lacuna runs networks on well is available (WebGPU is not counted: software adapters are common). */
export function hasGpu(devices: readonly { id: string; available: boolean }[] | null | undefined): boolean {
  return devices?.some((d) => d.available && (d.id === 'cuda' || d.id === 'dml' || d.id === 'coreml')) ?? false;
}

/**
 * The precision to install in when the writer names none: int8 when the CPU will run it, else
 * fp16 where a float16 template exists (the catalogue's models), else fp32.
 */
export function defaultPrecision(devices: readonly { id: string; available: boolean }[] | null | undefined, fp16Available = true): PrecisionId {
  if (!hasGpu(devices)) return 'int8';
  return fp16Available ? 'fp16' : 'fp32';
}
