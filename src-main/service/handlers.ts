/** The shape of the core's method handlers, shared by the core and its parts (models.ts). */
import type { z } from 'zod';
import type { Api, Method, Result } from '../common/api';

export type Handlers = { [M in Method]: (params: z.output<Api[M]['params']>) => Result<M> | Promise<Result<M>> };

/**
 * Fills, scores and downloads in flight, by requestId; `cancelled` covers a cancel that arrives
 * before the engine has the job; `abort` stops a download.
 */
export type RunningJobs = Map<string, { cancelled: boolean; abort?: AbortController }>;
