/**
 * A streaming reader for the safetensors format (8-byte little-endian header length, a JSON header
 * `name → {dtype, shape, data_offsets: [begin, end]}` plus an optional `__metadata__` string map,
 * then the raw little-endian tensor bytes, offsets relative to the end of the header).
 *
 * Built for 0.7–1.7 GB checkpoints: the header is read once and validated (every offset in bounds,
 * byte length = numel × dtype size, no two tensors overlapping); tensor data is read with fs reads
 * at their offsets, in chunks, and converted to float32 (F32, F16, BF16). Nothing ever reads the
 * whole file into one buffer. Errors are ApiError('bad_request') naming the file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { ApiError } from '../../common/api';
import { parseJsonText } from '../../common/json-text';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  F8_E4M3: 1,
  F8_E5M2: 1,
};
const FLOAT_DTYPES = new Set<string>(['F32', 'F16', 'BF16']);
/** Headers larger than this are refused (real ones are tens of KB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the data in the file, and its length. */
  offset: number;
  bytes: number;
}

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Open and validate the header. Close the result when done. */
  static async open(path: string): Promise<SafetensorsFile> {
    if (endianness() !== 'LE') throw new ApiError('internal', 'safetensors: big-endian hosts are not supported');
    const name = basename(path);
    const bad = (msg: string): never => {
      throw new ApiError('bad_request', `${name}: ${msg}`);
    };
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new ApiError('bad_request', `${name}: cannot open (${(e as Error).message})`);
    }
    try {
      const size = (await fh.stat()).size;
      if (size < 8) bad(`not a safetensors file (${size} bytes; truncated?)`);
      const head = Buffer.alloc(8);
      await readExactly(fh, head, 0);
      const n = head.readBigUInt64LE(0);
      if (n > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
        bad(
          `corrupt header: header length ${n} exceeds ` +
            `${size - 8 < MAX_HEADER_BYTES ? `the file (${size} bytes; truncated?)` : `the ${MAX_HEADER_BYTES}-byte limit`}`,
        );
      }
      const headerLen = Number(n);
      const buf = Buffer.alloc(headerLen);
      await readExactly(fh, buf, 8);
      let json: unknown;
      try {
        json = parseJsonText(buf.toString('utf8'), 'the header');
      } catch (e) {
        bad(`corrupt header: ${(e as Error).message}`);
      }
      if (!json || typeof json !== 'object' || Array.isArray(json)) bad('corrupt header: not a JSON object');
      const dataStart = 8 + headerLen;
      const dataSize = size - dataStart;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
        if (key === '__metadata__') {
          if (value && typeof value === 'object' && !Array.isArray(value)) metadata = value as Record<string, string>;
          else bad('corrupt header: __metadata__ is not an object');
          continue;
        }
        tensors.set(key, parseEntry(key, value, dataStart, dataSize, bad));
      }
      // Tensors may not overlap (the format packs them without holes; we only require no overlap).
      const sorted = [...tensors.values()].sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < sorted.length; i++) {
        const prev = sorted[i - 1]!;
        const cur = sorted[i]!;
        if (cur.offset < prev.offset + prev.bytes) bad(`corrupt header: tensors ${prev.name} and ${cur.name} overlap`);
      }
      return new SafetensorsFile(path, fh, tensors, metadata);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  get(name: string): TensorInfo | undefined {
    return this.tensors.get(name);
  }

  /**
   * The tensor's values as float32, in pieces of at most `chunkElements` elements (row-major order).
   * Each yielded array is fresh (the caller may keep it).
   */
  async *readFloat32Chunks(name: string, chunkElements = 1 << 20): AsyncGenerator<Float32Array> {
    const t = this.tensors.get(name);
    if (!t) throw new ApiError('bad_request', `${basename(this.path)}: no tensor ${name}`);
    if (!FLOAT_DTYPES.has(t.dtype))
      throw new ApiError('bad_request', `${basename(this.path)}: tensor ${name} has dtype ${t.dtype} (supported: F32, F16, BF16)`);
    const width = DTYPE_BYTES[t.dtype]!;
    const total = t.bytes / width;
    for (let done = 0; done < total;) {
      const n = Math.min(chunkElements, total - done);
      const raw = new Uint8Array(n * width);
      await readExactly(this.fh, raw, t.offset + done * width, this.path);
      yield toFloat32(raw, t.dtype as SafetensorsDtype, n);
      done += n;
    }
  }

  /** The whole tensor as float32 (for small tensors and tests). */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.tensors.get(name);
    const out = new Float32Array(t ? t.shape.reduce((a, b) => a * b, 1) : 0);
    let at = 0;
    for await (const chunk of this.readFloat32Chunks(name)) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

function parseEntry(key: string, value: unknown, dataStart: number, dataSize: number, bad: (m: string) => never): TensorInfo {
  if (!value || typeof value !== 'object') bad(`corrupt header: entry ${key} is not an object`);
  const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_BYTES)) bad(`corrupt header: tensor ${key} has unknown dtype ${JSON.stringify(v.dtype)}`);
  const dtype = v.dtype as string;
  if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
    bad(`corrupt header: tensor ${key} has a bad shape ${JSON.stringify(v.shape)}`);
  const shape = v.shape as number[];
  const o = v.data_offsets;
  if (!Array.isArray(o) || o.length !== 2 || !o.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    bad(`corrupt header: tensor ${key} has bad data_offsets ${JSON.stringify(o)}`);
  }
  const [begin, end] = o as [number, number];
  const numel = shape.reduce((a, b) => a * b, 1);
  const bytes = numel * DTYPE_BYTES[dtype]!;
  if (end < begin || end - begin !== bytes)
    bad(`corrupt header: tensor ${key} has data_offsets [${begin}, ${end}] but ${dtype} ${JSON.stringify(shape)} needs ${bytes} bytes`);
  if (end > dataSize) bad(`tensor ${key} ends at byte ${dataStart + end} but the file has ${dataStart + dataSize} bytes (truncated?)`);
  return { name: key, dtype, shape, offset: dataStart + begin, bytes };
}

async function readExactly(fh: FileHandle, into: Uint8Array, position: number, path?: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new ApiError('bad_request', `${path ? basename(path) : 'safetensors'}: unexpected end of file (truncated?)`);
    done += bytesRead;
  }
}

/** Convert n little-endian elements of `dtype` to float32. `raw` starts at offset 0 of its own buffer. */
export function toFloat32(raw: Uint8Array, dtype: SafetensorsDtype, n: number): Float32Array {
  if (dtype === 'F32') return new Float32Array(raw.buffer, raw.byteOffset, n).slice();
  const src = new Uint16Array(raw.buffer, raw.byteOffset, n);
  const out = new Float32Array(n);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]!);
  return out;
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

/** IEEE binary16 bits → number (exact). */
export function halfToFloat(h: number): number {
  return F16_TABLE[h & 0xffff]!;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * float32 → IEEE binary16 bits, rounding to nearest even (as numpy's astype(float16) and
 * torch.half() do): subnormal halves below 2^−14, ±Infinity above 65504 (the caller decides whether
 * that is an error), NaN stays NaN.
 */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // Subnormal half (or zero): mantissa with the implicit 1, shifted right by 14 − e … 24.
    if (e < -10) return sign; // below half the smallest subnormal → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Round to nearest even; a carry into the exponent is correct (it may reach Inf).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** float32 values → binary16 bits (round to nearest even). */
export function toHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]!);
  return out;
}
