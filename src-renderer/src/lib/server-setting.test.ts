/** The inference server form: what is sent, and what the writer is told when the form is wrong. */
import { describe, expect, it } from 'vitest';
import { SERVER_TIMEOUT } from '../../../src-main/common/inference-server';
import { readServerForm, sameOrigin, sentence, serverHost } from './server-setting';

describe('inference server form', () => {
  it('reads a good form into the request, the address normalised', () => {
    expect(readServerForm({ url: ' http://gpu-box:8000/triton/ ', token: '', timeoutSeconds: 60 })).toEqual({
      input: { url: 'http://gpu-box:8000/triton', timeoutSeconds: 60 },
    });
    expect(readServerForm({ url: 'https://infer.example', token: ' abc.def ', timeoutSeconds: 5 })).toEqual({
      input: { url: 'https://infer.example', token: 'abc.def', timeoutSeconds: 5 },
    });
  });

  it('says what is wrong, in sentences', () => {
    const url = (error: string | RegExp) => ({ error: typeof error === 'string' ? error : expect.stringMatching(error), field: 'url' });
    expect(readServerForm({ url: '', token: '', timeoutSeconds: 60 })).toEqual(url(/^Type the address/));
    expect(readServerForm({ url: 'ftp://x', token: '', timeoutSeconds: 60 })).toEqual(url('The inference server must be reached over http or https, not ftp.'));
    expect(readServerForm({ url: 'gpu box', token: '', timeoutSeconds: 60 })).toEqual(url(/^"gpu box" is not an address/));
    expect(readServerForm({ url: 'http://u:p@h', token: '', timeoutSeconds: 60 })).toEqual(url(/^Put no user name or password/));
    expect(readServerForm({ url: 'http://h?x=1', token: '', timeoutSeconds: 60 })).toEqual(url(/takes no \?query/));
    expect(readServerForm({ url: 'http://h', token: 'two words', timeoutSeconds: 60 })).toEqual({
      error: expect.stringMatching(/^The token may hold only/),
      field: 'token',
    });
    for (const t of [Number.NaN, 0, SERVER_TIMEOUT.max + 1, 1.5]) {
      expect(readServerForm({ url: 'http://h', token: '', timeoutSeconds: t })).toEqual({
        error: 'The timeout is a whole number of seconds from 1 to 600.',
        field: 'timeoutSeconds',
      });
    }
  });

  it('shows the host, and compares origins', () => {
    expect(serverHost('http://127.0.0.1:9')).toBe('127.0.0.1:9');
    expect(serverHost('https://infer.example/triton')).toBe('infer.example');
    expect(serverHost('not a url')).toBe('not a url');
    expect(sameOrigin('http://h:1/a', 'http://h:1/b')).toBe(true);
    expect(sameOrigin('http://h:1', 'http://h:2')).toBe(false);
    expect(sentence('the token is empty')).toBe('The token is empty.');
  });
});
