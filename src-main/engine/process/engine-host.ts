/**
 * Entry point of the engine host process (built to out/main/engine-host.js). It runs the Engine and
 * talks to its parent with the messages of protocol.ts, so that a native crash in onnxruntime ends
 * this process only, never the app's.
 *
 * Works as an Electron utility process (process.parentPort) and as a Node child_process.fork child
 * (process.send / process.on('message')). Never imports 'electron'.
 */
import { Engine } from '../engine';
import { serveEngine, type HostEndpoint, type HostReply } from './protocol';

/** The part of Electron's process.parentPort (utility processes) used here. */
interface ParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

function parentEndpoint(): HostEndpoint | null {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (parentPort) {
    return {
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data)),
      send: (reply: HostReply) => parentPort.postMessage(reply),
    };
  }
  if (typeof process.send === 'function') {
    // The parent may be gone by the time a reply is ready; that reply is dropped.
    const send = (reply: HostReply): void => {
      if (process.connected) process.send!(reply, undefined, {}, () => undefined);
    };
    process.on('disconnect', () => process.exit(0));
    return { onMessage: (listener) => process.on('message', listener), send };
  }
  return null;
}

const endpoint = parentEndpoint();
if (!endpoint) {
  process.stderr.write('engine-host: start me with child_process.fork or Electron utilityProcess.fork, not directly\n');
  process.exit(2);
}
const threads = Number(process.env.LACUNA_ENGINE_THREADS);
serveEngine(endpoint, new Engine(Number.isInteger(threads) && threads > 0 ? { threads } : {}), () => process.exit(0));
