/**
 * "TeXPaste: Paste Formula": read the clipboard image where the extension host runs and send it
 * with `texpaste.insertFormula`; without a clipboard tool, let the server read its clipboard
 * (`texpaste.insertFormulaFromClipboard`), and on a remote host point the user to Ctrl+V.
 */

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as vscode from 'vscode';
import type { ServerClient } from './client';
import { type ClipboardHost, type ClipboardImage, readClipboardImage } from './clipboard';
import { LANGUAGES, PASTE_KIND, Server } from './constants';
import { describeFailure } from './errors';
import type { FormulaHistory } from './history';
import { showError, showInfo } from './notify';
import { type InsertFormulaResult, type LspRange, insertArgs } from './protocol';

const CLIPBOARD_TIMEOUT_MS = 10_000;
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

const clipboardHost: ClipboardHost = {
  platform: process.platform,
  env: process.env,
  isWsl: process.platform === 'linux' && /microsoft/i.test(os.release()),
  exec: (command, args) =>
    new Promise((resolve) => {
      execFile(
        command,
        args,
        {
          encoding: 'buffer',
          timeout: CLIPBOARD_TIMEOUT_MS,
          maxBuffer: MAX_IMAGE_BYTES,
          windowsHide: true,
        },
        (error, stdout) => {
          const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
          resolve({ code, stdout: stdout ?? Buffer.alloc(0) });
        },
      );
    }),
  readFile: (file) => readFile(file),
};

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
export async function pasteFormula(
  server: ServerClient,
  history: FormulaHistory,
): Promise<InsertFormulaResult | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    showInfo('Open a Markdown or LaTeX file and put the cursor where the formula goes.');
    return undefined;
  }
  const document = editor.document;
  const remote = vscode.env.remoteName !== undefined;
  const clip: ClipboardImage = await readClipboardImage(clipboardHost);

  let command: string;
  let base64: string | undefined;
  if (clip.kind === 'image') {
    command = Server.insertFormula;
    base64 = clip.data.toString('base64');
  } else if (clip.kind === 'no-tool' && !remote) {
    command = Server.insertFormulaFromClipboard;
  } else if (clip.kind === 'no-tool') {
    suggestPasteAs(
      `This window's extension host runs on a remote machine and cannot read your clipboard: ${PASTE_HINT}.`,
    );
    return undefined;
  } else {
    const hint = remote ? ` If the image is on this computer's clipboard, ${PASTE_HINT}.` : '';
    showInfo(
      `No image on the clipboard (read with ${clip.tool}): copy a screenshot of a formula first.${hint}`,
    );
    return undefined;
  }
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
    base64,
  );
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'TeXPaste', cancellable: true },
    async (progress, token) => {
      progress.report({ message: 'Recognising the formula…' });
      server.busy(true);
      try {
        const result = await server.executeCommand<InsertFormulaResult>(command, args, token);
        if (!result?.applied) {
          showError('The editor did not accept the edit, so nothing was inserted.');
          return undefined;
        }
        const start = document.offsetAt(
          new vscode.Position(result.range.start.line, result.range.start.character),
        );
        history.record(document, start, result.text, result.candidates);
        return result;
      } catch (error) {
        const failure = describeFailure(error);
        if (failure.cancelled || token.isCancellationRequested) return undefined;
        if (failure.kind === 'clipboard' && command === Server.insertFormulaFromClipboard) {
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
