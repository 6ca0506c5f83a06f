/**
 * onnxruntime-node with its telemetry off, whatever the environment (issue 16: nothing leaves the
 * machine). Since 1.29 the library carries Microsoft's telemetry client on Linux and macOS too: the
 * first session of a process writes a device id and an event queue under
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and uploads events. `ORT_DISABLE_TELEMETRY=1`
 * is its full opt-out when set before the runtime's environment is created, which happens at the
 * first InferenceSession.create (not at import): so every path that creates a session goes through
 * loadOrt (or sets ORT_OFFLINE_ENV in a child's environment) and the value is forced, not
 * defaulted, so a user's `ORT_DISABLE_TELEMETRY=0` cannot turn it back on.
 */
import type * as Ort from 'onnxruntime-node';

/** The environment every process that runs onnxruntime gets. */
export const ORT_OFFLINE_ENV: Readonly<Record<string, string>> = Object.freeze({ ORT_DISABLE_TELEMETRY: '1' });

/** Turn onnxruntime's telemetry off for this process (before its first session). */
export function ortOffline(): void {
  Object.assign(process.env, ORT_OFFLINE_ENV);
}

/** onnxruntime-node, with ortOffline applied first. */
export async function loadOrt(): Promise<typeof Ort> {
  ortOffline();
  return import('onnxruntime-node');
}
