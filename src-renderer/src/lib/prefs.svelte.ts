/** The writer's display preferences, kept in localStorage (per machine, not per document). */

const KEY = 'lacuna.prefs';

interface Stored {
  highlightGenerated?: boolean;
}

function read(): Stored {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY) ?? '{}');
    return parsed && typeof parsed === 'object' ? (parsed as Stored) : {};
  } catch {
    return {};
  }
}

class Prefs {
  /** Show generated text (accepted fills the writer has not edited yet) highlighted. */
  highlightGenerated = $state(read().highlightGenerated ?? true);

  toggleHighlightGenerated(): void {
    this.highlightGenerated = !this.highlightGenerated;
    try {
      localStorage.setItem(KEY, JSON.stringify({ highlightGenerated: this.highlightGenerated } satisfies Stored));
    } catch (err) {
      console.warn('Lacuna: could not keep the display preference', err);
    }
  }
}

export const prefs = new Prefs();
