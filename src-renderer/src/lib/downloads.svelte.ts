/**
 * The download catalogue (models.catalogue) and the downloads the writer started (models.download,
 * with its download.progress events; fill.cancel stops one, keeping what arrived for a resume).
 * Shared by the model manager and the first-run notice.
 */
import type { ApiEvent, CatalogueEntry, Precision } from '../../../src-main/common/api';
import { ApiError } from '../../../src-main/common/api';
import { client } from '../bridge';
import { describeError } from './alerts.svelte';
import { effectiveModel } from './fill-settings';
import { models } from './models.svelte';
import { prefs } from './prefs.svelte';

type Progress = Extract<ApiEvent, { type: 'download.progress' }>;

export interface DownloadState {
  requestId: string;
  progress: Progress | null;
}

class Downloads {
  /** null until loaded. */
  catalogue = $state.raw<CatalogueEntry[] | null>(null);
  catalogueError = $state<string | null>(null);
  /** Downloads running from this window, by catalogue id. */
  running = $state<Record<string, DownloadState>>({});
  /** The last outcome per catalogue id: what was installed, or why it stopped. */
  outcome = $state<Record<string, { ok: boolean; message: string; offline?: boolean }>>({});
  #listening = false;

  async loadCatalogue(): Promise<void> {
    this.#listen();
    try {
      this.catalogue = await client.call('models.catalogue', {});
      this.catalogueError = null;
    } catch (err) {
      this.catalogueError = describeError(err);
    }
  }

  entry(id: string): CatalogueEntry | undefined {
    return this.catalogue?.find((c) => c.id === id);
  }

  /** The first entry not installed yet: what the first-run notice offers. */
  get suggestion(): CatalogueEntry | undefined {
    return this.catalogue?.find((c) => c.installed.length === 0);
  }

  /** Download and install a catalogue entry; without a precision the core picks this computer's default (precision.ts). */
  async start(id: string, precision?: Precision): Promise<void> {
    if (this.running[id]) return;
    this.#listen();
    const requestId = `download-${id}-${Date.now()}`;
    this.running[id] = { requestId, progress: null };
    delete this.outcome[id];
    try {
      const m = await client.call('models.download', { requestId, id, ...(precision ? { precision } : {}) });
      await models.load(true);
      // A writer still on the demo model wants the real one for their fills at once.
      const current = effectiveModel(prefs.fillDefaults, models.list);
      if (!current || current.demo) {
        prefs.setFillDefaults({ ...prefs.fillDefaults, model: m.id });
        this.outcome[id] = { ok: true, message: `Installed “${m.name}” (${m.id}). Your fills now use it (Fill settings changes that).` };
        client
          .call('engine.warm', { model: m.id, device: prefs.fillDefaults.device })
          .catch((err: unknown) => console.warn('Lacuna: could not load the new model ahead of the first fill', err));
      } else {
        this.outcome[id] = { ok: true, message: `Installed “${m.name}” (${m.id}). Choose it in Fill settings to fill with it.` };
      }
    } catch (err) {
      const e = ApiError.from(err);
      this.outcome[id] =
        e.code === 'cancelled'
          ? { ok: false, message: 'Download paused. What arrived is kept: Resume continues from there.' }
          : { ok: false, message: describeError(err), offline: e.code === 'network_error' };
    } finally {
      delete this.running[id];
      await this.loadCatalogue();
    }
  }

  async cancel(id: string): Promise<void> {
    const r = this.running[id];
    if (r) await client.call('fill.cancel', { requestId: r.requestId });
  }

  async discard(id: string): Promise<void> {
    try {
      await client.call('models.discardDownload', { id });
      delete this.outcome[id];
    } catch (err) {
      this.outcome[id] = { ok: false, message: describeError(err) };
    }
    await this.loadCatalogue();
  }

  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    client.onEvent((e) => {
      if (e.type !== 'download.progress') return;
      const r = this.running[e.id];
      if (r && r.requestId === e.requestId) r.progress = e;
    });
  }
}

export const downloads = new Downloads();
