/** Error messages shown in the app's alert region (role="alert"). Nothing is swallowed silently. */
import { ApiError } from '../../../src-main/common/api';

export interface AlertItem {
  id: number;
  message: string;
}

class Alerts {
  items = $state<AlertItem[]>([]);
  #next = 1;

  /** Show an error. `context` says what was being done, e.g. "Could not open the document". */
  push(context: string, err?: unknown): void {
    const detail = err === undefined ? '' : describeError(err);
    const message = detail ? `${context}: ${detail}` : context;
    // Repeating the same message (autosave retrying, say) would only add noise.
    if (this.items.some((a) => a.message === message)) return;
    this.items.push({ id: this.#next++, message });
    if (err !== undefined) console.error(context, err);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((a) => a.id !== id);
  }

  clear(): void {
    this.items = [];
  }
}

export const alerts = new Alerts();

export function describeError(err: unknown): string {
  const e = ApiError.from(err);
  return e.message.replace(/\.$/, '') + '.';
}
