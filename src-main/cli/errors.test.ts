/**
 * CLI errors in the writer's words: never the name of an internal call or the parameter a check
 * failed on ("documents.open: id: …"), as the writer met it with `lacuna docs show` and a wrong id.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '../common/api';
import { cliMessage } from './errors';
import { expectFailure, runLacuna } from './cli-test-support';

const dataDir = mkdtempSync(join(tmpdir(), 'lacuna-cli-errors-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('cliMessage', () => {
  it('says which id names nothing, without the call or the parameter', () => {
    const err = new ApiError('bad_request', 'documents.open: id: document id must be 32 hex characters');
    expect(cliMessage('documents.open', { id: 'nosuch' }, err)).toBe('no document with id nosuch');
    const rev = new ApiError('bad_request', 'revisions.restore: revisionId: Invalid input');
    expect(cliMessage('revisions.restore', { revisionId: 'x' }, rev)).toBe('no revision with id x');
  });

  it('drops the call’s name from every other message and keeps what it says', () => {
    expect(cliMessage('documents.import', { text: 'x' }, new ApiError('bad_request', 'documents.import: title: Too big'))).toBe('title: Too big');
    expect(cliMessage('models.verify', { id: 'm' }, new ApiError('not_found', 'models.verify: unknown model "m"'))).toBe('unknown model "m"');
    expect(cliMessage('', undefined, new ApiError('not_found', 'no document with id 0123'))).toBe('no document with id 0123');
  });
});

describe('the CLI with a wrong document id', () => {
  for (const args of [
    ['docs', 'show', 'nosuch'],
    ['docs', 'export', 'nosuch', '--out', join(dataDir, 'x.md')],
  ]) {
    it(`lacuna ${args.slice(0, 3).join(' ')}: "no document with id nosuch"`, async () => {
      const o = await runLacuna(args, { dataDir });
      expectFailure(o, 1, /^lacuna: no document with id nosuch\n$/);
      expect(o.stderr).not.toMatch(/documents\.|\bid: /);
    });
  }
});
