/**
 * "TeXPaste: Paste Formula": the language server reads the clipboard of the machine it runs on,
 * the extension host's (`texpaste.insertFormulaFromClipboard`), and inserts the formula; when that
 * machine has no image (a remote host, no clipboard tool), point the user to Ctrl+V, whose
 * DataTransfer comes from the machine showing the UI (pasteProvider.ts).
 */

import * as vscode from 'vscode';
import type { ServerClient } from './client';
import { LANGUAGES, PASTE_KIND, Server } from './constants';
import { describeFailure } from './errors';
import { showError, showInfo } from './notify';
import { type InsertFormulaResult, type LspRange, insertArgs } from './protocol';

const PASTE_HINT =
  'press Ctrl+V in the editor and choose "Paste as LaTeX formula" from the paste widget';

/** Offers "Paste As…" with our kind (VS Code then reads the clipboard of the machine showing the UI). */
function suggestPasteAs(message: string): void {
  showInfo(message, ['Paste As…'], () => {
    void vscode.commands.executeCommand('editor.action.pasteAs', { kind: PASTE_KIND });
  });
}

function toLspRange(selection: vscode.Selection): LspRange {
  // An empty selection stands for the cursor, which is `active`.
  const start = selection.isEmpty ? selection.active : selection.start;
  const end = selection.isEmpty ? selection.active : selection.end;
  return {
    start: { line: start.line, character: start.character },
    end: { line: end.line, character: end.character },
  };
}

/**
 * Runs the command; resolves to the server's result (the end-to-end tests read it), or
 * undefined when nothing was inserted (the user was told why).
 */
export async function pasteFormula(server: ServerClient): Promise<InsertFormulaResult | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    showInfo('Open a Markdown or LaTeX file and put the cursor where the formula goes.');
    return undefined;
  }
  const document = editor.document;
  const remote = vscode.env.remoteName !== undefined;
  if (!LANGUAGES.includes(document.languageId)) {
    // Allowed (the palette offers the command anywhere); the server wraps per delimiters.other.
    server.logInfo(
      `Pasting into a ${document.languageId} document: texpaste.delimiters.other applies.`,
    );
  }

  const args = insertArgs(
    document.uri.toString(),
    document.languageId,
    toLspRange(editor.selection),
  );
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'TeXPaste', cancellable: true },
    async (progress, token) => {
      progress.report({ message: 'Recognising the formula…' });
      server.busy(true);
      try {
        const result = await server.executeCommand<InsertFormulaResult>(
          Server.insertFormulaFromClipboard,
          args,
          token,
        );
        if (!result?.applied) {
          showError('The editor did not accept the edit, so nothing was inserted.');
          return undefined;
        }
        return result;
      } catch (error) {
        const failure = describeFailure(error);
        if (failure.cancelled || token.isCancellationRequested) return undefined;
        if (failure.kind === 'clipboard' && remote) {
          suggestPasteAs(
            `This window's extension host runs on a remote machine, so texpaste read that machine's clipboard: ${failure.message.replace(/\.$/, '')}. If the image is on this computer's clipboard, ${PASTE_HINT}.`,
          );
        } else if (failure.kind === 'clipboard') {
          suggestPasteAs(`${failure.message} You can also ${PASTE_HINT}.`);
        } else if (failure.kind === 'conflict' && failure.text) {
          const text = failure.text; // not inserted at a stale place: offered instead
          showError(failure.message, {
            title: 'Copy Formula',
            run: () => void vscode.env.clipboard.writeText(text),
          });
        } else {
          showError(failure.message);
        }
        return undefined;
      } finally {
        server.busy(false);
      }
    },
  );
}
