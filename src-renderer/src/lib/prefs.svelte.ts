/**
 * The writer's preferences, kept in localStorage (per machine, not per document): display options,
 * how the document list is sorted, and the default fill settings (a document may have its own,
 * kept with it: fill-settings.ts).
 */
import { fillSettingsOrDefaults, type FillSettings } from './fill-settings';

const KEY = 'lacuna.prefs';

export type LibrarySort = 'edited' | 'title' | 'created';

export const LIBRARY_SORTS: { id: LibrarySort; label: string }[] = [
  { id: 'edited', label: 'Recently edited' },
  { id: 'title', label: 'Title' },
  { id: 'created', label: 'Recently created' },
];

interface Stored {
  highlightGenerated?: boolean;
  librarySort?: LibrarySort;
  fillDefaults?: FillSettings;
  /** The first-run notice about the demo model was dismissed ("Not now"): it does not come back. */
  demoNoticeDismissed?: boolean;
}

function read(): Stored {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY) ?? '{}');
    return parsed && typeof parsed === 'object' ? (parsed as Stored) : {};
  } catch {
    return {};
  }
}

const stored = read();

class Prefs {
  /** Show generated text (accepted fills the writer has not edited yet) highlighted. */
  highlightGenerated = $state(stored.highlightGenerated ?? true);
  librarySort = $state<LibrarySort>(LIBRARY_SORTS.some((s) => s.id === stored.librarySort) ? stored.librarySort! : 'edited');
  /** The fill settings of every document that has none of its own. */
  fillDefaults = $state.raw<FillSettings>(fillSettingsOrDefaults(stored.fillDefaults));
  demoNoticeDismissed = $state(stored.demoNoticeDismissed === true);

  dismissDemoNotice(): void {
    this.demoNoticeDismissed = true;
    this.#write();
  }

  toggleHighlightGenerated(): void {
    this.highlightGenerated = !this.highlightGenerated;
    this.#write();
  }

  setLibrarySort(sort: LibrarySort): void {
    this.librarySort = sort;
    this.#write();
  }

  setFillDefaults(settings: FillSettings): void {
    this.fillDefaults = { ...settings };
    this.#write();
  }

  #write(): void {
    try {
      localStorage.setItem(
        KEY,
        JSON.stringify({
          highlightGenerated: this.highlightGenerated,
          librarySort: this.librarySort,
          fillDefaults: this.fillDefaults,
          demoNoticeDismissed: this.demoNoticeDismissed,
        } satisfies Stored),
      );
    } catch (err) {
      console.warn('Lacuna: could not keep the preferences', err);
    }
  }
}

export const prefs = new Prefs();
