/**
 * The end-to-end cases, run inside VS Code's extension host against the installed .vsix and the
 * real `texpaste serve` with a tiny random model (see driver.ts).
 */

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TexpasteApi } from '../../../src/extension';
import type { InsertFormulaResult, RecognizeResult, StatusResult } from '../../../src/protocol';
import { type Family, wrapping } from '../../support/delimiters';
import { blankPng } from '../../support/png';
import { repoRoot } from '../../support/server';
import { runAll, test } from './harness';

const FORMULA_PNG = path.join(repoRoot(), 'tests', 'data', 'formula.png');
const FORMULA = readFileSync(FORMULA_PNG).toString('base64');
let api: TexpasteApi;

function workspaceDir(): string {
  return vscode.workspace.workspaceFolders![0]!.uri.fsPath;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

let requestId = 0;
/** Asks driver.ts to act in the browser; resolves when it is done. */
async function driver(
  action: 'paste' | 'keys' | 'see',
  args: Record<string, unknown>,
): Promise<void> {
  const id = ++requestId;
  console.log(`texpaste-e2e:${action}:${JSON.stringify({ id, ...args })}:texpaste-e2e-end`);
  const done = path.join(workspaceDir(), '.driver', `${id}.done`);
  await waitFor(`the driver's ${action}`, () => existsSync(done));
  const answer = readFileSync(done, 'utf8');
  if (answer !== 'ok') throw new Error(`driver ${action}: ${answer}`);
}

function runProcess(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 10_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
}

/** Puts a PNG on the X clipboard the extension host reads (Xvfb, started by the driver). */
async function xclipImage(file: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const proc = spawn('xclip', ['-selection', 'clipboard', '-t', 'image/png', '-i', file], {
      stdio: 'ignore',
    });
    proc.on('error', reject);
    proc.on('exit', () => resolve()); // xclip forks a child that serves the selection
  });
  const deadline = Date.now() + 10_000;
  while (
    !(
      await runProcess('xclip', ['-selection', 'clipboard', '-o', '-t', 'TARGETS']).catch(() => '')
    ).includes('image/png')
  ) {
    if (Date.now() > deadline) throw new Error('xclip did not take the clipboard');
    await sleep(100);
  }
}

/** Writes `name` into the workspace, opens it and puts the cursor at `offset`. */
async function openAt(name: string, content: string, offset: number): Promise<vscode.TextEditor> {
  const file = path.join(workspaceDir(), name);
  writeFileSync(file, content);
  const document = await vscode.workspace.openTextDocument(file);
  const editor = await vscode.window.showTextDocument(document);
  const at = document.positionAt(offset);
  editor.selection = new vscode.Selection(at, at);
  return editor;
}

function recognizeAt(editor: vscode.TextEditor, imageBase64 = FORMULA): Promise<RecognizeResult> {
  const { document, selection } = editor;
  return api.request<RecognizeResult>('texpaste/recognize', {
    imageBase64,
    languageId: document.languageId,
    uri: document.uri.toString(),
    position: { line: selection.active.line, character: selection.active.character },
  });
}

function assertWrapped(text: string, latex: string, family: Family): 'inline' | 'display' {
  const form = wrapping(text, latex, family);
  assert.ok(form, `not a wrapped ${family} formula: ${JSON.stringify(text)}`);
  return form;
}

test('the installed extension activates and starts texpaste serve', async () => {
  await openAt('start.md', '# Notes\n', 0);
  const extension = vscode.extensions.getExtension<TexpasteApi>('texpaste.texpaste');
  assert.ok(extension, 'texpaste.texpaste is installed');
  api = extension.isActive ? extension.exports : await extension.activate();
  const status = await api.request<{ state: string; engine: string }>('texpaste/status', {});
  assert.notEqual(status.state, 'error', JSON.stringify(status));
  const commands = await vscode.commands.getCommands(true);
  for (const id of [
    'texpaste.pasteFormula',
    'texpaste.chooseCandidate',
    'texpaste.restart',
    'texpaste.showLogs',
  ]) {
    assert.ok(commands.includes(id), id);
  }
  // Registered by the LanguageClient from the server's executeCommandProvider.
  assert.ok(commands.includes('texpaste.insertFormula'), 'server command texpaste.insertFormula');
  await driver('see', { selector: '.statusbar-item', text: 'TeXPaste' });
}, 120_000);

test('Paste Formula inserts inline $…$ into Markdown at the cursor', async () => {
  const before = 'The energy is \n\nDone.\n';
  const editor = await openAt('command.md', before, 'The energy is '.length);
  await xclipImage(FORMULA_PNG);
  const expected = await recognizeAt(editor);
  const result = await vscode.commands.executeCommand<InsertFormulaResult>('texpaste.pasteFormula');
  assert.ok(result, `the command inserted nothing: ${api.lastError()}`);
  assert.equal(result.text, expected.text);
  const offset = 'The energy is '.length;
  assert.equal(
    editor.document.getText(),
    before.slice(0, offset) + result.text + before.slice(offset),
  );
  assertWrapped(result.text, result.latex, 'markdown');
});

let texResult: InsertFormulaResult | undefined;
let texBefore = '';
let texOffset = 0;

test('Paste Formula inserts a \\[…\\] display block into LaTeX on a blank line', async () => {
  texBefore = '\\documentclass{article}\n\\begin{document}\n\n\\end{document}\n';
  texOffset = texBefore.indexOf('\n\n') + 1;
  const editor = await openAt('command.tex', texBefore, texOffset);
  await xclipImage(FORMULA_PNG);
  const result = await vscode.commands.executeCommand<InsertFormulaResult>('texpaste.pasteFormula');
  assert.ok(result, `the command inserted nothing: ${api.lastError()}`);
  assert.equal(
    editor.document.getText(),
    texBefore.slice(0, texOffset) + result.text + texBefore.slice(texOffset),
  );
  assert.equal(assertWrapped(result.text, result.latex, 'tex'), 'display');
  texResult = result;
});

test('Choose Another Candidate replaces the formula in place, after an edit above it', async () => {
  assert.ok(texResult, 'needs the LaTeX insertion of the previous test');
  const candidates = texResult.candidates;
  assert.ok(candidates.length >= 2, `the tiny model gave ${candidates.length} candidate(s)`);
  const editor = vscode.window.activeTextEditor!;
  await editor.edit((b) => b.insert(new vscode.Position(0, 0), '% added later\n'));
  const chosen = vscode.commands.executeCommand<number | undefined>('texpaste.chooseCandidate');
  await driver('keys', {
    waitFor: '.quick-input-widget .monaco-list-row',
    keys: ['ArrowDown', 'Enter'],
  });
  assert.equal(await chosen, 1);
  const expected =
    '% added later\n' +
    texBefore.slice(0, texOffset) +
    candidates[1]!.text +
    texBefore.slice(texOffset);
  assert.equal(editor.document.getText(), expected);
  assert.equal((await api.lastFormula())?.current, 1);
});

test('a doubtful formula carries an information diagnostic until it is edited', async () => {
  const editor = await openAt('doubt.md', 'Unsure:  ok\n', 'Unsure: '.length);
  await xclipImage(FORMULA_PNG);
  const result = await vscode.commands.executeCommand<InsertFormulaResult | undefined>(
    'texpaste.pasteFormula',
  );
  assert.ok(result?.applied, 'pasted');
  const uri = editor.document.uri;
  const doubts = () => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'texpaste');
  await waitFor('the diagnostic', () => doubts().length === 1, 10_000);
  const [diag] = doubts();
  assert.equal(diag!.message, 'texpaste is unsure of this formula: Choose another candidate');
  assert.equal(diag!.severity, vscode.DiagnosticSeverity.Information);
  assert.equal(diag!.range.start.character, 'Unsure: '.length);
  await editor.edit((b) => b.insert(new vscode.Position(0, 'Unsure: '.length + 1), 'Z'));
  await waitFor('the diagnostic to clear', () => doubts().length === 0, 10_000);
});

test('Ctrl+V → "Paste as LaTeX formula" with a real image on the page clipboard', async () => {
  const editor = await openAt('paste.md', 'Inline:  done\n', 'Inline: '.length);
  const before = editor.document.getText();
  const expected = await recognizeAt(editor);
  const editorConfig = vscode.workspace.getConfiguration('editor');
  // The user's opt-in (README): without it VS Code's own image paste stays the default.
  await editorConfig.update(
    'pasteAs.preferences',
    ['texpaste.formula'],
    vscode.ConfigurationTarget.Global,
  );
  try {
    await driver('paste', { file: FORMULA_PNG });
    await waitFor('the pasted formula', () => editor.document.getText() !== before);
    const offset = 'Inline: '.length;
    assert.equal(
      editor.document.getText(),
      before.slice(0, offset) + expected.text + before.slice(offset),
    );
    assertWrapped(expected.text, expected.latex, 'markdown');
    await waitFor(
      'the paste to be tracked',
      async () => (await api.lastFormula()) !== undefined,
      5000,
    );
    await driver('see', { selector: '.statusbar-item', text: 'TeXPaste' });
  } finally {
    await editorConfig.update('pasteAs.preferences', undefined, vscode.ConfigurationTarget.Global);
  }
});

test('plain Ctrl+V keeps VS Code\'s image paste; the paste widget offers "Paste as LaTeX formula"', async () => {
  const editor = await openAt('widget.md', 'See  here\n', 'See '.length);
  const before = editor.document.getText();
  const expected = await recognizeAt(editor);
  await driver('paste', { file: FORMULA_PNG });
  await waitFor("VS Code's own paste", () => editor.document.getText() !== before);
  await sleep(1500);
  assert.ok(
    !editor.document.getText().includes(expected.text),
    `Ctrl+V was hijacked: ${JSON.stringify(editor.document.getText())}`,
  );
  // Ctrl+. opens the paste widget's list; pick our edit, which replaces the default one.
  await driver('keys', { keys: ['Control+Period'], clickText: 'Paste as LaTeX formula' });
  const offset = 'See '.length;
  const wanted = before.slice(0, offset) + expected.text + before.slice(offset);
  await waitFor('the formula from the paste widget', () => editor.document.getText() === wanted);
});

test('an image without a formula shows an error and leaves the document unchanged', async () => {
  const blank = path.join(workspaceDir(), 'blank.png');
  writeFileSync(blank, blankPng());
  const before = 'Nothing to see here.\n';
  const editor = await openAt('error.md', before, 8);
  const errorBefore = api.lastError();
  await xclipImage(blank);
  const result = await vscode.commands.executeCommand<InsertFormulaResult | undefined>(
    'texpaste.pasteFormula',
  );
  assert.equal(result, undefined);
  assert.equal(editor.document.getText(), before);
  assert.ok(api.lastError() && api.lastError() !== errorBefore, 'an error was shown');
});

test('the code action "Replace image with LaTeX" turns an image link into its formula', async () => {
  writeFileSync(path.join(workspaceDir(), 'eq 1.png'), readFileSync(FORMULA_PNG));
  const before = 'Euler:\n![identity](eq%201.png "Euler")\nend\n';
  const editor = await openAt('images.md', before, 'Euler:\n!['.length);
  const { latex } = await api.request<RecognizeResult>('texpaste/recognize', {
    imageBase64: FORMULA,
    languageId: 'markdown',
  });
  const at = editor.selection.active;
  const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
    'vscode.executeCodeActionProvider',
    editor.document.uri,
    new vscode.Range(at, at),
  );
  const replace = actions.find((a) => a.title === 'Replace image with LaTeX');
  assert.ok(replace?.command, `actions: ${actions.map((a) => a.title).join(', ')}`);
  assert.ok(actions.some((a) => a.title === 'Convert all formula images in this document'));
  await vscode.commands.executeCommand(
    replace.command.command,
    ...(replace.command.arguments ?? []),
  );
  await waitFor('the link to be replaced', () => !editor.document.getText().includes('!['));
  const text = editor.document.getText();
  assert.ok(text.startsWith('Euler:\n') && text.endsWith('\nend\n'), text);
  const formula = text.slice('Euler:\n'.length, text.length - '\nend\n'.length);
  assert.equal(assertWrapped(formula, latex, 'markdown'), 'display');
  assert.ok(existsSync(path.join(workspaceDir(), 'eq 1.png')), 'the image stays on disk');
});

test('a settings change reaches the server (Markdown inline delimiters → \\(…\\))', async () => {
  const config = vscode.workspace.getConfiguration('texpaste');
  const editor = await openAt('settings.md', 'Inline  here\n', 'Inline '.length);
  await config.update('delimiters.markdown.inline', 'paren', vscode.ConfigurationTarget.Workspace);
  try {
    // The configuration event reaches the extension asynchronously: allow it a moment.
    let result = await recognizeAt(editor);
    for (let tries = 0; tries < 3 && !result.text.startsWith('\\('); tries++) {
      await sleep(1000);
      result = await recognizeAt(editor);
    }
    assert.ok(result.text.startsWith('\\(') && result.text.endsWith('\\)'), result.text);
  } finally {
    await config.update(
      'delimiters.markdown.inline',
      undefined,
      vscode.ConfigurationTarget.Workspace,
    );
  }
});

test('TeXPaste: Restart Server starts a fresh server that answers', async () => {
  await vscode.commands.executeCommand('texpaste.restart');
  const status = await api.request<{ state: string }>('texpaste/status', {});
  assert.notEqual(status.state, 'error', JSON.stringify(status));
  const commands = await vscode.commands.getCommands(true);
  assert.ok(
    commands.includes('texpaste.insertFormula'),
    'the new client registered the server commands',
  );
});

test('with no model setting the bundled model answers, named in the status bar, and pix2tex is offered', async () => {
  const config = vscode.workspace.getConfiguration('texpaste');
  const model = config.get<string>('model');
  await config.update('model', '', vscode.ConfigurationTarget.Workspace); // restarts the server
  try {
    const status = await api.request<StatusResult>('texpaste/status', {});
    assert.equal(status.model, 'texpaste-small', JSON.stringify(status));
    assert.equal(status.offer?.model, 'pix2tex', JSON.stringify(status));
    await waitFor('the offer', () => api.lastOffer() !== undefined, 10_000);
    assert.match(api.lastOffer()!, /Download the more accurate pix2tex model \(~\d+ MB\)\?/);
    await driver('see', { selector: '.statusbar-item', text: 'TeXPaste: texpaste-small' });
  } finally {
    await config.update('model', model, vscode.ConfigurationTarget.Workspace);
  }
});

export function run(): Promise<void> {
  return runAll();
}
