#!/usr/bin/env node
// Builds a second copy of better-sqlite3's native addon for Electron's ABI, beside the Node one.
//
// Why: the core (store, engine) runs under plain Node for web mode, the CLI and the tests, and under
// Electron for the desktop app. better-sqlite3 is a V8-ABI addon, so one build cannot serve both.
// node_modules/better-sqlite3 keeps the Node build; this script puts the Electron build at
// node_modules/.electron-native/better_sqlite3.node, which the shell passes to better-sqlite3 as
// `nativeBinding` (and electron-builder ships as resources/native/better_sqlite3.node).
// onnxruntime-node is N-API and needs no second build.
//
// Runs as postinstall. Skipped when ELECTRON_SKIP_BINARY_DOWNLOAD=1 (no Electron here, nothing to build for).
import { cpSync, existsSync, mkdirSync, copyFileSync, rmSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const outDir = join(root, 'node_modules', '.electron-native');
const target = join(outDir, 'better_sqlite3.node');

if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD === '1') {
  console.log('electron-native: ELECTRON_SKIP_BINARY_DOWNLOAD=1, skipping the Electron build of better-sqlite3');
  process.exit(0);
}

const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
const sqliteDir = dirname(require.resolve('better-sqlite3/package.json'));
const work = join(outDir, 'better-sqlite3');
rmSync(work, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
cpSync(sqliteDir, work, { recursive: true, filter: (src) => !src.startsWith(join(sqliteDir, 'build')) });

const bin = (name) => join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
const common = { cwd: work, stdio: 'inherit', shell: process.platform === 'win32' };
try {
  execFileSync(
    bin('prebuild-install'),
    ['--runtime=electron', `--target=${electronVersion}`, `--arch=${process.arch}`, `--platform=${process.platform}`],
    common,
  );
} catch {
  console.log('electron-native: no prebuilt binary, compiling better-sqlite3 against Electron headers');
  execFileSync(
    bin('node-gyp'),
    ['rebuild', '--release', '--runtime=electron', `--target=${electronVersion}`, `--arch=${process.arch}`, '--dist-url=https://electronjs.org/headers'],
    common,
  );
}
const built = join(work, 'build', 'Release', 'better_sqlite3.node');
if (!existsSync(built)) throw new Error(`electron-native: build finished but ${built} is missing`);
copyFileSync(built, target);
rmSync(work, { recursive: true, force: true });
console.log(`electron-native: better-sqlite3 for Electron ${electronVersion} → ${target}`);
