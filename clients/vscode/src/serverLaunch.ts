/**
 * How to start `texpaste serve`: the `texpaste.server.*` settings, then the Python extension's
 * interpreter, then `texpaste` on PATH, else an actionable error. vscode-free; probes are injected.
 */

import * as path from 'node:path';

export interface Launch {
  command: string;
  args: string[];
  /** Where the command came from, for the log. */
  source: 'texpaste.server.path' | 'texpaste.server.interpreter' | 'Python extension' | 'PATH';
}

export interface LaunchProbes {
  /** Whether `file` exists and is executable. */
  isExecutable(file: string): Promise<boolean>;
  /** Absolute path of `name` on PATH, if any. */
  which(name: string): Promise<string | undefined>;
  /** Whether `python -c "import texpaste"` succeeds. */
  canImportTexpaste(python: string): Promise<boolean>;
  /** The Python extension's interpreter for the workspace, if the extension is installed. */
  pythonExtensionInterpreter(): Promise<string | undefined>;
}

export interface LaunchSettings {
  path: string;
  interpreter: string;
  extraArgs: string[];
}

/** The launch could not be resolved; `message` says what to do. */
export class LaunchError extends Error {}

const INSTALL_HINT =
  'install it (`pip install texpaste`), or set `texpaste.server.path` to the `texpaste` executable ' +
  'or `texpaste.server.interpreter` to a Python that has it';

/** The executable that sits next to `python` in a virtual environment's bin/Scripts folder. */
export function siblingExecutable(python: string, platform: NodeJS.Platform): string {
  const exe = platform === 'win32' ? 'texpaste.exe' : 'texpaste';
  return path.join(path.dirname(python), exe);
}

/**
 * Resolves the server command. Never appends a transport flag: `texpaste serve` speaks stdio
 * by default, and vscode-languageclient's `TransportKind.stdio` would append `--stdio`.
 */
export async function resolveLaunch(
  settings: LaunchSettings,
  probes: LaunchProbes,
  platform: NodeJS.Platform = process.platform,
): Promise<Launch> {
  const serve = ['serve', ...settings.extraArgs];
  const module = ['-m', 'texpaste', ...serve];
  if (settings.path) {
    if (!(await probes.isExecutable(settings.path))) {
      throw new LaunchError(
        `texpaste.server.path is "${settings.path}", which is not an executable file.`,
      );
    }
    return { command: settings.path, args: serve, source: 'texpaste.server.path' };
  }
  if (settings.interpreter) {
    if (!(await probes.isExecutable(settings.interpreter))) {
      throw new LaunchError(
        `texpaste.server.interpreter is "${settings.interpreter}", which is not an executable file.`,
      );
    }
    return { command: settings.interpreter, args: module, source: 'texpaste.server.interpreter' };
  }
  const python = await probes.pythonExtensionInterpreter();
  if (python) {
    const sibling = siblingExecutable(python, platform);
    if (await probes.isExecutable(sibling)) {
      return { command: sibling, args: serve, source: 'Python extension' };
    }
    if (await probes.canImportTexpaste(python)) {
      return { command: python, args: module, source: 'Python extension' };
    }
  }
  const onPath = await probes.which(platform === 'win32' ? 'texpaste.exe' : 'texpaste');
  if (onPath) return { command: onPath, args: serve, source: 'PATH' };
  const where = python
    ? `neither on PATH nor in the Python extension's interpreter (${python})`
    : 'not on PATH';
  throw new LaunchError(`The texpaste language server was not found (${where}): ${INSTALL_HINT}.`);
}

/** Looks `name` up in a PATH string; `isExecutable` is the same probe as above. */
export async function whichIn(
  name: string,
  pathVar: string | undefined,
  isExecutable: (file: string) => Promise<boolean>,
  delimiter: string = path.delimiter,
): Promise<string | undefined> {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}
