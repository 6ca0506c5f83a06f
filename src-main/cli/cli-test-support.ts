/**
 * Shared by the CLI tests: run the real built CLI (`node bin/lacuna.js`, built by `npm test` before
 * vitest) in its own data folder, and the CLI's error contract.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { appRoot } from '../platform/paths';

export const ROOT = appRoot();
export const BIN = join(ROOT, 'bin', 'lacuna.js');

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** LACUNA_DATA_DIR for the run. */
  dataDir: string;
  cwd?: string;
  /** Text on stdin; stdin is closed either way. */
  stdin?: string;
  /** Another entry point than bin/lacuna.js (e.g. a copy of the shim). */
  bin?: string;
  /** More environment (e.g. HF_ENDPOINT of a local Hub); LACUNA_DATA_DIR is always dataDir. */
  env?: NodeJS.ProcessEnv;
}

export function runLacuna(args: readonly string[], opts: RunOptions): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env, LACUNA_DATA_DIR: opts.dataDir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

/** The error contract: nothing on stdout, one "lacuna: " line on stderr, the given status. */
export function expectFailure(o: Outcome, code: number, pattern: RegExp): void {
  expect(o.stdout).toBe('');
  expect(o.stderr).toMatch(/^lacuna: [^\n]+\n$/);
  expect(o.stderr).toMatch(pattern);
  expect(o.code).toBe(code);
}
