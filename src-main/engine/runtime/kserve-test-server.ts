/**
 * Test and benchmark support: a real KServe v2 server (KServe's Python model server with
 * onnxruntime, models/server/kserve_onnx.py) serving Triton-layout repositories written by
 * exportForServer, on 127.0.0.1 and a port the OS picks. Its Python is the `.venv-kserve` that
 * `npm run setup:kserve` makes (`npm test` runs it first). No such Python is an error that says how
 * to get one, never a skipped test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { appRoot } from '../../platform/paths';

export interface KServeProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  child: ChildProcess;
  /** Stops it (SIGKILL: like a server that dies) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** What it wrote on stderr so far (for failures). */
  stderr(): string;
}

export function kservePython(): string {
  const python = join(appRoot(), '.venv-kserve', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  if (!existsSync(python)) {
    throw new Error(`no Python with KServe at ${python}: run \`npm run setup:kserve\` (it makes .venv-kserve from models/server/requirements.txt)`);
  }
  return python;
}

/**
 * Starts the server on `repository` and resolves once it accepts connections and every model is
 * ready. `delayMs`: it waits that long before each inference (a slow server).
 */
export async function startKServe(repository: string, o: { delayMs?: number; threads?: number; models?: string[] } = {}): Promise<KServeProcess> {
  const args = [join(appRoot(), 'models', 'server', 'kserve_onnx.py'), '--model-repository', repository, '--host', '127.0.0.1', '--port', '0'];
  if (o.delayMs) args.push('--delay-ms', String(o.delayMs));
  if (o.threads) args.push('--threads', String(o.threads));
  if (o.models) args.push('--models', o.models.join(','));
  const child = spawn(kservePython(), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1', ORT_DISABLE_TELEMETRY: '1' },
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err = (err + c.toString('utf8')).slice(-20_000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the KServe server did not start within 120 s:\n${err}`));
    }, 120_000);
    lines.on('line', (line) => {
      const m = /^LISTENING (http:\/\/\S+)$/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`the KServe server exited (${sig ?? code}) before listening:\n${err}`));
    });
  });
  // Listening; wait until KServe says ready.
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/v2/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error(`the KServe server at ${url} never became ready:\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    stderr: () => err,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
