"""Where a paste lands: the text around the insertion point, and following the user's edits while it runs.

Positions are in the client's units (UTF-16 by default); the document's position codec converts.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument

from texpaste.errors import EditConflict

EXTENSION_LANGUAGES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rmd": "rmd",
    ".qmd": "quarto",
    ".tex": "tex",
    ".latex": "latex",
    ".sty": "tex",
    ".cls": "tex",
}


class ChangeLog:
    """The documents' recent incremental changes, so a paste can follow the edits made while it ran."""

    def __init__(self, size: int = 10_000) -> None:
        self.seq = 0
        self.entries: deque[tuple[int, str, Any]] = deque(maxlen=size)

    def add(self, uri: str, change: Any) -> None:
        self.seq += 1
        self.entries.append((self.seq, uri, change))

    def since(self, seq: int, uri: str) -> list[Any] | None:
        """The changes to ``uri`` after ``seq``, oldest first; None when they are no longer all known."""
        if seq < self.seq and (not self.entries or self.entries[0][0] > seq + 1):
            return None
        return [change for s, u, change in self.entries if s > seq and u == uri]


def _before(p: types.Position, q: types.Position) -> bool:
    return (p.line, p.character) < (q.line, q.character)


def _moved(
    p: types.Position, start: types.Position, end: types.Position, new_end: types.Position
) -> types.Position:
    """Where ``p`` is after ``start``-``end`` was replaced by text ending at ``new_end``."""
    if _before(p, start):
        return p
    if not _before(p, end):
        if p.line == end.line:
            return types.Position(new_end.line, new_end.character + p.character - end.character)
        return types.Position(p.line + new_end.line - end.line, p.character)
    return new_end  # inside the replaced text: just after what replaced it


def follow_edits(target: types.Range, changes: list[Any], codec: Any) -> types.Range:
    """``target`` moved through the user's later edits; EditConflict when they touched its text."""
    for change in changes:
        if not isinstance(change, types.TextDocumentContentChangePartial):  # a formatter, a reload
            raise EditConflict("The whole document was replaced while recognising, so nothing was changed.")
        start, end = change.range.start, change.range.end
        if _before(target.start, target.end) and _before(start, target.end) and _before(target.start, end):
            raise EditConflict("The text to replace was edited while recognising, so nothing was changed.")
        new_end = end_after_insert(start, change.text, codec)
        target = types.Range(
            _moved(target.start, start, end, new_end), _moved(target.end, start, end, new_end)
        )
    return target


def follow_span(span: types.Range, change: Any, codec: Any) -> types.Range | None:
    """A pasted formula's range after one content change; None when the change touched its text
    or replaced the whole document. Text inserted right at either edge stays outside it."""
    if not isinstance(change, types.TextDocumentContentChangePartial):
        return None
    start, end = change.range.start, change.range.end
    if _before(start, span.end) and _before(span.start, end):
        return None
    if not _before(start, span.end):
        return span  # after it, or inserted at its end
    new_end = end_after_insert(start, change.text, codec)  # before it, or inserted at its start
    return types.Range(_moved(span.start, start, end, new_end), _moved(span.end, start, end, new_end))


def text_in(doc: TextDocument, span: types.Range) -> str | None:
    """The document's text in ``span`` (client units), or None when the span is outside it."""
    try:
        lines = doc.lines
    except (OSError, UnicodeDecodeError, TypeError, ValueError):
        return None
    codec = doc.position_codec
    if span.end.line >= len(lines) and not (span.end.line == len(lines) and span.end.character == 0):
        return None
    text = "".join(lines)
    # copies: pygls clamps a position past the end of its line in place
    start = codec.position_from_client_units(lines, types.Position(span.start.line, span.start.character))
    end = codec.position_from_client_units(lines, types.Position(span.end.line, span.end.character))
    return text[DocumentContext._offset(lines, start) : DocumentContext._offset(lines, end)]


def position_at(doc: TextDocument, offset: int) -> types.Position:
    """The LSP position (client units) of a code-point offset of the document's text."""
    lines = doc.lines
    line, start = 0, 0
    for line, text in enumerate(lines):
        if offset <= start + len(text.rstrip("\r\n")) or line == len(lines) - 1:
            break
        start += len(text)
    else:
        return types.Position(0, 0)
    return types.Position(line, doc.position_codec.client_num_units(lines[line][: max(0, offset - start)]))


def offset_at(doc: TextDocument, pos: types.Position) -> int:
    """The code-point offset of an LSP position (client units) in the document's text."""
    lines = doc.lines
    server_pos = doc.position_codec.position_from_client_units(lines, types.Position(pos.line, pos.character))
    return DocumentContext._offset(lines, server_pos)


class DocumentContext:
    """The document text around an insertion point, for wrapping (code points, not client units)."""

    def __init__(self, doc: TextDocument | None, start: types.Position, end: types.Position) -> None:
        self.before, self.after = "", ""
        if doc is None:
            return
        try:
            lines = doc.lines
        except (OSError, UnicodeDecodeError, TypeError, ValueError):
            return  # an unsaved or unreadable document: wrap without context
        codec = doc.position_codec
        text = "".join(lines)
        start, end = types.Position(start.line, start.character), types.Position(end.line, end.character)
        self.before = text[: self._offset(lines, codec.position_from_client_units(lines, start))]
        self.after = text[self._offset(lines, codec.position_from_client_units(lines, end)) :]

    @staticmethod
    def _offset(lines: list[str], pos: Any) -> int:
        if pos.line >= len(lines):
            return sum(map(len, lines))
        return sum(map(len, lines[: pos.line])) + min(pos.character, len(lines[pos.line]))


def end_after_insert(start: types.Position, text: str, codec: Any) -> types.Position:
    """Where ``text`` ends once inserted at ``start`` (client units)."""
    parts = text.replace("\r\n", "\n").split("\n")
    if len(parts) == 1:
        return types.Position(start.line, start.character + codec.client_num_units(text))
    return types.Position(start.line + len(parts) - 1, codec.client_num_units(parts[-1]))


def workspace_edit(
    server: Any, uri: str, doc: TextDocument | None, edits: list[types.TextEdit]
) -> types.WorkspaceEdit:
    """Edits of one document as a versioned ``TextDocumentEdit``: an editor whose document has moved
    on since (a formatter ran, the user typed) refuses it instead of editing stale coordinates.
    Clients without ``documentChanges`` get the plain ``changes`` form."""
    caps = server.client_capabilities.workspace
    if caps and caps.workspace_edit and caps.workspace_edit.document_changes:
        document = types.OptionalVersionedTextDocumentIdentifier(
            uri=uri, version=doc.version if doc else None
        )
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=document, edits=edits)]
        )
    return types.WorkspaceEdit(changes={uri: edits})


def language_of(uri: str, doc: TextDocument | None) -> str:
    if doc is not None and doc.language_id:
        return doc.language_id
    suffix = Path(uri.split("?", 1)[0]).suffix.lower()
    return EXTENSION_LANGUAGES.get(suffix, "plaintext")
