/** Entry point: builds the pieces and wires their disposables; no logic of its own. */

import * as vscode from 'vscode';
import { chooseCandidate, currentFormula } from './alternatives';
import { ServerClient, reportStartFailure } from './client';
import { Commands, SECTION } from './constants';
import { getLastError } from './notify';
import { pasteFormula } from './pasteFormula';
import { registerPasteProvider } from './pasteProvider';
import { StatusItem } from './status';

/** What `activate` returns: used by the end-to-end tests, not a stable API. */
export interface TexpasteApi {
  request<R>(method: string, params: unknown): Promise<R>;
  lastError(): string | undefined;
  /** The model offer shown in this window, if any. */
  lastOffer(): string | undefined;
  /** The candidates of the formula at the cursor (or the last pasted in the active document), and
   * the index of the one in the document, as the server tracks them. */
  lastFormula(): Promise<{ candidates: { text: string }[]; current: number } | undefined>;
}

let server: ServerClient | undefined;

export function activate(context: vscode.ExtensionContext): TexpasteApi {
  const log = vscode.window.createOutputChannel('TeXPaste', { log: true });
  const status = new StatusItem();
  server = new ServerClient(log, status);
  const client = server;

  context.subscriptions.push(
    log,
    status,
    client,
    vscode.commands.registerCommand(Commands.pasteFormula, () => pasteFormula(client)),
    vscode.commands.registerCommand(Commands.chooseCandidate, () => chooseCandidate(client)),
    vscode.commands.registerCommand(Commands.restart, () => client.restart()),
    vscode.commands.registerCommand(Commands.showLogs, () => log.show()),
    registerPasteProvider(client),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SECTION)) void client.settingsChanged();
    }),
  );
  client.ready().catch(reportStartFailure);

  return {
    request: (method, params) => client.request(method, params),
    lastError: getLastError,
    lastOffer: () => client.offerer.shown,
    lastFormula: () => currentFormula(client),
  };
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
