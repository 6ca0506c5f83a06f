/**
 * The installed models (models.list), this machine's devices (engine.devices) and the inference
 * server the "remote" device runs on (engine.server), loaded on first need and shared by the model
 * manager, the fill settings, the editor and the surprise view.
 */
import type { DeviceInfo, ModelInfo } from '../../../src-main/common/api';
import type { ServerSetting, ServerSettingInput } from '../../../src-main/common/inference-server';
import { client } from '../bridge';
import { describeError } from './alerts.svelte';
import { serverHost } from './server-setting';

class Models {
  /** null until loaded. */
  list = $state.raw<ModelInfo[] | null>(null);
  devices = $state.raw<DeviceInfo[] | null>(null);
  /** Why the list or the devices could not be loaded. */
  listError = $state<string | null>(null);
  devicesError = $state<string | null>(null);
  /** The inference server setting (never its token); null until loaded. */
  server = $state.raw<ServerSetting | null>(null);
  serverError = $state<string | null>(null);
  #listing: Promise<void> | null = null;
  #probing: Promise<void> | null = null;
  #serverLoading: Promise<void> | null = null;

  /** Load the list (again, with refresh). */
  load(refresh = false): Promise<void> {
    if (this.#listing && !refresh) return this.#listing;
    this.#listing = client.call('models.list', {}).then(
      (list) => {
        this.list = list;
        this.listError = null;
      },
      (err: unknown) => {
        this.listError = describeError(err);
        this.#listing = null;
      },
    );
    return this.#listing;
  }

  /** The devices, and the inference server setting beside them (the "remote" device). */
  loadDevices(): Promise<void> {
    void this.loadServer();
    if (this.#probing) return this.#probing;
    this.#probing = client.call('engine.devices', {}).then(
      (devices) => {
        this.devices = devices;
        this.devicesError = null;
      },
      (err: unknown) => {
        this.devicesError = describeError(err);
        this.#probing = null;
      },
    );
    return this.#probing;
  }

  loadServer(): Promise<void> {
    if (this.#serverLoading) return this.#serverLoading;
    this.#serverLoading = client.call('engine.server', {}).then(
      (server) => {
        this.server = server;
        this.serverError = null;
      },
      (err: unknown) => {
        this.serverError = describeError(err);
        this.#serverLoading = null;
      },
    );
    return this.#serverLoading;
  }

  /** Saves (url null: clears) the inference server; the setting as the core now has it. Throws ApiError. */
  async saveServer(input: ServerSettingInput): Promise<ServerSetting> {
    const server = await client.call('engine.setServer', input);
    this.server = server;
    this.serverError = null;
    this.#serverLoading = Promise.resolve();
    return server;
  }

  /** The saved server's host and port ("gpu-box:8000"), or null when none is set (or not loaded yet). */
  get serverHost(): string | null {
    return this.server?.url ? serverHost(this.server.url) : null;
  }

  byId(id: string | null | undefined): ModelInfo | undefined {
    return id ? this.list?.find((m) => m.id === id) : undefined;
  }

  get defaultModel(): ModelInfo | undefined {
    return this.list?.find((m) => m.isDefault);
  }
}

export const models = new Models();
