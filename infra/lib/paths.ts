// Paths into the repository, which is the build context of every asset (Rust workspace, web build,
// Dockerfiles).

import { resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export function repoPath(...parts: string[]): string {
  return resolve(REPO_ROOT, ...parts);
}
