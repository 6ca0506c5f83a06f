/**
 * JSON text from files the user gives (a model's manifest, tokenizer, config, a safetensors
 * header), parsed with an error that says where it breaks but never quotes the text: V8's own
 * messages do (`Unexpected token 'S', "SECRET-API"... is not valid JSON`), and a file's contents
 * must not travel in an error message to a log, a terminal or a web client (issue 16).
 */
export class JsonTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonTextError';
  }
}

/** JSON.parse(text), or JsonTextError "<what> is not valid JSON (at line L, column C)". */
export function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new JsonTextError(`${what} is not valid JSON${where(text, e instanceof Error ? e.message : '')}`);
  }
}

/** Where V8 says the text breaks, as line and column (counted from 1), without any of the text. */
function where(text: string, message: string): string {
  if (/end of JSON input|Unterminated/i.test(message) && !/position \d+/.test(message)) return ' (it ends too early)';
  let at = Number(/position (\d+)/.exec(message)?.[1] ?? NaN);
  if (!Number.isFinite(at)) {
    // V8 names the offending character without a position when it is the first one it reads badly.
    const quoted = /Unexpected token '(.)'/.exec(message)?.[1];
    at = quoted === undefined ? NaN : text.indexOf(quoted);
  }
  if (!Number.isFinite(at) || at < 0) return '';
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  return ` (at line ${line}, column ${column})`;
}
