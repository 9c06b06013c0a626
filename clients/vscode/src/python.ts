/** The probes serverLaunch.ts needs: files, PATH, and the Python extension's interpreter. */

import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import * as vscode from 'vscode';
import { type LaunchProbes, whichIn } from './serverLaunch';

async function isExecutable(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    if (process.platform !== 'win32') await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function canImportTexpaste(python: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(python, ['-c', 'import texpaste'], { timeout: 15_000 }, (error) => resolve(!error));
  });
}

interface PythonEnvironmentsApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(
      env: { path: string } | string,
    ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The active interpreter of ms-python.python for the first workspace folder, if installed. */
async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonEnvironmentsApi>('ms-python.python');
  if (!extension) return undefined;
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const environments = api?.environments;
    if (!environments) return undefined;
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const resolved = await environments.resolveEnvironment(
      environments.getActiveEnvironmentPath(resource),
    );
    return resolved?.executable.uri?.fsPath;
  } catch {
    return undefined;
  }
}

export const launchProbes: LaunchProbes = {
  isExecutable,
  which: (name) => whichIn(name, process.env.PATH, isExecutable),
  canImportTexpaste,
  pythonExtensionInterpreter,
};
