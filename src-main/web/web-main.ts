/**
 * `node out/main/web.js [--port N]` (npm run web): Lacuna in a browser on this machine.
 *
 * stdout carries exactly one line, the URL to open:
 *   Lacuna web mode: http://127.0.0.1:<port>/#token=<64 hex>
 * Everything else (warnings, errors) goes to stderr. The port comes from --port, else LACUNA_PORT,
 * else 0 (a free port). SIGINT/SIGTERM stop the server, the engine process and the database, then
 * exit 0; a second signal exits at once.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../platform/paths';
import { createNodeCore } from '../service/core-node';
import { warmStart } from '../service/core';
import { startWebServer, type WebServer } from './server';

const USAGE = 'usage: node out/main/web.js [--port N] — N in 0-65535, 0 = any free port; default: env LACUNA_PORT, else 0';

class UsageError extends Error {}

function parsePort(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  let raw: string | undefined = env.LACUNA_PORT?.trim() || undefined;
  let source = 'LACUNA_PORT';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--port') {
      raw = argv[++i];
      source = '--port';
      if (raw === undefined) throw new UsageError('--port needs a number');
    } else if (arg.startsWith('--port=')) {
      raw = arg.slice('--port='.length);
      source = '--port';
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (raw === undefined) return 0;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new UsageError(`${source} must be a port number 0-65535, not ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let port: number;
  try {
    port = parsePort(argv, process.env);
  } catch (err) {
    process.stderr.write(`lacuna web: ${(err as Error).message}; ${USAGE}\n`);
    process.exit(2);
  }

  const staticDir = join(appRoot(), 'out', 'renderer');
  if (!existsSync(join(staticDir, 'index.html'))) {
    process.stderr.write(`lacuna web: warning: no renderer build in ${staticDir}; run \`npm run build\` (the API works meanwhile)\n`);
  }

  const core = createNodeCore('web');
  let server: WebServer | undefined;

  // Handlers go in before anything is printed: whoever reads the URL line may signal at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`lacuna web: ${signal} again, exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    // If something hangs (a stuck engine process), do not hang with it.
    setTimeout(() => {
      process.stderr.write('lacuna web: shutdown timed out\n');
      process.exit(1);
    }, 10_000).unref();
    void (async () => {
      let code = 0;
      await server?.close().catch((err: unknown) => {
        process.stderr.write(`lacuna web: closing the server failed: ${String(err)}\n`);
        code = 1;
      });
      await core.close().catch((err: unknown) => {
        process.stderr.write(`lacuna web: closing the core failed: ${String(err)}\n`);
        code = 1;
      });
      process.exit(code);
    })();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  try {
    server = await startWebServer({ core, staticDir, port });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? `port ${port} is already in use` : e.message;
    process.stderr.write(`lacuna web: cannot start the server: ${why}\n`);
    await core.close().catch(() => {});
    process.exit(1);
  }
  if (stopping) {
    // A signal arrived while the server was starting; stop() did not see it yet.
    await server.close();
    return;
  }

  process.stdout.write(`Lacuna web mode: ${server.url}\n`);
  warmStart(core);
}

main().catch((err: unknown) => {
  process.stderr.write(`lacuna web: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
