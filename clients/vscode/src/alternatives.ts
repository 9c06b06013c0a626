/** "TeXPaste: Choose Another Candidate": a QuickPick of the last formula's candidates, replaced in place. */

import * as vscode from 'vscode';
import type { FormulaHistory } from './history';
import { showError, showInfo } from './notify';

interface CandidateItem extends vscode.QuickPickItem {
  index: number;
}

/** One line of at most `max` characters for the QuickPick. */
function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Runs the QuickPick; resolves to the index now in the document, or undefined if nothing changed. */
export async function chooseCandidate(history: FormulaHistory): Promise<number | undefined> {
  const last = history.current;
  if (!last) {
    showInfo(
      'Paste a formula first: the candidates belong to the last formula pasted in this window.',
    );
    return undefined;
  }
  if (last.candidates.length < 2) {
    showInfo('The recogniser found no other candidate for the last formula.');
    return undefined;
  }
  const items: CandidateItem[] = last.candidates.map((c, index) => ({
    index,
    label: oneLine(c.latex),
    description: index === last.current ? 'current' : `score ${c.score.toFixed(2)}`,
    picked: index === last.current,
  }));
  const pick = await vscode.window.showQuickPick(items, {
    title: 'TeXPaste: Choose Another Candidate',
    placeHolder: 'Replace the last formula with…',
    matchOnDescription: false,
  });
  if (!pick || pick.index === last.current) return undefined;

  // The formula may have changed while the QuickPick was open: re-read and re-check it.
  const now = history.current;
  const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === now?.uri);
  const expectedText = now?.candidates[now.current]?.text;
  if (
    !now ||
    !document ||
    expectedText === undefined ||
    history.textAt(document, now.range) !== expectedText
  ) {
    showError('The formula was edited since it was pasted, so it was left as it is.');
    return undefined;
  }
  const text = now.candidates[pick.index]!.text;
  const edit = new vscode.WorkspaceEdit();
  edit.replace(
    document.uri,
    new vscode.Range(document.positionAt(now.range.start), document.positionAt(now.range.end)),
    text,
  );
  history.record(document, now.range.start, text, now.candidates, pick.index);
  if (!(await vscode.workspace.applyEdit(edit))) {
    showError('The editor refused to replace the formula.');
    return undefined;
  }
  history.record(document, now.range.start, text, now.candidates, pick.index);
  return pick.index;
}
