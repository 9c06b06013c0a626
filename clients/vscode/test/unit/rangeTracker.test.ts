import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adjustRange } from '../../src/rangeTracker';

const r = { start: 10, end: 20 };
const change = (rangeOffset: number, rangeLength: number, textLength: number) => ({
  rangeOffset,
  rangeLength,
  textLength,
});

test('edits before the formula shift it', () => {
  assert.deepEqual(adjustRange(r, [change(0, 0, 5)]), { start: 15, end: 25 });
  assert.deepEqual(adjustRange(r, [change(2, 4, 1)]), { start: 7, end: 17 });
  assert.deepEqual(
    adjustRange(r, [change(10, 0, 3)]),
    { start: 13, end: 23 },
    'typing at its start',
  );
  assert.deepEqual(
    adjustRange(r, [change(5, 5, 0)]),
    { start: 5, end: 15 },
    'deleting up to its start',
  );
});

test('edits after the formula leave it', () => {
  assert.deepEqual(adjustRange(r, [change(20, 0, 4)]), r, 'typing at its end');
  assert.deepEqual(adjustRange(r, [change(30, 10, 0)]), r);
});

test('edits inside or across the formula drop it', () => {
  assert.equal(adjustRange(r, [change(12, 1, 1)]), undefined);
  assert.equal(adjustRange(r, [change(5, 10, 0)]), undefined);
  assert.equal(adjustRange(r, [change(19, 5, 0)]), undefined);
  assert.equal(adjustRange(r, [change(0, 40, 3)]), undefined);
});

test('several changes of one event add up', () => {
  // Multi-cursor typing: one character before and one after the formula.
  assert.deepEqual(adjustRange(r, [change(25, 0, 1), change(3, 0, 1)]), { start: 11, end: 21 });
  assert.deepEqual(
    adjustRange(r, [change(25, 0, 1), change(3, 0, 1), change(15, 0, 1)]),
    undefined,
  );
});
