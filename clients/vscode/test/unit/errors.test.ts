import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFailure, sentence } from '../../src/errors';
import { insertArgs } from '../../src/protocol';

test('a server error keeps its kind and sentence', () => {
  const f = describeFailure({
    code: -32803,
    message: 'No formula found in the image',
    data: { kind: 'no-formula' },
  });
  assert.deepEqual(f, {
    kind: 'no-formula',
    message: 'No formula found in the image.',
    cancelled: false,
  });
});

test('a conflict carries the formula the server could not insert', () => {
  const f = describeFailure({
    code: -32803,
    message:
      'The document changed too much while recognising, so nothing was changed; the formula was: $x$.',
    data: { kind: 'conflict', text: '$x$' },
  });
  assert.equal(f.kind, 'conflict');
  assert.equal(f.text, '$x$');
  assert.equal(describeFailure({ data: { kind: 'conflict', text: 7 } }).text, undefined);
});

test('cancellation is recognised whichever way it arrives', () => {
  assert.equal(describeFailure({ code: -32800, message: 'cancelled' }).cancelled, true);
  assert.equal(
    describeFailure({ code: -32803, message: 'x', data: { kind: 'cancelled' } }).cancelled,
    true,
  );
  const canceled = new Error('Canceled');
  canceled.name = 'Canceled';
  assert.equal(describeFailure(canceled).cancelled, true);
});

test('odd rejections still give one sentence', () => {
  assert.deepEqual(describeFailure('boom'), { kind: 'error', message: 'boom.', cancelled: false });
  assert.equal(describeFailure(undefined).message, 'undefined.');
  assert.equal(sentence('  Two\nlines  '), 'Two lines.');
  assert.equal(sentence(''), 'Unknown error.');
});

test('insertArgs: a cursor gives a position, a selection also a range', () => {
  const at = { line: 3, character: 7 };
  assert.deepEqual(insertArgs('file:///a.md', 'markdown', { start: at, end: at }, 'AAA'), {
    uri: 'file:///a.md',
    position: at,
    languageId: 'markdown',
    imageBase64: 'AAA',
  });
  const sel = { start: at, end: { line: 3, character: 9 } };
  assert.deepEqual(insertArgs('file:///a.tex', 'latex', sel), {
    uri: 'file:///a.tex',
    position: at,
    languageId: 'latex',
    range: sel,
  });
});
