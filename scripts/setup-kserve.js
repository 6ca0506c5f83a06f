#!/usr/bin/env node
// Creates or updates .venv-kserve/ at the repository root: a Python virtual environment with the exact
// packages of models/server/requirements.txt (KServe + onnxruntime), for models/server/kserve_onnx.py,
// the KServe v2 server that the tests and benchmarks run and that serves a Lacuna export without Docker.
//
// Idempotent: the SHA-256 of requirements.txt is stamped into the environment once the install has
// worked, and a later run with the same requirements does nothing. Different requirements recreate the
// environment from scratch (python -m venv --clear), so it holds exactly the pinned packages.
//
//   node scripts/setup-kserve.js [--force]      (npm run setup:kserve)
//
// LACUNA_KSERVE_PYTHON picks the interpreter that creates the environment (default: python3; 3.11 or
// newer, with the venv module: Debian's python3-venv). Then run the server with
//   .venv-kserve/bin/python models/server/kserve_onnx.py --model-repository DIR
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(root, '.venv-kserve');
const requirements = join(root, 'models', 'server', 'requirements.txt');
const stamp = join(venv, '.requirements.sha256');
const venvPython = process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
const basePython = process.env.LACUNA_KSERVE_PYTHON || (process.platform === 'win32' ? 'python' : 'python3');
const force = process.argv.includes('--force');
const rel = (p) => relative(process.cwd(), p) || '.';

function fail(message) {
  console.error(`setup-kserve: ${message}`);
  process.exit(1);
}

/** Runs a command with its output shown; fails with `what` when it cannot start or exits non-zero. */
function run(what, cmd, args) {
  console.log(`setup-kserve: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
  if (r.error) fail(`${what}: cannot run ${cmd} (${r.error.message})`);
  if (r.status !== 0) fail(`${what} failed (${cmd} exited with ${r.status ?? r.signal})`);
}

let wanted;
try {
  wanted = createHash('sha256').update(readFileSync(requirements)).digest('hex');
} catch (e) {
  fail(`cannot read ${rel(requirements)}: ${e.message}`);
}
const current = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : null;
if (!force && current === wanted && existsSync(venvPython)) {
  console.log(`setup-kserve: ${rel(venv)} is up to date (requirements.txt sha256 ${wanted.slice(0, 12)}…); nothing to do`);
  process.exit(0);
}

// The interpreter that creates the environment: present, 3.11 or newer, with venv.
const probe = spawnSync(basePython, ['-c', 'import sys, venv; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' });
if (probe.error) fail(`cannot run ${basePython} (${probe.error.message}). Install Python 3.11+ or set LACUNA_KSERVE_PYTHON to one.`);
if (probe.status !== 0) {
  const why = probe.stderr.trim().split('\n').pop() || `exit status ${probe.status ?? probe.signal}`;
  fail(`${basePython} cannot create virtual environments (${why}). Debian: apt-get install python3-venv.`);
}
const version = probe.stdout.trim();
const [major, minor] = version.split('.').map(Number);
if (major < 3 || (major === 3 && minor < 11)) fail(`${basePython} is Python ${version}; the pinned packages need 3.11 or newer (set LACUNA_KSERVE_PYTHON).`);

rmSync(stamp, { force: true }); // a failed install must not look finished
if (existsSync(venvPython)) {
  console.log(`setup-kserve: ${current ? 'requirements changed' : force ? '--force' : 'no finished install'}: recreating ${rel(venv)} with Python ${version}`);
} else {
  console.log(`setup-kserve: creating ${rel(venv)} with Python ${version} (${basePython})`);
}
run('creating the virtual environment', basePython, ['-m', 'venv', '--clear', venv]);
if (!existsSync(venvPython)) fail(`${basePython} -m venv made no ${rel(venvPython)}`);
run('installing models/server/requirements.txt', venvPython, ['-m', 'pip', 'install', '--no-input', '-r', requirements]);

const check = spawnSync(venvPython, ['-c', 'import kserve, numpy, onnxruntime; print(onnxruntime.__version__)'], { encoding: 'utf8' });
if (check.status !== 0) fail(`the new environment cannot import kserve and onnxruntime:\n${check.stderr || check.error?.message}`);
writeFileSync(stamp, `${wanted}\n`);
console.log(`setup-kserve: done: onnxruntime ${check.stdout.trim()} in ${rel(venv)}; run the server with`);
console.log(`  ${rel(venvPython)} models/server/kserve_onnx.py --model-repository DIR`);
