/**
 * Drives the real `texpaste serve` exactly as the extension does: the launch from serverLaunch.ts,
 * initializationOptions from settings.ts, VS Code's JSON-RPC stack and client capabilities.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  CancellationTokenSource,
  type ProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Server } from '../../src/constants';
import type { InsertFormulaResult, RecognizeResult, StatusResult } from '../../src/protocol';
import { resolveLaunch } from '../../src/serverLaunch';
import { readSettings, toInitializationOptions } from '../../src/settings';
import { wrapping } from '../support/delimiters';
import { blankPng } from '../support/png';
import { repoRoot, runtimeDir, stopDaemon, texpasteBin, tinyModel } from '../support/server';

const FORMULA = readFileSync(path.join(repoRoot(), 'tests', 'data', 'formula.png')).toString(
  'base64',
);
const BLANK = blankPng().toString('base64');
const runtime = runtimeDir();
const model = tinyModel();

let proc: ChildProcess;
let conn: ProtocolConnection;
let stderr = '';
const docs = new Map<string, TextDocument>();
const shown: string[] = [];
const progress: unknown[] = [];

function settings(extra: Record<string, unknown> = {}) {
  const values: Record<string, unknown> = { model, ...extra };
  return toInitializationOptions(
    readSettings((k) => values[k]),
    { userHome: '/', env: {} },
  );
}

function open(name: string, languageId: string, text: string): string {
  const uri = `file:///tmp/texpaste-wire/${name}`;
  docs.set(uri, TextDocument.create(uri, languageId, 1, text));
  void conn.sendNotification('textDocument/didOpen', {
    textDocument: { uri, languageId, version: 1, text },
  });
  return uri;
}

function text(uri: string): string {
  return docs.get(uri)!.getText();
}

function insert(args: Record<string, unknown>): Promise<InsertFormulaResult> {
  return conn.sendRequest('workspace/executeCommand', {
    command: Server.insertFormula,
    arguments: [args],
  });
}

function rangeText(uri: string, r: InsertFormulaResult['range']): string {
  const doc = docs.get(uri)!;
  return doc.getText().slice(doc.offsetAt(r.start), doc.offsetAt(r.end));
}

before(async () => {
  const launch = await resolveLaunch(
    { path: texpasteBin(), interpreter: '', extraArgs: [] },
    {
      isExecutable: (f) =>
        access(f).then(
          () => true,
          () => false,
        ),
      which: async () => undefined,
      canImportTexpaste: async () => false,
      pythonExtensionInterpreter: async () => undefined,
    },
  );
  proc = spawn(launch.command, launch.args, {
    env: { ...process.env, TEXPASTE_RUNTIME_DIR: runtime },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  conn = createProtocolConnection(
    new StreamMessageReader(proc.stdout!),
    new StreamMessageWriter(proc.stdin!),
  );
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onRequest('client/registerCapability', () => null);
  conn.onRequest('workspace/configuration', (p: { items: unknown[] }) =>
    p.items.map(() => settings()),
  );
  conn.onRequest(
    'workspace/applyEdit',
    (p: {
      edit: {
        changes?: Record<string, never[]>;
        documentChanges?: {
          textDocument: { uri: string; version: number | null };
          edits: never[];
        }[];
      };
    }): { applied: boolean; failureReason?: string } => {
      // Like VS Code: a versioned edit applies only to that version of the document.
      const all: [string, never[], number | null | undefined][] = [
        ...Object.entries(p.edit.changes ?? {}).map(
          ([u, e]) => [u, e, undefined] as [string, never[], undefined],
        ),
        ...(p.edit.documentChanges ?? []).map(
          (c) =>
            [c.textDocument.uri, c.edits, c.textDocument.version] as [
              string,
              never[],
              number | null,
            ],
        ),
      ];
      for (const [uri, edits, version] of all) {
        const doc = docs.get(uri);
        if (!doc) return { applied: false, failureReason: `unknown ${uri}` };
        if (typeof version === 'number' && version !== doc.version)
          return { applied: false, failureReason: `stale version ${version}` };
        docs.set(
          uri,
          TextDocument.create(
            uri,
            doc.languageId,
            doc.version, // no didChange reaches the server here, so its version stays
            TextDocument.applyEdits(doc, edits),
          ),
        );
      }
      return { applied: true };
    },
  );
  conn.onNotification('window/showMessage', (p: { message: string }) => void shown.push(p.message));
  conn.onNotification('window/logMessage', () => undefined);
  conn.onNotification('$/progress', (p: unknown) => void progress.push(p));
  conn.listen();
  const init = (await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      window: { workDoneProgress: true, showMessage: {} },
      workspace: {
        applyEdit: true,
        workspaceEdit: { documentChanges: true },
        executeCommand: { dynamicRegistration: true },
        configuration: true,
        didChangeConfiguration: { dynamicRegistration: true },
      },
      textDocument: { synchronization: { dynamicRegistration: true, didSave: true } },
    },
    initializationOptions: settings(),
  })) as { capabilities: Record<string, unknown> };
  capabilities = init.capabilities;
  await conn.sendNotification('initialized', {});
});

let capabilities: Record<string, unknown> = {};

after(async () => {
  try {
    await Promise.race([conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 5000))]);
    await conn.sendNotification('exit');
  } catch {
    // the server is gone already
  }
  await new Promise((r) => setTimeout(r, 300));
  proc.kill();
  conn.dispose();
  stopDaemon(runtime);
});

test('initialize: the commands, code actions, sync and utf-16', () => {
  const commands = (capabilities.executeCommandProvider as { commands: string[] }).commands;
  assert.deepEqual(
    [...commands].sort(),
    [
      Server.insertFormula,
      Server.insertFormulaFromClipboard,
      Server.insertFormulaFromScreenshot,
      Server.replaceWithCandidate,
      'texpaste.acceptFormula',
      'texpaste.replaceImageWithLatex',
      'texpaste.convertAllImages',
      Server.downloadModel,
      Server.declineModelOffer,
    ].sort(),
  );
  assert.ok(capabilities.codeActionProvider, 'codeActionProvider');
  assert.ok(capabilities.textDocumentSync, 'textDocumentSync');
  assert.equal(capabilities.positionEncoding ?? 'utf-16', 'utf-16');
});

test('insertFormula in Markdown: inline $…$ at the cursor, range and candidates', async () => {
  const before = 'Einstein: ';
  const uri = open('inline.md', 'markdown', `${before}\nnext line\n`);
  const result = await insert({
    uri,
    position: { line: 0, character: before.length },
    languageId: 'markdown',
    imageBase64: FORMULA,
  });
  assert.equal(result.applied, true);
  assert.equal(text(uri), `${before}${result.text}\nnext line\n`);
  assert.equal(rangeText(uri, result.range), result.text);
  assert.ok(wrapping(result.text, result.latex, 'markdown'), result.text);
  assert.equal(result.candidates[0]!.text, result.text);
  assert.ok(result.candidates.length >= 1 && result.candidates.length <= 5);
  assert.deepEqual(shown, [], 'showErrors:false keeps the server quiet');
  assert.ok(progress.length >= 2, 'work done progress begin/end');
});

test('insertFormula on a blank Markdown line: a $$ display block', async () => {
  const uri = open('display.md', 'markdown', 'Intro\n\nOutro\n');
  const result = await insert({
    uri,
    position: { line: 1, character: 0 },
    languageId: 'markdown',
    imageBase64: FORMULA,
  });
  assert.equal(wrapping(result.text, result.latex, 'markdown'), 'display', result.text);
  assert.equal(text(uri), `Intro\n${result.text}\nOutro\n`);
});

test('LaTeX: recognize (no edit) then insertFormula give the same \\(…\\) text', async () => {
  const uri = open('a.tex', 'latex', 'We have  here.\n');
  const position = { line: 0, character: 8 };
  const recognized = await conn.sendRequest<RecognizeResult>(Server.recognize, {
    imageBase64: FORMULA,
    languageId: 'latex',
    uri,
    position,
  });
  assert.equal(text(uri), 'We have  here.\n', 'recognize does not edit');
  const result = await insert({ uri, position, languageId: 'latex', imageBase64: FORMULA });
  assert.equal(result.text, recognized.text);
  assert.equal(text(uri), `We have ${result.text} here.\n`);
  assert.ok(wrapping(result.text, result.latex, 'tex'), result.text);
});

test('a selection (range) is replaced', async () => {
  const uri = open('replace.md', 'markdown', 'a XXX b\n');
  const range = { start: { line: 0, character: 2 }, end: { line: 0, character: 5 } };
  const result = await insert({
    uri,
    position: range.start,
    range,
    languageId: 'markdown',
    imageBase64: FORMULA,
  });
  assert.equal(text(uri), `a ${result.text} b\n`);
});

test('didChangeConfiguration switches the Markdown delimiters', async () => {
  await conn.sendNotification('workspace/didChangeConfiguration', {
    settings: { texpaste: settings({ 'delimiters.markdown.inline': 'paren', mode: 'inline' }) },
  });
  const uri = open('paren.md', 'markdown', 'x \n');
  const result = await insert({
    uri,
    position: { line: 0, character: 2 },
    languageId: 'markdown',
    imageBase64: FORMULA,
  });
  assert.ok(result.text.startsWith('\\(') && result.text.endsWith('\\)'), result.text);
  await conn.sendNotification('workspace/didChangeConfiguration', {
    settings: { texpaste: settings() },
  });
});

test('a blank image fails with no-formula and leaves the document unchanged', async () => {
  const uri = open('blank.md', 'markdown', 'keep me\n');
  await assert.rejects(
    insert({
      uri,
      position: { line: 0, character: 4 },
      languageId: 'markdown',
      imageBase64: BLANK,
    }),
    (e: { code: number; data?: { kind?: string }; message: string }) => {
      assert.equal(e.code, -32803);
      assert.equal(e.data?.kind, 'no-formula');
      assert.ok(e.message.length > 0);
      return true;
    },
  );
  assert.equal(text(uri), 'keep me\n');
  assert.deepEqual(shown, []);
});

test('cancelling a running insertFormula fails with -32800 and leaves the document unchanged', async () => {
  const uri = open('cancel.md', 'markdown', 'stay as you are\n');
  const source = new CancellationTokenSource();
  const args = {
    uri,
    position: { line: 0, character: 4 },
    languageId: 'markdown',
    imageBase64: FORMULA,
  };
  const pending = conn.sendRequest(
    'workspace/executeCommand',
    { command: Server.insertFormula, arguments: [args] },
    source.token,
  );
  setTimeout(() => source.cancel(), 0); // the extension's progress notification "Cancel" does this
  await assert.rejects(pending, (e: { code: number }) => {
    assert.equal(e.code, -32800);
    return true;
  });
  await new Promise((r) => setTimeout(r, 1500)); // a late edit would arrive by now
  assert.equal(text(uri), 'stay as you are\n');
});

test('missing arguments fail with invalid-params', async () => {
  await assert.rejects(
    insert({ languageId: 'markdown', imageBase64: FORMULA }),
    (e: { code: number }) => {
      assert.equal(e.code, -32602);
      return true;
    },
  );
});

test('texpaste/status reports the daemon engine', async () => {
  const status = await conn.sendRequest<StatusResult>(Server.status, {});
  assert.ok(['ready', 'idle', 'loading'].includes(status.state), JSON.stringify(status));
  assert.equal(status.engine, 'daemon');
  assert.equal(stderr.includes('Traceback'), false, stderr);
});
