/**
 * API errors as the CLI says them. The core's messages are written for every front and name the
 * call and the parameter that failed its check ("documents.open: id: document id must be 32 hex
 * characters"); a writer at a terminal never typed a call, so at the CLI's edge the call's name goes
 * and an id that cannot name anything reads as what it means ("no document with id nosuch").
 */
import { ApiError, isMethod, type CallOptions, type Method } from '../common/api';
import type { Core } from '../service/core';

/** What each id parameter names, for "no document with id …". */
const ID_NOUNS: Partial<Record<string, (method: string) => string>> = {
  id: (method) => (method.startsWith('documents.') || method.startsWith('generations.') ? 'document' : method.startsWith('models.') ? 'model' : 'item'),
  revisionId: () => 'revision',
  requestId: () => 'request',
};

/** The message of an ApiError from `method` called with `params`, as the CLI prints it. */
export function cliMessage(method: string, params: unknown, err: ApiError): string {
  let message = err.message;
  const prefix = /^([A-Za-z]+\.[A-Za-z]+): /.exec(message);
  if (prefix && isMethod(prefix[1])) message = message.slice(prefix[0].length);
  if (err.code !== 'bad_request') return message;
  const values = params && typeof params === 'object' ? (params as Record<string, unknown>) : {};
  return message
    .split('; ')
    .map((issue) => {
      const m = /^([A-Za-z0-9_.]+): (.*)$/.exec(issue);
      if (!m) return issue;
      const [, path, text] = m as unknown as [string, string, string];
      const noun = ID_NOUNS[path];
      const value = values[path];
      if (noun && typeof value === 'string') return `no ${noun(method)} with id ${value}`;
      return path === 'params' ? text : `${path}: ${text}`;
    })
    .join('; ');
}

/** The core with its errors in the CLI's words (cliMessage); everything else as it was. */
export function speakingCore(core: Core): Core {
  const call = core.call.bind(core) as (method: Method, params: unknown, options?: CallOptions) => Promise<unknown>;
  const speaking = async (method: Method, params: unknown, options?: CallOptions): Promise<unknown> => {
    try {
      return await call(method, params, options);
    } catch (err) {
      throw err instanceof ApiError ? new ApiError(err.code, cliMessage(method, params, err)) : err;
    }
  };
  return Object.assign(Object.create(core) as Core, { call: speaking as Core['call'] });
}
