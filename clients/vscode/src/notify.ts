/** User-facing messages: one sentence each, errors with a "Show Logs" button. */

import * as vscode from 'vscode';
import { Commands } from './constants';

let lastError: string | undefined;

/** The last error shown (read by the end-to-end tests through the extension's API). */
export function getLastError(): string | undefined {
  return lastError;
}

/** A button besides "Show Logs". */
export interface ErrorAction {
  title: string;
  run(): void;
}

/** Shows an error without waiting for the user (commands must not hang on an open toast). */
export function showError(message: string, action?: ErrorAction): void {
  lastError = message;
  const buttons = action ? [action.title, 'Show Logs'] : ['Show Logs'];
  void vscode.window.showErrorMessage(`TeXPaste: ${message}`, ...buttons).then((choice) => {
    if (choice === 'Show Logs') void vscode.commands.executeCommand(Commands.showLogs);
    else if (choice && action) action.run();
  });
}

/** Shows information, with optional buttons; `onChoice` runs for the one picked. */
export function showInfo(
  message: string,
  buttons: string[] = [],
  onChoice?: (b: string) => void,
): void {
  void vscode.window.showInformationMessage(`TeXPaste: ${message}`, ...buttons).then((choice) => {
    if (choice && onChoice) onChoice(choice);
  });
}
