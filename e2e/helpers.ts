/**
 * E2E helpers: start the real web mode (node out/main/web.js) on a fresh data folder, and a
 * headless Chromium driven by playwright-core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ARTIFACTS = join(ROOT, 'e2e', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const WEB_JS = join(ROOT, 'out', 'main', 'web.js');
const RENDERER_INDEX = join(ROOT, 'out', 'renderer', 'index.html');
const URL_LINE = /^Lacuna web mode: (http:\/\/127\.0\.0\.1:\d+\/)#token=([0-9A-Za-z_-]+)\s*$/;

export interface WebMode {
  /** The URL web mode printed, token fragment included. */
  url: string;
  /** http://127.0.0.1:PORT/ */
  origin: string;
  token: string;
  dataDir: string;
  /** Everything web mode wrote to stderr so far (for failure messages). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Fail early, and say what to do, when the build the e2e tests run against is missing. */
export function requireBuild(): void {
  const missing = [WEB_JS, RENDERER_INDEX].filter((f) => !existsSync(f));
  if (missing.length) {
    throw new Error(
      `e2e: the build is missing (${missing.map((f) => f.slice(ROOT.length + 1)).join(', ')}). ` +
        'Run `npx electron-vite build` first (`npm test` does it before vitest).',
    );
  }
  if (!existsSync(CHROMIUM)) throw new Error(`e2e: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);
}

export interface WebModeOptions {
  /** An existing data folder (kept on stop); default: a fresh one, removed on stop. */
  dataDir?: string;
  /** Runs on the data folder before web mode starts (e.g. to put model templates there). */
  prepare?: (dataDir: string) => void;
  /** More environment for web mode (e.g. HF_ENDPOINT of a local Hub, LACUNA_WARM_START). */
  env?: NodeJS.ProcessEnv;
  /** Run web mode (and every process it starts) under strace, writing its network calls here (network.e2e.ts). */
  straceTo?: string;
}

/** strace's arguments for a network audit: every process, the calls that reach a socket's peer (and execve, to show which processes were traced). */
export function straceArgs(log: string): string[] {
  // --seccomp-bpf: the traced processes stop only at these calls, not at every one (strace would otherwise slow them,
  // and the tests beside them, many times over).
  return ['-f', '--seccomp-bpf', '-qq', '-e', 'trace=connect,sendto,sendmsg,execve', '-o', log];
}

export async function startWebMode(options: WebModeOptions = {}): Promise<WebMode> {
  requireBuild();
  const fresh = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'lacuna-e2e-'));
  options.prepare?.(dataDir);
  const [command, args] = options.straceTo ? ['strace', [...straceArgs(options.straceTo), process.execPath, WEB_JS]] : [process.execPath, [WEB_JS]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env, LACUNA_DATA_DIR: dataDir, LACUNA_PORT: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Under strace: its own process group, so that stopping signals web mode itself, not only strace.
    detached: options.straceTo !== undefined,
  });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
  });

  const cleanup = (): void => {
    if (fresh) rmSync(dataDir, { recursive: true, force: true });
  };
  let found: { origin: string; token: string; url: string };
  try {
    found = await new Promise((resolveUrl, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        for (const line of out.split('\n')) {
          const m = URL_LINE.exec(line);
          if (m) resolveUrl({ origin: m[1]!, token: m[2]!, url: line.slice('Lacuna web mode: '.length).trim() });
        }
      });
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(new Error(`e2e: web mode exited (${signal ?? `code ${code}`}) before printing its URL.\nstdout: ${out}\nstderr: ${err}`)),
      );
    });
  } catch (e) {
    child.kill('SIGKILL');
    cleanup();
    throw e;
  }

  return {
    ...found,
    dataDir,
    stderr: () => err,
    stop: async () => {
      await stopProcess(child);
      cleanup();
    },
  };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const group = child.spawnargs[0] === 'strace' && child.pid !== undefined;
  const signal = (sig: NodeJS.Signals): void => {
    if (group) process.kill(-child.pid!, sig);
    else child.kill(sig);
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * The editor's text as the writer sees it, one line per paragraph, heading or list item, with
 * each blank written in the blank syntax (`____` for an auto blank, `{{N}}` for one of N tokens) whatever it
 * shows (an empty gap, tokens being filled, an alternative to review), and line breaks as "\n".
 * Read from the page (the editor is a contenteditable, not a form field).
 */
const EDITOR_TEXT = `(root) => {
  const lines = [];
  const inline = (el) => {
    let s = '';
    for (const c of el.childNodes) {
      if (c.nodeType === 3) s += c.data;
      else if (c.nodeType !== 1) continue;
      else if (c.hasAttribute('data-blank')) {
        const n = c.getAttribute('data-tokens');
        s += n === 'auto' ? '____' : '{{' + n + '}}';
      } else if (c.tagName === 'BR') {
        if (!c.classList.contains('ProseMirror-trailingBreak')) s += '\\n';
      } else if (c.tagName !== 'IMG') s += inline(c);
    }
    return s;
  };
  const blocks = (el) => {
    for (const c of el.children) {
      if (/^(P|H[1-6])$/.test(c.tagName)) lines.push(inline(c));
      else blocks(c);
    }
  };
  blocks(root);
  return lines.join('\\n');
}`;

export async function editorText(page: Page): Promise<string> {
  const text: unknown = await page.evaluate(`(${EDITOR_TEXT})(document.querySelector('[role=textbox][aria-label=Text]'))`);
  if (typeof text !== 'string') throw new Error('e2e: no editor on the page');
  return text;
}
