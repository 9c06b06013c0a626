/**
 * "Paste as LaTeX formula" in the paste widget (Ctrl+V, then pick it; or `editor.action.pasteAs`).
 * VS Code hands over the image bytes from the machine showing the UI, so this also works under
 * Remote-SSH / WSL / Codespaces. Recognition runs only when the edit is picked: resolve fills in
 * insertText (allowed since VS Code 1.98, hence engines.vscode).
 */

import * as vscode from 'vscode';
import type { ServerClient } from './client';
import { LANGUAGES, MAX_IMAGE_BYTES, PASTE_KIND, PASTE_MIME_TYPES, Server } from './constants';
import { describeFailure } from './errors';
import { showError } from './notify';
import type { RecognizeParams, RecognizeResult } from './protocol';

export const KIND = vscode.DocumentDropOrPasteEditKind.Empty.append(...PASTE_KIND.split('.'));

/**
 * The edits ours ranks below, so plain Ctrl+V keeps doing what it did (text paste, VS Code's
 * Markdown image link) until the user opts in with `editor.pasteAs.preferences`.
 */
const YIELD_TO = [
  vscode.DocumentDropOrPasteEditKind.Text,
  vscode.DocumentDropOrPasteEditKind.Empty.append('markdown', 'link'),
  vscode.DocumentDropOrPasteEditKind.Empty.append('uri'),
];

/** A paste edit that still has to be recognised; carries what resolve needs. */
class FormulaPasteEdit extends vscode.DocumentPasteEdit {
  constructor(
    readonly document: vscode.TextDocument,
    readonly position: vscode.Position,
    readonly image: Uint8Array,
  ) {
    super('', 'Paste as LaTeX formula', KIND);
    this.yieldTo = YIELD_TO;
  }
}

export class FormulaPasteProvider implements vscode.DocumentPasteEditProvider<FormulaPasteEdit> {
  constructor(private readonly server: ServerClient) {}

  async provideDocumentPasteEdits(
    document: vscode.TextDocument,
    ranges: readonly vscode.Range[],
    dataTransfer: vscode.DataTransfer,
    _context: vscode.DocumentPasteEditContext,
    token: vscode.CancellationToken,
  ): Promise<FormulaPasteEdit[] | undefined> {
    const first = ranges[0];
    if (!first) return undefined;
    for (const mime of PASTE_MIME_TYPES) {
      const file = dataTransfer.get(mime)?.asFile();
      if (!file) continue;
      const data = await file.data();
      if (token.isCancellationRequested || data.length === 0) return undefined;
      if (data.length > MAX_IMAGE_BYTES) {
        showError(
          `The image is larger than ${MAX_IMAGE_BYTES / 2 ** 20} MB, so it was not recognised.`,
        );
        return undefined;
      }
      return [new FormulaPasteEdit(document, first.start, data)];
    }
    return undefined;
  }

  async resolveDocumentPasteEdit(
    edit: FormulaPasteEdit,
    token: vscode.CancellationToken,
  ): Promise<FormulaPasteEdit> {
    const { document, position } = edit;
    const params: RecognizeParams = {
      imageBase64: Buffer.from(edit.image).toString('base64'),
      languageId: document.languageId,
      uri: document.uri.toString(),
      position: { line: position.line, character: position.character },
    };
    this.server.busy(true);
    try {
      const result = await this.server.request<RecognizeResult>(Server.recognize, params, token);
      edit.insertText = result.text; // the server follows it from here (its candidate code actions)
    } catch (error) {
      const failure = describeFailure(error);
      if (failure.cancelled || token.isCancellationRequested) throw new vscode.CancellationError();
      showError(failure.message);
      edit.insertText = ''; // leave the document as it was
    } finally {
      this.server.busy(false);
    }
    return edit;
  }
}

/** Registers the provider for the extension's languages. */
export function registerPasteProvider(server: ServerClient): vscode.Disposable {
  return vscode.languages.registerDocumentPasteEditProvider(
    LANGUAGES.map((language) => ({ language })),
    new FormulaPasteProvider(server),
    { providedPasteEditKinds: [KIND], pasteMimeTypes: [...PASTE_MIME_TYPES] },
  );
}
