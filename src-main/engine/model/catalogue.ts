/**
 * The models Lacuna knows how to download (models.catalogue / models.download; `lacuna models
 * catalogue`, `lacuna models pull ID`). Each entry is a Hugging Face repository whose exact layout
 * the Python-free import (model/import.ts) matches: a `config.json` and the weights as
 * `model.safetensors`, read through a graph template in models/templates.
 *
 * Sizes are the Hub's files (the download checks the Hub's own figures before it starts); memory
 * (peak RSS of a fill) and speeds are measured by `npm run bench:models` on this project's 2-core
 * test machine with random weights in each model's exact layout (README "Getting a real model").
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogueEntry } from '../../common/api';
import { aboutWords } from '../../common/units';
import { PRECISIONS, packageIdFor } from '../../common/precision';

export interface CatalogueSource {
  id: string;
  name: string;
  repo: string;
  revision: string;
  /** Files fetched, in this order; the last is the weights. */
  files: readonly string[];
  downloadBytes: number;
  memoryBytes: number;
  description: string;
  speed: string;
  licence: string;
}

const SEDD_LICENCE =
  'SEDD code: MIT (Lou, Meng & Ermon). The model page states no separate licence for the weights; check it before you publish what they write.';

export const CATALOGUE: readonly CatalogueSource[] = [
  {
    id: 'sedd-small',
    name: 'SEDD small (official)',
    repo: 'louaaron/sedd-small',
    revision: 'main',
    files: ['config.json', 'model.safetensors'],
    downloadBytes: 678_600_000,
    memoryBytes: 560_000_000,
    description:
      'The paper’s 170 M-parameter model, trained on OpenWebText: fluent everyday English, about as good as GPT-2 small; reads up to 1,024 ' +
      'tokens around a blank. The first choice on a laptop.',
    speed: `about 1.7 s for a 16-token blank (${aboutWords(16)}) on a 2-core laptop CPU (int8, fast: the defaults there), 6 s exact; much less on a GPU`,
    licence: SEDD_LICENCE,
  },
  {
    id: 'sedd-medium',
    name: 'SEDD medium (official)',
    repo: 'louaaron/sedd-medium',
    revision: 'main',
    files: ['config.json', 'model.safetensors'],
    downloadBytes: 1_698_000_000,
    memoryBytes: 1_000_000_000,
    description:
      'The paper’s 424 M-parameter model, trained on OpenWebText: better English than small, at about 2.5 times the time and memory. For a GPU, ' +
      'or a desktop CPU with 3 GB of memory free and patience.',
    speed: 'about 6 s for a 16-token blank on a 2-core laptop CPU (int8, fast), 19 s exact: for a GPU or a fast desktop CPU',
    licence: SEDD_LICENCE,
  },
  {
    id: 'mdlm-owt',
    name: 'MDLM (OpenWebText)',
    repo: 'kuleshov-group/mdlm-owt',
    revision: 'main',
    files: ['config.json', 'model.safetensors'],
    downloadBytes: 678_600_000,
    memoryBytes: 560_000_000,
    description:
      'MDLM (Sahoo et al. 2024): the same 170 M-parameter trunk as SEDD small, trained on OpenWebText to a better likelihood. It ignores the ' +
      'noise level, so exact fills skip the network on steps that unmask nothing: as fast as SEDD small’s default, and exact.',
    speed: 'about 1.7 s for a 16-token blank on a 2-core laptop CPU (int8), exact (its network calls are those of SEDD small’s fast mode); much less on a GPU',
    licence:
      'MDLM code by Sahoo et al. (kuleshov-group/mdlm on GitHub); the model page on the host states the terms of the weights: check it before ' +
      'you publish what they write.',
  },
];

export function findCatalogueSource(id: string): CatalogueSource | undefined {
  return CATALOGUE.find((c) => c.id === id);
}

/** The ids an entry installs as, one per precision (common/precision.ts packageIdFor). */
export function installedIds(source: CatalogueSource): string[] {
  return PRECISIONS.map((p) => packageIdFor(source.id, p.id));
}

/** A catalogue entry as the API shows it, given what is installed, partly downloaded and running. */
export function catalogueEntry(
  source: CatalogueSource,
  state: { host: string; installed: ReadonlySet<string>; partial?: { bytesDone: number; bytesTotal: number }; running?: string },
): CatalogueEntry {
  return {
    id: source.id,
    name: source.name,
    repo: source.repo,
    revision: source.revision,
    host: state.host,
    downloadBytes: source.downloadBytes,
    memoryBytes: source.memoryBytes,
    description: source.description,
    speed: source.speed,
    licence: source.licence,
    installed: installedIds(source).filter((id) => state.installed.has(id)),
    ...(state.partial ? { partial: state.partial } : {}),
    ...(state.running ? { running: state.running } : {}),
  };
}

/**
 * What an interrupted download left in its staging folder (model/download.ts: `<file>.part` beside
 * `<file>.part.json`, which records the file's size on the Hub): bytes kept of bytes in all, or
 * undefined when nothing is there to resume.
 */
export async function stagedDownload(dir: string): Promise<{ bytesDone: number; bytesTotal: number } | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  let bytesDone = 0;
  let bytesTotal = 0;
  for (const name of names.filter((n) => n.endsWith('.part.json'))) {
    try {
      const sidecar = JSON.parse(await readFile(join(dir, name), 'utf8')) as { size?: unknown };
      if (typeof sidecar.size !== 'number') continue;
      bytesTotal += sidecar.size;
      bytesDone += await stat(join(dir, name.slice(0, -'.json'.length))).then(
        (s) => Math.min(s.size, sidecar.size as number),
        () => 0,
      );
    } catch {
      // an unreadable sidecar: that file starts over, nothing to show
    }
  }
  return bytesDone > 0 ? { bytesDone, bytesTotal } : undefined;
}
