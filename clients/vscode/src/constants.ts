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
  recognize: 'texpaste/recognize',
  status: 'texpaste/status',
} as const;

/** The VS Code language ids the extension serves (the server maps them to markdown / tex). */
export const LANGUAGES: readonly string[] = ['markdown', 'latex', 'tex', 'quarto', 'rmd'];

/** Paste-edit kind of "Paste as LaTeX formula"; users opt in to Ctrl+V with `editor.pasteAs.preferences`. */
export const PASTE_KIND = 'texpaste.formula';

/** Image types the paste provider accepts, most preferred first (the server decodes all of them). */
export const PASTE_MIME_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/bmp'];

/** The configuration section. */
export const SECTION = 'texpaste';
