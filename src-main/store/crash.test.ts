/**
 * Crash safety: a child process (crash-writer.ts, bundled here into a plain Node script) saves
 * continuously through the real store and is killed with SIGKILL at a random moment, N times
 * (LACUNA_CRASH_ITERATIONS, default 200) on the same library. After every kill the library must
 * open, pass `PRAGMA integrity_check` and the FTS index check, and hold every revision the child
 * reported — it reports one only after the save (and so the COMMIT) returned — with the exact text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { closeDatabase, openDatabase } from './database';
import { crashBody } from './crash-writer';

const ITERATIONS = Number(process.env.LACUNA_CRASH_ITERATIONS ?? 200);
/** Writers killed side by side, each on its own library: node's start-up dominates each kill. */
const LANES = Math.max(1, Number(process.env.LACUNA_CRASH_LANES ?? 4));
// Inside the repository so the bundle's bare imports (better-sqlite3, zod) resolve to node_modules.
const BUNDLE_DIR = resolve('node_modules/.cache/lacuna-crash-writer');
const BUNDLE = join(BUNDLE_DIR, 'crash-writer.mjs');
let root: string;

beforeAll(async () => {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      ssr: resolve('src-main/store/crash-writer.ts'),
      outDir: BUNDLE_DIR,
      emptyOutDir: true,
      minify: false,
      rollupOptions: { output: { format: 'es', entryFileNames: 'crash-writer.mjs' } },
    },
  });
  root = mkdtempSync(join(tmpdir(), 'lacuna-crash-'));
}, 60_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Start the writer, kill it `delayMs` after it opened the library (or after start, if `early`). */
function runOnce(dataDir: string, delayMs: number, early: boolean): Promise<{ reported: number[]; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BUNDLE, dataDir], {
      env: { ...process.env, LACUNA_CRASH_WRITER: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    if (early) arm();
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.startsWith('open\n')) arm();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', fail);
    child.on('close', () => {
      clearTimeout(timer);
      // Only complete lines count: a number cut off by the kill was not fully reported.
      const lines = out
        .split('\n')
        .slice(0, -1)
        .filter((l) => /^\d+$/.test(l));
      done({ reported: lines.map(Number), stderr });
    });
  });
}

describe('crash safety', () => {
  it(`keeps every committed revision across ${ITERATIONS} SIGKILLs`, async () => {
    const started = Date.now();
    let reportedCount = 0;
    let integrityFailures = 0;
    let lost = 0;
    let killedWhileWriting = 0;
    let maxSeen = 0;
    let childMs = 0;
    const lane = async (n: number, dataDir: string): Promise<void> => {
      const reportedAll = new Set<number>();
      for (let i = 0; i < n; i++) {
        const t0 = Date.now();
        const early = i % 10 === 9; // some kills land during open, quick_check and migration
        const { reported, stderr } = await runOnce(dataDir, early ? Math.random() * 120 : 2 + Math.random() * 25, early);
        childMs += Date.now() - t0;
        expect(stderr).toBe('');
        if (reported.length) killedWhileWriting++;
        const db = openDatabase({ dataDir });
        try {
          if (db.pragma('integrity_check', { simple: true }) !== 'ok') integrityFailures++;
          // The FTS cross-check reads every body; every 10th kill and the last is enough.
          if (i % 10 === 0 || i === n - 1) db.prepare("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')").run();
          const doc = db.prepare<[], { revision: number; body: string }>('SELECT revision, body FROM documents').get();
          const snap = db.prepare<[number], { body: string; title: string }>('SELECT title, body FROM revisions WHERE revision = ?');
          for (const rev of reported) {
            reportedAll.add(rev);
            const s = snap.get(rev);
            if (!s || s.body !== crashBody(rev) || s.title !== `revision ${rev}`) lost++;
          }
          if (reported.length) {
            const last = Math.max(...reported);
            maxSeen = Math.max(maxSeen, last);
            if (!doc || doc.revision < last) lost++;
          }
          if (doc && doc.revision > 0) expect(doc.body === crashBody(doc.revision)).toBe(true);
        } finally {
          closeDatabase(db);
        }
      }
      reportedCount += reportedAll.size;
      // Everything reported over the whole run is still there at the end.
      const db = openDatabase({ dataDir });
      try {
        const have = new Set(
          db
            .prepare<[], { revision: number }>('SELECT revision FROM revisions')
            .all()
            .map((r) => r.revision),
        );
        for (const rev of reportedAll) if (!have.has(rev)) lost++;
      } finally {
        closeDatabase(db);
      }
    };
    await Promise.all(Array.from({ length: LANES }, (_, k) => lane(Math.floor(ITERATIONS / LANES) + (k < ITERATIONS % LANES ? 1 : 0), join(root, `lane${k}`))));
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `crash test: ${ITERATIONS} kills in ${LANES} lanes (${killedWhileWriting} mid-write), ` +
        `${reportedCount} committed revisions reported (up to ${maxSeen}), ` +
        `${integrityFailures} integrity failures, ${lost} lost, ${seconds.toFixed(1)} s (${(childMs / 1000).toFixed(1)} s in the writer)`,
    );
    expect(integrityFailures).toBe(0);
    expect(lost).toBe(0);
    expect(reportedCount).toBeGreaterThan(0);
  }, 600_000);
});
