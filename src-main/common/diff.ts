/**
 * A word-level diff for revision previews: which words a revision has that the current text lacks,
 * and the other way round. Runs anywhere (no Node/DOM).
 *
 * Text splits into tokens (runs of word characters, runs of whitespace, single other characters);
 * the common prefix and suffix are stripped, then Myers' O(ND) algorithm aligns the middle. If the
 * two sides differ in more than `maxEdits` tokens, the middle is reported as one deletion plus one
 * insertion (still correct, just coarser), so 10 MB documents stay cheap. Long unchanged runs are
 * shortened to `context` characters on each side, with the number of characters left out.
 */

export type DiffOp =
  | {
      op: 'equal';
      text: string;
      /** Characters left out of this run: at the start of the first run, the end of the last, else the middle. */
      elided?: number;
    }
  | { op: 'insert'; text: string }
  | { op: 'delete'; text: string };

export interface DiffOptions {
  /** Largest edit distance (in tokens) aligned exactly; default 4000. */
  maxEdits?: number;
  /** Characters of unchanged text kept around each change; default 200. Infinity keeps all. */
  context?: number;
}

const TOKEN = /[\p{L}\p{N}\p{M}_'’]+|\s+|[^]/gu;

export function tokenize(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/** The edit script from `before` to `after`: concatenating equal+delete gives before, equal+insert gives after (before elision). */
export function diffWords(before: string, after: string, options: DiffOptions = {}): DiffOp[] {
  const a = tokenize(before);
  const b = tokenize(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ops: DiffOp[] = [];
  push(ops, 'equal', a.slice(0, start).join(''));
  for (const op of myers(a.slice(start, endA), b.slice(start, endB), options.maxEdits ?? 4000)) push(ops, op.op, op.text);
  push(ops, 'equal', a.slice(endA).join(''));
  return elide(ops, options.context ?? 200);
}

function push(ops: DiffOp[], op: DiffOp['op'], text: string): void {
  if (!text) return;
  const last = ops[ops.length - 1];
  if (last && last.op === op) last.text += text;
  else ops.push({ op, text } as DiffOp);
}

/** Myers' greedy shortest edit script, with the trace kept to recover the path. */
function myers(a: string[], b: string[], maxEdits: number): DiffOp[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 && m === 0) return [];
  if (n === 0) return [{ op: 'insert', text: b.join('') }];
  if (m === 0) return [{ op: 'delete', text: a.join('') }];
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, d, offset);
    }
    v = next;
  }
  return [
    { op: 'delete', text: a.join('') },
    { op: 'insert', text: b.join('') },
  ];
}

/** trace[d] holds the furthest x per diagonal after round d − 1; walk back from (n, m). */
function backtrack(trace: Int32Array[], a: string[], b: string[], dEnd: number, offset: number): DiffOp[] {
  const out: DiffOp[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    const prev = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && prev[offset + k - 1]! < prev[offset + k + 1]!);
    const prevK = down ? k + 1 : k - 1;
    const prevX = prev[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX + (down ? 0 : 1) && y > prevY + (down ? 1 : 0)) {
      out.push({ op: 'equal', text: a[--x]! });
      y--;
    }
    if (down) out.push({ op: 'insert', text: b[--y]! });
    else out.push({ op: 'delete', text: a[--x]! });
  }
  while (x > 0 && y > 0) {
    out.push({ op: 'equal', text: a[--x]! });
    y--;
  }
  const merged: DiffOp[] = [];
  for (let i = out.length - 1; i >= 0; i--) push(merged, out[i]!.op, out[i]!.text);
  return merged;
}

function elide(ops: DiffOp[], context: number): DiffOp[] {
  if (!Number.isFinite(context)) return ops;
  return ops.map((o, i) => {
    if (o.op !== 'equal') return o;
    const keepHead = i === 0 ? 0 : context;
    const keepTail = i === ops.length - 1 ? 0 : context;
    if (o.text.length <= keepHead + keepTail + 20) return o;
    const elided = o.text.length - keepHead - keepTail;
    return { op: 'equal', text: o.text.slice(0, keepHead) + o.text.slice(o.text.length - keepTail), elided };
  });
}
