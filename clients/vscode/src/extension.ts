/** Entry point: builds the pieces and wires their disposables; no logic of its own. */

import * as vscode from 'vscode';
import { chooseCandidate } from './alternatives';
import { ServerClient, reportStartFailure } from './client';
import { Commands, SECTION } from './constants';
import { FormulaHistory } from './history';
import { getLastError } from './notify';
import { pasteFormula } from './pasteFormula';
import { registerPasteProvider } from './pasteProvider';
import { StatusItem } from './status';

/** What `activate` returns: used by the end-to-end tests, not a stable API. */
export interface TexpasteApi {
  request<R>(method: string, params: unknown): Promise<R>;
  lastError(): string | undefined;
  /** The last formula's candidates and the index in the document, if it is still tracked. */
  lastFormula(): { candidates: { text: string }[]; current: number } | undefined;
}

let server: ServerClient | undefined;

export function activate(context: vscode.ExtensionContext): TexpasteApi {
  const log = vscode.window.createOutputChannel('TeXPaste', { log: true });
  const status = new StatusItem();
  const history = new FormulaHistory();
  server = new ServerClient(log, status);
  const client = server;

  context.subscriptions.push(
    log,
    status,
    history,
    client,
    vscode.commands.registerCommand(Commands.pasteFormula, () => pasteFormula(client, history)),
    vscode.commands.registerCommand(Commands.chooseCandidate, () => chooseCandidate(history)),
    vscode.commands.registerCommand(Commands.restart, () => client.restart()),
    vscode.commands.registerCommand(Commands.showLogs, () => log.show()),
    registerPasteProvider(client, history),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SECTION)) void client.settingsChanged();
    }),
  );
  client.ready().catch(reportStartFailure);

  return {
    request: (method, params) => client.request(method, params),
    lastError: getLastError,
    lastFormula: () => history.current,
  };
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
