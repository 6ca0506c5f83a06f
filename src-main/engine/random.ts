/**
 * A seeded pseudo-random stream: xoshiro128** (Blackman & Vigna, 2018), seeded from a 32-bit seed
 * through SplitMix32. Only 32-bit integer arithmetic (Math.imul, shifts) and IEEE-754 doubles are
 * used, so one seed gives the same stream on every platform and every JavaScript engine.
 */

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** seed: any integer; only its low 32 bits count. */
  constructor(seed: number) {
    let sm = seed >>> 0;
    const next = (): number => {
      // SplitMix32: a Weyl sequence through the MurmurHash3 finaliser.
      sm = (sm + 0x9e3779b9) | 0;
      let z = sm;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /** A generator with an explicit 128-bit state (for checking against the reference implementation). */
  static fromState(state: readonly [number, number, number, number]): Random {
    const r = new Random(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((v) => v >>> 0) as [number, number, number, number];
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) throw new RangeError('xoshiro128** state must not be all zero');
    return r;
  }

  /** The next 32-bit output, an integer in [0, 2^32). */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits (two outputs). */
  uniform(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * TWO_POW_26 + b) / TWO_POW_53;
  }

  /** An Exp(1) draw, −log(1 − U): in [0, ∞), and exactly 0 only when U = 0. */
  exponential(): number {
    return -Math.log(1 - this.uniform());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
