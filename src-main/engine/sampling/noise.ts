/**
 * Noise schedules (sedd.md §2): the total noise σ̄(t) and its rate σ̄'(t) for t ∈ [0, 1].
 * Names follow the official SEDD code (noise_lib.py): LogLinearNoise, GeometricNoise.
 */

export interface Noise {
  /** Total noise σ̄(t) = ∫₀ᵗ σ(τ) dτ. The network is conditioned on this value. */
  total(t: number): number;
  /** Rate σ̄'(t) = dσ̄/dt. */
  rate(t: number): number;
}

/**
 * Log-linear schedule for the absorbing graph: σ̄(t) = −log(1 − (1−ε)t), so a token is masked
 * at time t with probability 1 − e^{−σ̄(t)} = (1−ε)t, linear in t. ε keeps σ̄(1) finite.
 */
export class LogLinearNoise implements Noise {
  constructor(readonly eps = 1e-3) {
    if (!(eps > 0 && eps < 1)) throw new RangeError(`log-linear eps must lie in (0, 1), got ${eps}`);
  }
  total(t: number): number {
    return -Math.log1p(-(1 - this.eps) * t);
  }
  rate(t: number): number {
    return (1 - this.eps) / (1 - (1 - this.eps) * t);
  }
}

/** Geometric schedule (uniform graph): σ̄(t) = σmin^{1−t}·σmax^t, σ̄'(t) = σ̄(t)·ln(σmax/σmin). */
export class GeometricNoise implements Noise {
  constructor(
    readonly sigmaMin = 1e-4,
    readonly sigmaMax = 20,
  ) {
    if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) {
      throw new RangeError(`geometric noise needs 0 < sigma_min < sigma_max, got ${sigmaMin}, ${sigmaMax}`);
    }
  }
  total(t: number): number {
    return this.sigmaMin ** (1 - t) * this.sigmaMax ** t;
  }
  rate(t: number): number {
    return this.total(t) * Math.log(this.sigmaMax / this.sigmaMin);
  }
}

export type NoiseSpec = { type: 'loglinear'; eps: number } | { type: 'geometric'; sigma_min: number; sigma_max: number };

export function noiseFromSpec(spec: NoiseSpec): Noise {
  return spec.type === 'loglinear' ? new LogLinearNoise(spec.eps) : new GeometricNoise(spec.sigma_min, spec.sigma_max);
}
