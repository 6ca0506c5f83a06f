/** Test support for the import tests (import.test.ts, mdlm-import.test.ts): temporary folders, a safetensors writer, an import's error. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { ApiError } from '../../common/api';
import { importModel } from './import';

/** A function that makes a temporary folder, each removed after its test. Call once per test file. */
export function tempDirs(prefix: string): () => Promise<string> {
  const temps: string[] = [];
  afterEach(async () => {
    for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
  });
  return async () => {
    const d = await mkdtemp(join(tmpdir(), prefix));
    temps.push(d);
    return d;
  };
}

export interface TestTensor {
  shape: number[];
  /** The values (F32); default: value(i, name) for each index. */
  data?: Float32Array;
  /** The dtype written in the header (default F32; the data are F32 bytes either way). */
  dtype?: string;
}

/** A safetensors file written by the tests' own writer (8-byte header length, JSON header, data). */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TestTensor>,
  value: (i: number, name: string) => number = (i, name) => Math.sin(i + name.length),
): Promise<void> {
  const header: Record<string, unknown> = {};
  const blobs: Buffer[] = [];
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = t.data ?? Float32Array.from({ length: n }, (_, i) => value(i, name));
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [off, off + buf.length] };
    blobs.push(buf);
    off += buf.length;
  }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  await writeFile(path, Buffer.concat([len, h, ...blobs]));
}

/** The ApiError an import of `src` fails with (the test fails if it succeeds or fails otherwise). */
export async function importError(src: string, modelsDir: string, templateDirs: string[]): Promise<ApiError> {
  const err = await importModel(src, { templateDirs, modelsDir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}
