/**
 * Remembers the last inserted formula (document, offsets, candidates) and keeps its offsets
 * right through later edits, for "Choose Another Candidate".
 */

import * as vscode from 'vscode';
import type { Candidate } from './protocol';
import { type OffsetRange, adjustRange } from './rangeTracker';

export interface Insertion {
  uri: string;
  range: OffsetRange;
  candidates: Candidate[];
  /** Index of the candidate now in the document. */
  current: number;
}

/** An edit about to happen (a paste, a replacement) whose change event places the formula. */
interface Expected {
  uri: string;
  offset: number;
  text: string;
  candidates: Candidate[];
  current: number;
}

export class FormulaHistory implements vscode.Disposable {
  private last: Insertion | undefined;
  private expected: Expected | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor() {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (this.last?.uri === doc.uri.toString()) this.last = undefined;
      }),
    ];
  }

  /** The last formula, if it is still intact in an open document. */
  get current(): Insertion | undefined {
    return this.last;
  }

  /**
   * Records `text` as inserted at `offset` of `document`: now, when the document already shows it,
   * else when the matching change arrives.
   */
  record(
    document: vscode.TextDocument,
    offset: number,
    text: string,
    candidates: Candidate[],
    current = 0,
  ): void {
    const uri = document.uri.toString();
    const range = { start: offset, end: offset + text.length };
    if (this.textAt(document, range) === text) {
      this.expected = undefined;
      this.last = { uri, range, candidates, current };
    } else {
      this.expected = { uri, offset, text, candidates, current };
    }
  }

  /** Records a formula whose text will appear at `offset` when VS Code applies a paste. */
  expect(
    document: vscode.TextDocument,
    offset: number,
    text: string,
    candidates: Candidate[],
  ): void {
    this.expected = { uri: document.uri.toString(), offset, text, candidates, current: 0 };
  }

  /** Text of `range` in `document`. */
  textAt(document: vscode.TextDocument, range: OffsetRange): string {
    return document.getText(
      new vscode.Range(document.positionAt(range.start), document.positionAt(range.end)),
    );
  }

  private onChange(event: vscode.TextDocumentChangeEvent): void {
    const uri = event.document.uri.toString();
    const expected = this.expected;
    if (expected?.uri === uri) {
      const hit = event.contentChanges.find(
        (c) => c.rangeOffset === expected.offset && c.text === expected.text,
      );
      if (hit) {
        this.expected = undefined;
        const others = event.contentChanges.filter((c) => c !== hit);
        const range = { start: expected.offset, end: expected.offset + expected.text.length };
        // Other cursors' changes in the same event (multi-cursor paste) may shift it.
        const adjusted = adjustRange(
          range,
          others.map((c) => ({
            rangeOffset: c.rangeOffset,
            rangeLength: c.rangeLength,
            textLength: c.text.length,
          })),
        );
        this.last = adjusted && {
          uri,
          range: adjusted,
          candidates: expected.candidates,
          current: expected.current,
        };
        return;
      }
    }
    if (this.last?.uri !== uri || event.contentChanges.length === 0) return;
    const range = adjustRange(
      this.last.range,
      event.contentChanges.map((c) => ({
        rangeOffset: c.rangeOffset,
        rangeLength: c.rangeLength,
        textLength: c.text.length,
      })),
    );
    this.last = range && { ...this.last, range };
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
