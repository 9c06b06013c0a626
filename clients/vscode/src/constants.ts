/** Identifiers shared by the extension's modules (command ids, paste kind, languages). */

/** The extension's own commands (never the server's `texpaste.insertFormula*` ids, see client.ts). */
export const Commands = {
  pasteFormula: 'texpaste.pasteFormula',
  chooseCandidate: 'texpaste.chooseCandidate',
  restart: 'texpaste.restart',
  showLogs: 'texpaste.showLogs',
} as const;

/** Commands and requests the language server provides (docs/protocol.md). */
export const Server = {
  insertFormula: 'texpaste.insertFormula',
  insertFormulaFromClipboard: 'texpaste.insertFormulaFromClipboard',
  insertFormulaFromScreenshot: 'texpaste.insertFormulaFromScreenshot',
  replaceWithCandidate: 'texpaste.replaceWithCandidate',
  downloadModel: 'texpaste.downloadModel',
  declineModelOffer: 'texpaste.declineModelOffer',
  recognize: 'texpaste/recognize',
  status: 'texpaste/status',
} as const;

/** The VS Code language ids the extension serves (the server maps them to markdown / tex). */
export const LANGUAGES: readonly string[] = ['markdown', 'latex', 'tex', 'quarto', 'rmd'];

/** Paste-edit kind of "Paste as LaTeX formula"; users opt in to Ctrl+V with `editor.pasteAs.preferences`. */
export const PASTE_KIND = 'texpaste.formula';

/** Image types the paste provider accepts, most preferred first (the server decodes all of them). */
export const PASTE_MIME_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/bmp'];

/** The largest encoded image the server accepts (server/texpaste/limits.py; a test ties the two). */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** The code-action kind of a pasted formula's other candidates (docs/protocol.md). */
export const CANDIDATE_KIND = 'refactor.rewrite.texpaste.candidate';

/** The configuration section. */
export const SECTION = 'texpaste';
