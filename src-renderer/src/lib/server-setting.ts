/**
 * The inference server setting as the renderer shows and edits it (common/inference-server.ts has
 * its rules): the address in short, and the model manager's form read into an engine.setServer
 * request, checked here first so that a mistake is said in the writer's words before anything is sent.
 */
import { checkToken, parseServerUrl, SERVER_TIMEOUT, type ServerSettingInput } from '../../../src-main/common/inference-server';

/** A message of common/inference-server.ts as a sentence: capital first, full stop at the end. */
export function sentence(message: string): string {
  const s = message.trim().replace(/\.$/, '');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

/** The server's host and port as the writer reads it ("gpu-box:8000"); the address itself when it is no URL. */
export function serverHost(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/** What the writer typed in the model manager's "Inference server" form. */
export interface ServerForm {
  url: string;
  /** Empty: keep the saved token (while the server stays the same), or none. */
  token: string;
  /** Seconds; NaN when the field is empty or not a number. */
  timeoutSeconds: number;
}

export type ServerField = keyof ServerForm;

/** The form as an engine.setServer request, or the first thing wrong with it (which field, and why in the writer's words). */
export function readServerForm(form: ServerForm): { input: ServerSettingInput } | { error: string; field: ServerField } {
  const raw = form.url.trim();
  if (!raw) return { error: 'Type the address of the server, as http://host:port or https://host.', field: 'url' };
  let url: string;
  try {
    url = parseServerUrl(raw);
  } catch (e) {
    return { error: sentence((e as Error).message), field: 'url' };
  }
  let token: string | undefined;
  if (form.token.trim()) {
    try {
      token = checkToken(form.token);
    } catch (e) {
      return { error: sentence((e as Error).message), field: 'token' };
    }
  }
  const t = form.timeoutSeconds;
  if (!Number.isInteger(t) || t < SERVER_TIMEOUT.min || t > SERVER_TIMEOUT.max) {
    return { error: `The timeout is a whole number of seconds from ${SERVER_TIMEOUT.min} to ${SERVER_TIMEOUT.max}.`, field: 'timeoutSeconds' };
  }
  return { input: { url, ...(token !== undefined ? { token } : {}), timeoutSeconds: t } };
}

/** Whether two addresses name the same origin (a saved token is kept only then: service/inference-server.ts). */
export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
