"""The formulas this server pasted, followed through later edits, so that their other candidates stay a
code action away ("Replace with candidate 2: ...") in every editor, with no range tracking in clients.

A paste is recorded with the range its text will occupy. It is *settled* once the server's copy of
the document shows that text there (the editor's ``didChange`` for the edit may arrive before or
after the ``workspace/applyEdit`` reply, and a client may describe the change differently from the
edit it was sent); from then on every change moves it, and a change touching its inside forgets it.
Text typed right before or right after a formula stays outside it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument

from texpaste.editor.edits import follow_span, text_in

PER_DOCUMENT = 8  # recent pastes remembered per document


@dataclass
class Paste:
    id: int
    uri: str
    range: types.Range  # where ``candidates[current]["text"]`` is (or, until settled, will be)
    candidates: list[dict[str, Any]]  # {latex, score, text}: each wrapped for this spot
    current: int = 0
    settled: bool = False
    doubtful: bool = False  # the model was unsure: marked with a diagnostic until edited or accepted

    @property
    def text(self) -> str:
        return self.candidates[self.current]["text"]


@dataclass
class PasteLog:
    pastes: dict[str, list[Paste]] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def record(
        self,
        uri: str,
        start: types.Position,
        end: types.Position,
        candidates: list[dict[str, Any]],
        current: int,
        doc: TextDocument | None,
        doubtful: bool = False,
    ) -> Paste:
        """Remember that ``candidates[current]`` was (or is about to be) put at ``start``-``end``."""
        paste = Paste(next(self.ids), uri, types.Range(start, end), candidates, current, doubtful=doubtful)
        recent = [p for p in self.pastes.get(uri, []) if p.id != paste.id][-(PER_DOCUMENT - 1) :]
        self.pastes[uri] = [*recent, paste]
        self._settle(paste, doc)
        return paste

    def replaced(self, paste: Paste, index: int, end: types.Position, doc: TextDocument | None) -> None:
        """``paste`` now shows candidate ``index``, ending at ``end`` once the editor applied it."""
        paste.current, paste.range, paste.settled = index, types.Range(paste.range.start, end), False
        paste.doubtful = False  # the user chose: no longer in doubt
        kept = self.pastes.setdefault(paste.uri, [])
        if paste not in kept:  # the replacement's didChange came first and touched it: mine again
            kept.append(paste)
        self._settle(paste, doc)

    def changed(self, uri: str, changes: list[Any], doc: TextDocument | None, codec: Any) -> None:
        """Follow one ``didChange`` (its changes in order; ``doc`` already shows them)."""
        kept = []
        for paste in self.pastes.get(uri, []):
            if paste.settled:
                span: types.Range | None = paste.range
                for change in changes:
                    span = follow_span(span, change, codec)
                    if span is None:
                        break
                if span is None:
                    continue  # the user edited the formula: it is theirs now
                paste.range = span
            else:
                self._settle(paste, doc)
            kept.append(paste)
        self.pastes[uri] = kept

    def closed(self, uri: str) -> None:
        self.pastes.pop(uri, None)

    def at(self, uri: str, where: types.Range, doc: TextDocument | None) -> list[Paste]:
        """The intact pastes that ``where`` touches, newest first."""
        return [p for p in reversed(self._intact(uri, doc)) if _touches(p.range, where)]

    def last(self, uri: str, doc: TextDocument | None) -> Paste | None:
        intact = self._intact(uri, doc)
        return intact[-1] if intact else None

    def get(self, uri: str, paste_id: Any, doc: TextDocument | None) -> Paste | None:
        return next((p for p in self._intact(uri, doc) if p.id == paste_id), None)

    def doubtful(self, uri: str, doc: TextDocument | None) -> list[Paste]:
        """The intact pastes still marked doubtful (the diagnostics of ``uri``)."""
        return [p for p in self._intact(uri, doc) if p.doubtful]

    def _intact(self, uri: str, doc: TextDocument | None) -> list[Paste]:
        """The settled pastes whose text is still where they are (a check on every use: cheap)."""
        return [p for p in self.pastes.get(uri, []) if p.settled and doc and text_in(doc, p.range) == p.text]

    @staticmethod
    def _settle(paste: Paste, doc: TextDocument | None) -> None:
        if doc is not None and text_in(doc, paste.range) == paste.text:
            paste.settled = True


def _touches(a: types.Range, b: types.Range) -> bool:
    """Whether ``b`` (a cursor or a selection) overlaps ``a`` or sits at its edge."""
    return (b.start.line, b.start.character) <= (a.end.line, a.end.character) and (
        a.start.line,
        a.start.character,
    ) <= (b.end.line, b.end.character)
