#!/usr/bin/env node
// The `lacuna` command. A shim: the CLI itself is TypeScript (src-main/cli/cli.ts), built by
// electron-vite into out/main/cli.js.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cliUrl = new URL('../out/main/cli.js', import.meta.url);
const cliPath = fileURLToPath(cliUrl);

if (!existsSync(cliPath)) {
  process.stderr.write(`lacuna: the CLI is not built (${cliPath} is missing); run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}\n`);
  process.exit(1);
}

const { main } = await import(cliUrl.href);
const code = await main(process.argv.slice(2));
process.exit(code);
