#!/usr/bin/env node
// Runs the PyTorch-side tests (models/tests) with a Python that has torch, numpy and onnx.
// LACUNA_PYTHON picks the interpreter; otherwise the first of /usr/bin/python3 (Debian's
// python3-torch) and python3 on PATH that imports all three. No such Python is an error, not a skip.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const candidates = process.env.LACUNA_PYTHON ? [process.env.LACUNA_PYTHON] : ['/usr/bin/python3', 'python3', 'python'];
// the tests run onnxruntime (src-main/engine/runtime/ort-offline.ts)
const env = { ...process.env, OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1', PYTHONDONTWRITEBYTECODE: '1', ORT_DISABLE_TELEMETRY: '1' };

const python = candidates.find((py) => spawnSync(py, ['-c', 'import torch, numpy, onnx'], { env, stdio: 'ignore' }).status === 0);
if (!python) {
  console.error(
    'test-python: no Python with torch, numpy and onnx found (tried ' +
      candidates.join(', ') +
      ').\n' +
      'Install them (Debian: apt-get install python3-torch python3-onnx python3-numpy libopenblas0-pthread)\n' +
      'or point LACUNA_PYTHON at an interpreter that has them.',
  );
  process.exit(1);
}
const r = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'models/tests', '-t', '.', '-v'], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
