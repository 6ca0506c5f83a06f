import { describe, expect, it } from 'vitest';
import { JsonTextError, parseJsonText } from './json-text';

describe('parseJsonText', () => {
  it('parses JSON', () => {
    expect(parseJsonText('{"a": [1, 2]}', 'x.json')).toEqual({ a: [1, 2] });
  });

  it('says where the text breaks and never quotes it', () => {
    const cases: [string, RegExp][] = [
      ['SECRET-API-KEY-12345', /^config\.json is not valid JSON \(at line 1, column 1\)$/],
      ['{"key": "SECRET-API-KEY-12345"', /^config\.json is not valid JSON/],
      ['{\n  "a": 1,\n  SECRET: 2\n}', /^config\.json is not valid JSON \(at line 3, column 3\)$/],
      ['"SECRET-API-KEY unterminated', /^config\.json is not valid JSON/],
      ['', /^config\.json is not valid JSON \(it ends too early\)$/],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        parseJsonText(text, 'config.json');
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(JsonTextError);
      expect((error as Error).message, text).toMatch(message);
      expect((error as Error).message).not.toMatch(/SECRET|KEY|key/);
    }
  });
});
