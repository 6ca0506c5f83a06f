/**
 * Layering: only the Electron shell (src-main/electron-main) and the preload (src-main/preload)
 * may import `electron`; the preload may import nothing but `electron` and src-main/common (it is
 * bundled into a sandboxed script); src-main/common runs anywhere (no Node, no Electron, nothing
 * outside common but zod).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|svelte)$/;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (SOURCE.test(entry.name)) out.push(full);
  }
  return out;
}

/** Module specifiers a file imports: static/dynamic import, export-from, require. Comments are ignored. */
function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\'"`])\/\/.*$/gm, '$1');
  const specs: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[1]!);
  return specs;
}

function isElectron(spec: string): boolean {
  return spec === 'electron' || spec.startsWith('electron/');
}

function rel(file: string): string {
  return relative(root, file).split(sep).join('/');
}

const files = [...walk(join(root, 'src-main')), ...walk(join(root, 'src-renderer'))];
const inDir = (file: string, dir: string): boolean => rel(file).startsWith(dir + '/');

/**
 * The layers of src-main, top to bottom: the fronts (the Electron shell, the preload, web mode, the
 * CLI) → the service (the core every front calls) → the engine and the store → platform (paths, how
 * this binary starts in another role) and the contract (common). Code imports only downwards or
 * within its own folder; tests may reach anywhere.
 */
const LAYERS: { dir: string; rank: number }[] = [
  { dir: 'src-main/electron-main', rank: 4 },
  { dir: 'src-main/preload', rank: 4 },
  { dir: 'src-main/web', rank: 4 },
  { dir: 'src-main/cli', rank: 4 },
  { dir: 'src-main/service', rank: 3 },
  { dir: 'src-main/engine', rank: 2 },
  { dir: 'src-main/store', rank: 2 },
  { dir: 'src-main/platform', rank: 1 },
  { dir: 'src-main/common', rank: 0 },
];
const layerOf = (file: string): string | undefined => LAYERS.find((l) => inDir(file, l.dir))?.dir;
const rankOf = (dir: string | undefined): number => LAYERS.find((l) => l.dir === dir)?.rank ?? -1;
const isTest = (file: string): boolean => /\.test\.ts$|test-support\.ts$|test-fixture\.ts$/.test(file);

describe('import scanner', () => {
  it('finds every import form and skips comments', () => {
    const src = [
      "import { app } from 'electron';",
      "import type { X } from './x';",
      "import './side-effect';",
      "export * from 'a';",
      'export { b } from "b";',
      "const c = await import('c');",
      "const d = require('electron/main');",
      "// import nope from 'commented';",
      "/* import nope2 from 'block'; */",
      'import {\n  multi,\n  line,\n} from "multi";',
    ].join('\n');
    expect(importsOf(src).sort()).toEqual(['./side-effect', './x', 'a', 'b', 'c', 'electron', 'electron/main', 'multi'].sort());
  });

  it('sees the source tree', () => {
    // Guards against the walk silently finding nothing (then every check below would pass).
    expect(files.some((f) => rel(f) === 'src-main/electron-main/main.ts')).toBe(true);
    expect(files.some((f) => rel(f) === 'src-main/preload/preload.ts')).toBe(true);
    expect(files.some((f) => rel(f).startsWith('src-renderer/'))).toBe(true);
    for (const layer of LAYERS)
      expect(
        files.some((f) => layerOf(f) === layer.dir),
        layer.dir,
      ).toBe(true);
  });
});

describe('layering', () => {
  it('only src-main/electron-main and src-main/preload import electron', () => {
    const offenders = files
      .filter((f) => !inDir(f, 'src-main/electron-main') && !inDir(f, 'src-main/preload'))
      .filter((f) => importsOf(readFileSync(f, 'utf8')).some(isElectron))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('the preload imports only electron and src-main/common', () => {
    const offenders: string[] = [];
    for (const f of files.filter((f) => inDir(f, 'src-main/preload'))) {
      for (const spec of importsOf(readFileSync(f, 'utf8'))) {
        if (spec === 'electron') continue;
        if (spec.startsWith('.')) {
          const target = rel(resolve(dirname(f), spec));
          if (target.startsWith('src-main/common/') || target.startsWith('src-main/preload/')) continue;
        }
        offenders.push(`${rel(f)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src-main folders import only downwards (fronts → service → engine, store → platform, common) or within themselves', () => {
    const offenders: string[] = [];
    for (const f of files.filter((f) => inDir(f, 'src-main') && !isTest(f))) {
      const from = layerOf(f);
      expect(from, `${rel(f)} is in no layer`).toBeDefined();
      for (const spec of importsOf(readFileSync(f, 'utf8')).filter((s) => s.startsWith('.'))) {
        const to = layerOf(resolve(dirname(f), spec));
        if (to === from || rankOf(to) < rankOf(from)) continue;
        // The packaged binary is also the CLI (`lacuna --lacuna-cli …`, app-routes.ts): the shell hands over to it.
        if (rel(f) === 'src-main/electron-main/main.ts' && to === 'src-main/cli') continue;
        offenders.push(`${rel(f)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src-main/common imports only zod and other common files', () => {
    const offenders: string[] = [];
    for (const f of files.filter((f) => inDir(f, 'src-main/common') && !f.endsWith('.test.ts'))) {
      for (const spec of importsOf(readFileSync(f, 'utf8'))) {
        if (spec === 'zod') continue;
        if (spec.startsWith('.') && rel(resolve(dirname(f), spec)).startsWith('src-main/common/')) continue;
        offenders.push(`${rel(f)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
