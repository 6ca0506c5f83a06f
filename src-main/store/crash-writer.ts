/**
 * The writer half of the crash-safety test (crash.test.ts): a plain Node process that uses the
 * real store to save one document over and over (growing bodies, a snapshot with every save)
 * until it is killed with SIGKILL. After each save has returned (so after its COMMIT), it writes
 * the committed revision number to stdout; the test then checks that every reported revision is
 * in the library. Run with LACUNA_CRASH_WRITER=1 and the data folder as the only argument.
 */
import { writeSync } from 'node:fs';
import { openDatabase } from './database';
import { DocumentStore } from './documents';

const UNIT = 'The ____ sat on the {{3}} mat. Ça va? 😀 שלום e\u0301 NUL\u0000 \\____\n';

/** The body saved at revision `rev`: grows for 20 revisions, then starts small again. */
export function crashBody(rev: number): string {
  return `revision ${rev}\n${UNIT.repeat((rev % 20) * 5)}`;
}

export function crashWriterMain(dataDir: string): never {
  const db = openDatabase({ dataDir });
  const docs = new DocumentStore(db, { snapshotIntervalMs: 0, retention: { maxPerDocument: 1_000_000 } });
  const existing = docs.list()[0];
  let doc = existing ? docs.open(existing.id) : docs.create({ title: 'crash test' });
  writeSync(1, 'open\n');
  for (;;) {
    const rev = doc.revision + 1;
    doc = docs.save({
      id: doc.id,
      title: `revision ${rev}`,
      body: crashBody(rev),
      baseRevision: doc.revision,
      ...(rev % 5 === 0 ? { snapshot: 'before-fill' as const } : {}),
    });
    // Only now is the revision durable: report it.
    writeSync(1, `${doc.revision}\n`);
  }
}

if (process.env.LACUNA_CRASH_WRITER === '1' && process.argv[2]) crashWriterMain(process.argv[2]);
