#!/usr/bin/env node
// The formatting check of `npm run lint` (so of `npm test`): Prettier for the TypeScript, Svelte,
// JavaScript and JSON files (.prettierrc.json), black for the Python side (models/pyproject.toml),
// and no source line over MAX_LINE characters, comments and strings included (neither formatter
// breaks those). `node scripts/check-format.js --write` formats instead of checking.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_LINE = 160;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const write = process.argv.includes('--write');
let failed = false;

function run(what, cmd, args, hint) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) {
    console.error(`check-format: cannot run ${cmd} (${r.error.message}). ${hint}`);
    failed = true;
  } else if (r.status !== 0) {
    console.error(`check-format: ${what} found files to format; run: node scripts/check-format.js --write`);
    failed = true;
  }
}

run(
  'Prettier',
  process.execPath,
  [join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), write ? '--write' : '--check', '--log-level', 'warn', '.'],
  'Run npm install.',
);
run(
  'black',
  'black',
  ['--config', 'models/pyproject.toml', '--quiet', ...(write ? [] : ['--check']), 'models'],
  'Install black 23 (Debian: apt-get install black; or pip install black==23.1.0).',
);

// Long lines, in every tracked source file (generated data and lock files aside).
const SOURCE = /\.(ts|js|cjs|mjs|svelte|css|html|py|sh|yml|yaml)$|(^|\/)\.ci\/run$/;
const SKIP = /^(models\/(data\/build|fixtures|templates|train\/runs)\/|package-lock\.json$)/;
const files = spawnSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
  .stdout.split('\n')
  .filter((f) => f && SOURCE.test(f) && !SKIP.test(f));
const long = [];
for (const file of files) {
  let text;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch {
    continue; // listed by git but deleted in the working tree
  }
  text.split('\n').forEach((line, i) => {
    if ([...line].length > MAX_LINE) long.push(`${file}:${i + 1}: ${[...line].length} characters`);
  });
}
if (long.length) {
  console.error(`check-format: ${long.length} line(s) over ${MAX_LINE} characters:\n  ${long.join('\n  ')}`);
  failed = true;
}
process.exit(failed ? 1 : 0);
