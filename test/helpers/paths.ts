import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Built fixture models are cached here between runs (git-ignored). */
export const FIXTURE_CACHE = resolve(REPO_ROOT, '.cache/fixtures');
