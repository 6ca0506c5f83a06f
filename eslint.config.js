// Flat ESLint config: TypeScript (type-aware where cheap), Svelte 5, and the layering rule
// that keeps `electron` out of everything but the shell and the preload.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'models/**', 'e2e/artifacts/**', 'bench/**', '.bench-ui/**', '.scratch/**', '.venv-kserve/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,svelte}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    // Only the Electron shell and the preload may touch Electron.
    files: [
      'src-main/common/**',
      'src-main/platform/**',
      'src-main/service/**',
      'src-main/engine/**',
      'src-main/store/**',
      'src-main/web/**',
      'src-main/cli/**',
      'src-renderer/**',
      'e2e/**',
      'scripts/**',
    ],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'Only src-main/electron-main and src-main/preload may import electron.' }] }],
    },
  },
);
