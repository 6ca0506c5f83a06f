/**
 * The inference server setting, kept by the core (common/inference-server.ts has its rules): a small
 * JSON file in the data folder, readable by this user only (it may hold a token), replaced whole
 * (written beside and renamed) so that a crash mid-save leaves the old setting. No file: no server,
 * and the remote device refuses to run.
 *
 * A saved token belongs to the server it was given for: changing the address to another origin
 * without giving a token drops it, so it is never sent to a host it was not meant for.
 */
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../common/api';
import {
  checkToken,
  parseServerUrl,
  SERVER_TIMEOUT,
  REMOTE_DEVICE,
  type RemoteServer,
  type ServerSetting,
  type ServerSettingInput,
} from '../common/inference-server';

export const SERVER_SETTING_FILE = 'inference-server.json';

interface Saved {
  url: string;
  token?: string;
  timeoutSeconds: number;
}

export class ServerSettingStore {
  private readonly file: string;

  constructor(
    private readonly dataDir: string,
    /** A server for this process only (the CLI's `--device remote:URL`); wins over the saved one. */
    private readonly override?: RemoteServer,
  ) {
    this.file = join(dataDir, SERVER_SETTING_FILE);
  }

  /** The saved setting; a damaged file reads as none (with the reason on stderr), never as a wrong server. */
  private read(): Saved | null {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new ApiError('storage_error', `Cannot read the inference server setting ${this.file}: ${(e as Error).message}`);
    }
    try {
      const v = JSON.parse(text) as Partial<Saved>;
      const url = parseServerUrl(String(v.url));
      const token = v.token === undefined ? undefined : checkToken(String(v.token));
      const t = Number(v.timeoutSeconds ?? SERVER_TIMEOUT.default);
      const timeoutSeconds = Number.isInteger(t) && t >= SERVER_TIMEOUT.min && t <= SERVER_TIMEOUT.max ? t : SERVER_TIMEOUT.default;
      return { url, ...(token ? { token } : {}), timeoutSeconds };
    } catch (e) {
      console.error(`lacuna: the inference server setting ${this.file} is damaged and was ignored (${(e as Error).message}); set it again`);
      return null;
    }
  }

  get(): ServerSetting {
    const s = this.override ? { url: this.override.url, token: this.override.token, timeoutSeconds: Math.round(this.override.timeoutMs / 1000) } : this.read();
    return { url: s?.url ?? null, hasToken: Boolean(s?.token), timeoutSeconds: s?.timeoutSeconds ?? SERVER_TIMEOUT.default };
  }

  set(input: ServerSettingInput): ServerSetting {
    if (this.override)
      throw new ApiError('bad_request', 'this command was given its own inference server (--device remote:URL); the saved setting is not changed from here');
    if (input.url === null) {
      rmSync(this.file, { force: true });
      return this.get();
    }
    let url: string;
    try {
      url = parseServerUrl(input.url);
    } catch (e) {
      throw new ApiError('bad_request', `url: ${(e as Error).message}`);
    }
    const old = this.read();
    let token: string | undefined;
    if (typeof input.token === 'string') token = checkToken(input.token);
    else if (input.token === undefined && old?.token && new URL(old.url).origin === new URL(url).origin) token = old.token;
    const saved: Saved = { url, ...(token ? { token } : {}), timeoutSeconds: input.timeoutSeconds ?? old?.timeoutSeconds ?? SERVER_TIMEOUT.default };
    try {
      mkdirSync(this.dataDir, { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.file);
    } catch (e) {
      throw new ApiError('storage_error', `Cannot save the inference server setting in ${this.dataDir}: ${(e as Error).message}`);
    }
    return this.get();
  }

  /**
   * What the engine needs for a job on `device`: the server when the device is the remote one
   * (ApiError when none is set), nothing otherwise.
   */
  serverFor(device: string | undefined): RemoteServer | undefined {
    if (device !== REMOTE_DEVICE) return undefined;
    if (this.override) return this.override;
    const s = this.read();
    if (!s) {
      throw new ApiError(
        'bad_request',
        'No inference server is set, so the remote device is off. ' +
          'Set one (Models and devices → Inference server in the app, or `lacuna server set URL`) or choose another device.',
      );
    }
    return { url: s.url, ...(s.token ? { token: s.token } : {}), timeoutMs: s.timeoutSeconds * 1000 };
  }
}
