/** Shapes of the texpaste LSP messages (docs/protocol.md). vscode-free. */

import type { Mode } from './settings';

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

/** Arguments of `texpaste.insertFormula` / `texpaste.insertFormulaFromClipboard`. */
export interface InsertFormulaArgs {
  uri: string;
  position: LspPosition;
  languageId: string;
  imageBase64?: string;
  mode?: Mode;
  range?: LspRange;
}

/** Params of the `texpaste/recognize` request. */
export interface RecognizeParams {
  imageBase64: string;
  languageId: string;
  uri?: string;
  position?: LspPosition;
  mode?: Mode;
}

export interface Candidate {
  latex: string;
  score: number;
  text: string;
}

/** Result of `texpaste/recognize`. */
export interface RecognizeResult {
  latex: string;
  text: string;
  candidates: Candidate[];
  model: string;
  timings?: Record<string, number>;
}

/** Result of `texpaste.insertFormula*`: `range` is where `text` lies after the edit. */
export interface InsertFormulaResult extends RecognizeResult {
  applied: boolean;
  range: LspRange;
}

/** What `texpaste/status` offers when the bundled model answers because a better one is not cached. */
export interface ModelOffer {
  model: string;
  description: string;
  bytes: number;
  megabytes: number;
}

/** Result of `texpaste/status`. */
export interface StatusResult {
  offer?: ModelOffer;
  state: 'loading' | 'ready' | 'error' | 'idle';
  model?: string;
  device?: string;
  engine?: string;
  version?: string;
  error?: string;
}

/** The insertFormula arguments for a cursor or a selection to replace. */
export function insertArgs(
  uri: string,
  languageId: string,
  selection: LspRange,
  imageBase64?: string,
): InsertFormulaArgs {
  const empty =
    selection.start.line === selection.end.line &&
    selection.start.character === selection.end.character;
  const args: InsertFormulaArgs = { uri, position: selection.start, languageId };
  if (imageBase64 !== undefined) args.imageBase64 = imageBase64;
  if (!empty) args.range = selection;
  return args;
}
