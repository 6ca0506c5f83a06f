/**
 * The inference server setting (issue 19): where the "remote" device sends the network's calls. One
 * home for its rules — which addresses are accepted, the token's form, the timeout's range and the
 * words that explain them — used by the contract (api.ts engine.setServer), the service that keeps
 * it (service/inference-server.ts), the CLI (`--device remote:URL`, `lacuna server`) and the
 * settings form.
 *
 * Off unless set: with no server saved, the remote device refuses to run. The token is sent only to
 * the saved server's origin (runtime/kserve-v2.ts does not follow redirects), and the setting is
 * never returned with its token: the renderer learns only whether one is saved.
 */
import { z } from 'zod';

/** The device that runs the network on the inference server (the rest of a fill stays here). */
export const REMOTE_DEVICE = 'remote';

/** Seconds one network call may take before the fill stops with "did not answer". */
export const SERVER_TIMEOUT = { min: 1, max: 600, default: 60 } as const;

/** The longest token accepted (JWTs of a few KB are common). */
export const MAX_TOKEN_CHARS = 8192;

/** What the UI says while the remote device is chosen. */
export const REMOTE_WARNING =
  'While the inference server is the device, the text around your blanks leaves this computer: it is sent to the server (as token ids) for every fill.';

/**
 * The server's base address, checked and normalised: http or https, a host, no user name or password
 * (use the token), no query or fragment; a path is kept (a server behind a proxy at /triton), with no
 * trailing slash. Throws a RangeError in the writer's words.
 */
export function parseServerUrl(text: string): string {
  const raw = text.trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RangeError(`"${raw}" is not an address; write it as http://host:port or https://host`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(`the inference server must be reached over http or https, not ${url.protocol.replace(':', '')}`);
  }
  if (!url.hostname) throw new RangeError(`"${raw}" names no host`);
  if (url.username || url.password) throw new RangeError('put no user name or password in the address; give the server a token instead');
  if (url.search || url.hash) throw new RangeError('the address of the inference server takes no ?query or #fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** A bearer token: printable ASCII without spaces (it goes into an HTTP header as it is). */
export function checkToken(token: string): string {
  const t = token.trim();
  if (t.length === 0) throw new RangeError('the token is empty');
  if (t.length > MAX_TOKEN_CHARS) throw new RangeError(`the token is longer than ${MAX_TOKEN_CHARS} characters`);
  if (!/^[\x21-\x7e]+$/.test(t)) throw new RangeError('the token may hold only printable ASCII characters, without spaces');
  return t;
}

function refined<T extends z.ZodType<string>>(schema: T, check: (s: string) => string) {
  return schema.superRefine((s, ctx) => {
    try {
      check(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });
}

/** The setting as the contract carries it from a front (engine.setServer). */
export const ServerSettingInput = z
  .object({
    /** null: no server (the remote device is off). */
    url: refined(z.string().min(1).max(2048), parseServerUrl).nullable(),
    /** A bearer token for that server; null removes the saved one; absent keeps it (same host only). */
    token: refined(z.string().min(1).max(MAX_TOKEN_CHARS), checkToken).nullable().optional(),
    timeoutSeconds: z.number().int().min(SERVER_TIMEOUT.min).max(SERVER_TIMEOUT.max).optional(),
  })
  .strict();
export type ServerSettingInput = z.infer<typeof ServerSettingInput>;

/** The setting as fronts see it: never the token itself. */
export const ServerSetting = z.object({
  url: z.string().nullable(),
  hasToken: z.boolean(),
  timeoutSeconds: z.number().int(),
});
export type ServerSetting = z.infer<typeof ServerSetting>;

/** What the engine needs to reach the server (the core resolves the "remote" device to this). */
export interface RemoteServer {
  /** parseServerUrl's form. */
  url: string;
  token?: string;
  timeoutMs: number;
}
