/**
 * The installed models (models.list) and this machine's devices (engine.devices), loaded on first
 * need and shared by the model manager, the fill settings and the surprise view.
 */
import type { DeviceInfo, ModelInfo } from '../../../src-main/common/api';
import { client } from '../bridge';
import { describeError } from './alerts.svelte';

class Models {
  /** null until loaded. */
  list = $state.raw<ModelInfo[] | null>(null);
  devices = $state.raw<DeviceInfo[] | null>(null);
  /** Why the list or the devices could not be loaded. */
  listError = $state<string | null>(null);
  devicesError = $state<string | null>(null);
  #listing: Promise<void> | null = null;
  #probing: Promise<void> | null = null;

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

  loadDevices(): Promise<void> {
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

  byId(id: string | null | undefined): ModelInfo | undefined {
    return id ? this.list?.find((m) => m.id === id) : undefined;
  }

  get defaultModel(): ModelInfo | undefined {
    return this.list?.find((m) => m.isDefault);
  }
}

export const models = new Models();
