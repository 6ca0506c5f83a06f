import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Three builds into out/: main (the Electron shell plus the plain-Node entries that share its core:
// web mode, CLI, engine host, search and tokenizer workers), preload (sandboxed, CommonJS, self-contained) and the Svelte renderer.
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve('src-main/electron-main/main.ts'),
          web: resolve('src-main/web/web-main.ts'),
          cli: resolve('src-main/cli/cli.ts'),
          'engine-host': resolve('src-main/engine/process/engine-host.ts'),
          'search-worker': resolve('src-main/store/search-worker.ts'),
          'tokenizer-worker': resolve('src-main/engine/model/tokenizer-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      externalizeDeps: false,
      rollupOptions: {
        input: { preload: resolve('src-main/preload/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'src-renderer',
    plugins: [
      svelte(),
      // Vite's dev server injects styles as inline <style> tags; relax style-src in dev only.
      // Built files keep the strict policy from index.html.
      {
        name: 'lacuna-dev-csp',
        apply: 'serve',
        transformIndexHtml: (html: string) => html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
      },
    ],
    build: {
      outDir: 'out/renderer',
      rollupOptions: { input: resolve('src-renderer/index.html') },
    },
  },
});
