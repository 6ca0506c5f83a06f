import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// The test-only model packages (tiny-fixture, tiny-ti, tiny-uniform) are not among the folders the
// app lists (paths.ts modelDirs): the tests and every process they start reach them through this.
// ORT_DISABLE_TELEMETRY: the tests' own sessions too (src-main/engine/runtime/ort-offline.ts).
const env = { LACUNA_EXTRA_MODELS: resolve(import.meta.dirname, 'models', 'fixtures'), ORT_DISABLE_TELEMETRY: '1' };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src-main/**/*.test.ts', 'src-renderer/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
          env,
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e.ts'],
          environment: 'node',
          env,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
