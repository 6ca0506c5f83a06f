/** The engine host as an Electron utility process (a sandboxable Node child that Electron manages). */
import { utilityProcess } from 'electron';
import type { EngineHostPort, SpawnEngineHost } from '../engine/process/engine-client';
import type { HostReply, HostRequest } from '../engine/process/protocol';

export function utilityEngineHost(hostPath: string): SpawnEngineHost {
  return (): EngineHostPort => {
    const child = utilityProcess.fork(hostPath, [], { serviceName: 'Lacuna engine', stdio: 'inherit' });
    let exited = false;
    const exitListeners: ((info: { code: number | null; signal: string | null }) => void)[] = [];
    child.once('exit', (code: number) => {
      exited = true;
      for (const l of exitListeners) l({ code, signal: null });
    });
    return {
      postMessage: (message: HostRequest) => {
        if (!exited) child.postMessage(message);
      },
      onMessage: (listener: (message: HostReply) => void) => {
        child.on('message', (message: unknown) => listener(message as HostReply));
      },
      onExit: (listener) => {
        exitListeners.push(listener);
      },
      kill: () => {
        if (!exited) child.kill();
      },
    };
  };
}
