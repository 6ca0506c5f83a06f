/** Paths of the test model package (models/fixtures/tiny-fixture) for the engine's unit tests. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../platform/paths';

export const ROOT = appRoot();
export const FIXTURE_DIR = join(ROOT, 'models', 'fixtures', 'tiny-fixture');

export function fixtureFile(name: string): string {
  const path = join(FIXTURE_DIR, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: the test model package models/fixtures/tiny-fixture is incomplete`);
  return path;
}

export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(fixtureFile(name), 'utf8')) as T;
}
