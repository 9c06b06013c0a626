import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  needsRestart,
  readSettings,
  substitute,
  toInitializationOptions,
} from '../../src/settings';

const subs = { workspaceFolder: '/ws', userHome: '/home/u', env: { MODELS: '/models' } };

function getter(values: Record<string, unknown>) {
  return (key: string) => values[key];
}

test('defaults match package.json and leave model/device to the server', () => {
  const s = readSettings(getter({}));
  assert.deepEqual(toInitializationOptions(s, subs), {
    mode: 'auto',
    candidates: 5,
    delimiters: {
      markdown: { inline: 'dollar', display: 'dollars' },
      tex: { inline: 'paren', display: 'brackets' },
      other: 'raw',
    },
    keepImageLink: false,
    showErrors: false,
  });
});

test('every setting reaches initializationOptions', () => {
  const s = readSettings(
    getter({
      model: '${env:MODELS}/tiny',
      device: 'cpu',
      mode: 'display',
      candidates: 3,
      'delimiters.markdown.inline': 'paren',
      'delimiters.markdown.display': 'mathFence',
      'delimiters.tex.inline': 'dollar',
      'delimiters.tex.display': 'equation*',
      'delimiters.other': 'markdown',
      keepImageLink: true,
    }),
  );
  assert.deepEqual(toInitializationOptions(s, subs), {
    model: '/models/tiny',
    device: 'cpu',
    mode: 'display',
    candidates: 3,
    delimiters: {
      markdown: { inline: 'paren', display: 'mathFence' },
      tex: { inline: 'dollar', display: 'equation*' },
      other: 'markdown',
    },
    keepImageLink: true,
    showErrors: false,
  });
});

test('invalid values fall back to the defaults', () => {
  const s = readSettings(
    getter({
      device: 'tpu',
      mode: 'fancy',
      candidates: 0,
      'delimiters.tex.display': 'align',
      'server.extraArgs': ['-v', 3],
    }),
  );
  assert.equal(s.device, 'auto');
  assert.equal(s.mode, 'auto');
  assert.equal(s.candidates, 5);
  assert.equal(s.delimiters.tex.display, 'brackets');
  assert.deepEqual(s.server.extraArgs, ['-v']);
  assert.equal(readSettings(getter({ candidates: 99 })).candidates, 16);
});

test('substitute expands variables and ~', () => {
  assert.equal(substitute('${workspaceFolder}/m', subs), '/ws/m');
  assert.equal(substitute('${userHome}/.venv/bin/texpaste', subs), '/home/u/.venv/bin/texpaste');
  assert.equal(substitute('~/x', subs), '/home/u/x');
  assert.equal(substitute('${env:NOPE}x', subs), 'x');
  assert.equal(substitute('${workspaceFolder}', { userHome: '/h', env: {} }), '${workspaceFolder}');
});

test('needsRestart: launch changes and keys returning to their defaults', () => {
  const base = readSettings(getter({}));
  assert.equal(needsRestart(base, readSettings(getter({ mode: 'inline' }))), false);
  assert.equal(needsRestart(base, readSettings(getter({ model: 'x' }))), false);
  assert.equal(needsRestart(readSettings(getter({ model: 'x' })), base), true);
  assert.equal(needsRestart(readSettings(getter({ device: 'cpu' })), base), true);
  assert.equal(needsRestart(base, readSettings(getter({ 'server.path': '/bin/texpaste' }))), true);
});

test('package.json declares every setting with the defaults readSettings falls back to', () => {
  const manifest = JSON.parse(
    readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'),
  );
  const properties = manifest.contributes.configuration.properties as Record<
    string,
    { default: unknown }
  >;
  const defaults = readSettings(() => undefined);
  const flat: Record<string, unknown> = {
    'server.path': defaults.server.path,
    'server.interpreter': defaults.server.interpreter,
    'server.extraArgs': defaults.server.extraArgs,
    model: defaults.model,
    device: defaults.device,
    mode: defaults.mode,
    candidates: defaults.candidates,
    'delimiters.markdown.inline': defaults.delimiters.markdown.inline,
    'delimiters.markdown.display': defaults.delimiters.markdown.display,
    'delimiters.tex.inline': defaults.delimiters.tex.inline,
    'delimiters.tex.display': defaults.delimiters.tex.display,
    'delimiters.other': defaults.delimiters.other,
    keepImageLink: defaults.keepImageLink,
  };
  assert.deepEqual(
    Object.keys(properties).sort(),
    Object.keys(flat)
      .map((k) => `texpaste.${k}`)
      .sort(),
  );
  for (const [key, value] of Object.entries(flat)) {
    assert.deepEqual(properties[`texpaste.${key}`]!.default, value, key);
  }
});
