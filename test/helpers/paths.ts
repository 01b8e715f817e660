import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Public evaluation data lives beside the repository (../shared/data), never inside it. */
export const SHARED_DATA = process.env.TRIM_SHARED_DATA ?? resolve(REPO_ROOT, '../shared/data');
/** Built fixture models are cached here between runs (git-ignored). */
export const FIXTURE_CACHE = resolve(REPO_ROOT, '.cache/fixtures');
