/** Where the tests find `texpaste`, a tiny random model and a private daemon runtime directory. */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import * as path from 'node:path';

/** The repository root (clients/vscode/../..), from the bundled test's location. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'pyproject.toml')) && path.dirname(dir) !== dir)
    dir = path.dirname(dir);
  return dir;
}

/** `$TEXPASTE_BIN`, else the repository's .venv/bin/texpaste. */
export function texpasteBin(): string {
  return process.env.TEXPASTE_BIN ?? path.join(repoRoot(), '.venv', 'bin', 'texpaste');
}

/** `$TEXPASTE_TEST_MODEL`, else a fresh random tiny model (configs/tiny-test.yaml) in a temp dir. */
export function tinyModel(): string {
  const given = process.env.TEXPASTE_TEST_MODEL;
  if (given) return given;
  const dir = path.join(mkdtempSync('/tmp/tpvsc-m'), 'tiny');
  execFileSync(
    texpasteBin(),
    ['models', 'init', dir, '--config', path.join(repoRoot(), 'configs', 'tiny-test.yaml')],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return dir;
}

/** A short private runtime directory (Unix socket paths must stay under ~100 bytes). */
export function runtimeDir(): string {
  return process.env.TEXPASTE_RUNTIME_DIR ?? mkdtempSync('/tmp/tpvsc-r');
}

/** Stops the daemon of `runtime` (the test's own), ignoring "none running". */
export function stopDaemon(runtime: string): void {
  try {
    execFileSync(texpasteBin(), ['daemon', 'stop'], {
      env: { ...process.env, TEXPASTE_RUNTIME_DIR: runtime },
      stdio: 'ignore',
      timeout: 20_000,
    });
  } catch {
    // not running
  }
}
