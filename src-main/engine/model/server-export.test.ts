import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { appRoot } from '../../platform/paths';
import { importModel } from './import';
import { tempDirs } from './import-test-support';
import { exportForServer, graphSignature, tritonConfig, TRITON_IMAGE } from './server-export';

const ROOT = appRoot();
const TINY = join(ROOT, 'models/fixtures/tiny-fixture');
const CHECKPOINT = join(ROOT, 'models/tests/import-fixture/checkpoint');
const TEMPLATES = join(ROOT, 'models/tests/import-fixture/templates');
const tempDir = tempDirs('lacuna-server-export-');

describe('Triton model repository', () => {
  it('reads the network I/O from the graph, dynamic axes as -1', async () => {
    const s = graphSignature(await readFile(join(TINY, 'model.onnx')));
    expect(s.inputs).toEqual([
      { name: 'indices', type: 'TYPE_INT64', dims: [-1, -1] },
      { name: 'sigma', type: 'TYPE_FP32', dims: [-1] },
      { name: 'positions', type: 'TYPE_INT64', dims: [-1] },
      { name: 'uniforms', type: 'TYPE_FP32', dims: [-1] },
    ]);
    expect(s.outputs).toEqual([
      { name: 'log_score', type: 'TYPE_FP32', dims: [-1, 512] },
      { name: 'token', type: 'TYPE_INT64', dims: [-1] },
      { name: 'log_norm', type: 'TYPE_FP32', dims: [-1] },
    ]);
    expect(tritonConfig('m', s.inputs.slice(0, 1), s.outputs.slice(2))).toBe(
      [
        'name: "m"',
        'backend: "onnxruntime"',
        '# The graph has its own dynamic batch axis; Triton passes shapes through unchanged.',
        'max_batch_size: 0',
        'input [\n  {\n    name: "indices"\n    data_type: TYPE_INT64\n    dims: [ -1, -1 ]\n  }\n]',
        'output [\n  {\n    name: "log_norm"\n    data_type: TYPE_FP32\n    dims: [ -1 ]\n  }\n]',
        '',
      ].join('\n'),
    );
  });

  it('writes an imported package (external weights) that onnxruntime loads from the version folder, and says how to serve it', async () => {
    const pkg = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir: await tempDir(), id: 'tiny-served' });
    const repo = join(await tempDir(), 'repository');
    const out = await exportForServer(pkg.dir, repo);
    expect(out.dir).toBe(join(repo, 'tiny-served'));
    expect(readdirSync(out.dir).sort()).toEqual(['1', 'config.pbtxt']);
    expect(readdirSync(join(out.dir, '1')).sort()).toEqual(['model.onnx', 'weights.bin']);
    expect(readdirSync(repo)).toEqual(['tiny-served']); // no temporary folder left
    const config = await readFile(join(out.dir, 'config.pbtxt'), 'utf8');
    expect(config).toContain('name: "tiny-served"\nbackend: "onnxruntime"\n');
    expect(config).toContain('name: "log_score"\n    data_type: TYPE_FP32\n    dims: [ -1, 512 ]');
    expect(config).not.toContain('instance_group'); // the server chooses GPU or CPU
    expect(out.command).toBe(
      `docker run --rm --gpus=all -p 8000:8000 -v ${JSON.stringify(repo)}:/models ${TRITON_IMAGE} tritonserver --model-repository=/models`,
    );
    expect(out.note).toBeUndefined();

    // What the server's ONNX Runtime backend would load: the graph with its weights beside it.
    const session = await InferenceSession.create(join(out.dir, '1', 'model.onnx'));
    try {
      expect(session.inputNames).toEqual(out.inputs.map((i) => i.name));
      const r = await session.run({
        indices: new Tensor('int64', BigInt64Array.from([1n, 511n, 3n]), [1, 3]),
        sigma: new Tensor('float32', Float32Array.from([1]), [1]),
        positions: new Tensor('int64', BigInt64Array.from([1n]), [1]),
        uniforms: new Tensor('float32', Float32Array.from([0.5]), [1]),
      });
      expect(r.log_score!.dims).toEqual([1, 512]);
    } finally {
      await session.release();
    }

    // A second export into the same repository is refused; nothing changes.
    const again = await exportForServer(pkg.dir, repo).catch((e: unknown) => e as ApiError);
    expect(again).toBeInstanceOf(ApiError);
    expect((again as ApiError).code).toBe('conflict');
    expect((again as ApiError).message).toMatch(/already exists/);
  });

  it('notes that an int8 package runs on a GPU server’s CPU, and refuses a damaged package', async () => {
    const int8 = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir: await tempDir(), precision: 'int8' });
    const out = await exportForServer(int8.dir, await tempDir());
    expect(out.note).toMatch(/int8 weights for the CPU/);

    const damaged = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir: await tempDir(), id: 'damaged' });
    const w = await readFile(join(damaged.dir, 'weights.bin'));
    w.writeUInt8(w.readUInt8(100) ^ 0xff, 100);
    await writeFile(join(damaged.dir, 'weights.bin'), w);
    const repo = await tempDir();
    await expect(exportForServer(damaged.dir, repo)).rejects.toThrow(/weights\.bin/);
    expect(existsSync(join(repo, 'damaged'))).toBe(false);
  });
});
