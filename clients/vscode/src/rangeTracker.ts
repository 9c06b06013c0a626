/**
 * Keeps an inserted formula's offsets right while the document is edited elsewhere, so
 * "Choose Another Candidate" replaces the formula and nothing else. vscode-free.
 */

export interface OffsetRange {
  start: number;
  end: number;
}

/** One content change, in offsets of the document before the change. */
export interface OffsetChange {
  rangeOffset: number;
  rangeLength: number;
  textLength: number;
}

/**
 * The range after `changes` (one change event, non-overlapping, all relative to the document
 * before the event), or undefined when a change touched the inside of the range.
 * Inserting exactly at the start or end leaves the formula where it is (text is added beside it).
 */
export function adjustRange(
  range: OffsetRange,
  changes: readonly OffsetChange[],
): OffsetRange | undefined {
  let shift = 0;
  for (const change of changes) {
    const changeEnd = change.rangeOffset + change.rangeLength;
    const delta = change.textLength - change.rangeLength;
    if (changeEnd <= range.start) {
      // Entirely before the formula (an insertion at its start counts as before).
      shift += delta;
    } else if (change.rangeOffset >= range.end) {
      // Entirely after the formula (an insertion at its end counts as after).
    } else {
      return undefined;
    }
  }
  return { start: range.start + shift, end: range.end + shift };
}
