/**
 * "TeXPaste: Choose Another Candidate": a QuickPick of the server's "Replace with candidate N" code
 * actions for the formula at the cursor (or the last one pasted in the document); the server
 * remembers its pastes, follows them through edits and makes the replacement.
 */

import * as vscode from 'vscode';
import type { ServerClient } from './client';
import { CANDIDATE_KIND } from './constants';
import { describeFailure } from './errors';
import { showError, showInfo } from './notify';
import type { Candidate } from './protocol';

/** What the server puts in each candidate action's `data`. */
interface CandidateData extends Candidate {
  index: number;
  current: number;
}

interface CandidateAction {
  title: string;
  kind?: string;
  data?: CandidateData;
  command?: { command: string; arguments?: unknown[] };
}

interface CandidateItem extends vscode.QuickPickItem {
  action: CandidateAction;
}

/** One line of at most `max` characters for the QuickPick. */
function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The candidate actions at the active editor's cursor, all of them (the current one disabled). */
async function candidateActions(
  server: ServerClient,
  editor: vscode.TextEditor,
): Promise<CandidateAction[]> {
  const at = editor.selection.active;
  const position = { line: at.line, character: at.character };
  const actions = await server.request<CandidateAction[] | null>('textDocument/codeAction', {
    textDocument: { uri: editor.document.uri.toString() },
    range: { start: position, end: position },
    context: { diagnostics: [], only: [CANDIDATE_KIND], triggerKind: 1 },
  });
  return (actions ?? []).filter((a) => a.kind === CANDIDATE_KIND && a.data !== undefined);
}

/** The formula the server offers candidates for in the active editor (the end-to-end tests read it). */
export async function currentFormula(
  server: ServerClient,
): Promise<{ candidates: Candidate[]; current: number } | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const actions = await candidateActions(server, editor);
  if (actions.length === 0) return undefined;
  return { candidates: actions.map((a) => a.data!), current: actions[0]!.data!.current };
}

/** Runs the QuickPick; resolves to the index now in the document, or undefined if nothing changed. */
export async function chooseCandidate(server: ServerClient): Promise<number | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    showInfo('Open the document with the pasted formula first.');
    return undefined;
  }
  const actions = await candidateActions(server, editor);
  if (actions.length === 0) {
    showInfo(
      'No formula was pasted in this document yet, or the last one was edited since, so there is nothing to replace.',
    );
    return undefined;
  }
  if (actions.length < 2) {
    showInfo('The recogniser found no other candidate for the last formula.');
    return undefined;
  }
  const items: CandidateItem[] = actions.map((action) => {
    const d = action.data!;
    return {
      action,
      label: oneLine(d.latex),
      description:
        d.index === d.current
          ? 'current'
          : typeof d.score === 'number'
            ? `score ${d.score.toFixed(2)}`
            : '',
      picked: d.index === d.current,
    };
  });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'TeXPaste: Choose Another Candidate',
    placeHolder: 'Replace the formula with…',
    matchOnDescription: false,
  });
  const command = pick?.action.command;
  if (!pick || !command) return undefined; // dismissed, or the candidate already in place
  try {
    await server.executeCommand(command.command, command.arguments?.[0]);
  } catch (error) {
    showError(describeFailure(error).message);
    return undefined;
  }
  return pick.action.data!.index;
}
