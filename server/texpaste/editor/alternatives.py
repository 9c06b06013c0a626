"""Another candidate and doubtful results as server behaviour: the "Replace with candidate N" code
actions on a pasted formula (:mod:`texpaste.editor.pastes` follows it), their command, and the
diagnostics on formulas the model was unsure of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types

from texpaste.editor.edits import end_after_insert, workspace_edit
from texpaste.editor.pastes import Paste
from texpaste.editor.protocol import (
    ACCEPT_FORMULA,
    CANDIDATE_KIND,
    DOUBT_CODE,
    DOUBT_MESSAGE,
    REPLACE_WITH_CANDIDATE,
    command_arguments,
    optional_str,
    position_json,
)
from texpaste.errors import EditConflict, RequestError

if TYPE_CHECKING:
    from texpaste.editor.server import TexpasteServer


def with_current(
    candidates: list[dict[str, Any]], result: dict[str, Any], text: str
) -> tuple[list[dict[str, Any]], int]:
    """The candidates and the index of the one whose text was inserted (added when it is none)."""
    for i, c in enumerate(candidates):
        if c["text"] == text:
            return candidates, i
    return [{"latex": result["latex"], "score": None, "text": text}, *candidates], 0


def _one_line(latex: str, limit: int = 60) -> str:
    flat = " ".join(latex.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def code_actions(ls: TexpasteServer, paste: Paste, show_current: bool) -> list[types.CodeAction]:
    """One action per other candidate of ``paste``; the one in the document too, disabled, for a
    picker (or an editor that greys disabled actions) to show it; "Keep this formula" when in doubt."""
    actions = []
    if paste.doubtful:
        keep = types.Command(
            title="Keep this formula",
            command=ACCEPT_FORMULA,
            arguments=[{"uri": paste.uri, "paste": paste.id}],
        )
        actions.append(
            types.CodeAction(title="Keep this formula", kind=types.CodeActionKind.QuickFix, command=keep)
        )
    for i, c in enumerate(paste.candidates):
        title = f"Replace with candidate {i + 1}: {_one_line(c['latex'])}"
        data = {"paste": paste.id, "index": i, "current": paste.current, **c}
        if i == paste.current:
            if show_current:
                reason = types.CodeActionDisabled(reason="This candidate is in the document.")
                actions.append(types.CodeAction(title=title, kind=CANDIDATE_KIND, disabled=reason, data=data))
            continue
        args = {"uri": paste.uri, "paste": paste.id, "index": i}
        command = types.Command(title=title, command=REPLACE_WITH_CANDIDATE, arguments=[args])
        actions.append(types.CodeAction(title=title, kind=CANDIDATE_KIND, command=command, data=data))
    return actions


async def replace(ls: TexpasteServer, args: tuple[Any, ...]) -> dict[str, Any]:
    a = command_arguments(args, REPLACE_WITH_CANDIDATE)
    uri = optional_str(a, "uri")
    index = a.get("index")
    if not uri or not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise RequestError(f"{REPLACE_WITH_CANDIDATE} takes {{uri, paste, index}} with a whole number index.")
    doc = ls.workspace.text_documents.get(uri)
    paste = ls.pastes.get(uri, a.get("paste"), doc)
    if paste is None or doc is None:
        raise EditConflict("The formula was edited since it was pasted, so it was left as it is.")
    if index >= len(paste.candidates):
        raise RequestError(f"There is no candidate {index + 1}: the formula has {len(paste.candidates)}.")
    text = paste.candidates[index]["text"]
    target = paste.range
    response = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=workspace_edit(ls, uri, doc, [types.TextEdit(range=target, new_text=text)]),
            label="texpaste: replace formula",
        )
    )
    if not response.applied:
        raise EditConflict("The editor did not apply the replacement, so the formula was left as it is.")
    end = end_after_insert(target.start, text, doc.position_codec)
    ls.pastes.replaced(paste, index, end, ls.workspace.text_documents.get(uri))
    publish_doubts(ls, uri)
    return {
        "applied": True,
        "index": index,
        "text": text,
        "range": {"start": position_json(target.start), "end": position_json(end)},
    }


def accept(ls: TexpasteServer, args: tuple[Any, ...]) -> dict[str, Any]:
    """``texpaste.acceptFormula {uri, paste}``: the user keeps a doubtful formula; its mark goes."""
    a = command_arguments(args, ACCEPT_FORMULA)
    uri = optional_str(a, "uri") or ""
    paste = ls.pastes.get(uri, a.get("paste"), ls.workspace.text_documents.get(uri))
    if paste is not None:
        paste.doubtful = False
        publish_doubts(ls, uri)
    return {"accepted": paste is not None}


def publish_doubts(ls: TexpasteServer, uri: str) -> None:
    """The diagnostics of ``uri``: one (information) on each pasted formula the model was unsure
    of, until the user edits it, chooses a candidate or keeps it. Sent only when they change."""
    doc = ls.workspace.text_documents.get(uri)
    ranges = [p.range for p in ls.pastes.doubtful(uri, doc)]
    key = [(r.start.line, r.start.character, r.end.line, r.end.character) for r in ranges]
    if ls.published.get(uri, []) == key:
        return
    ls.published[uri] = key
    diagnostics = [
        types.Diagnostic(
            range=r,
            message=DOUBT_MESSAGE,
            severity=types.DiagnosticSeverity.Information,
            source="texpaste",
            code=DOUBT_CODE,
        )
        for r in ranges
    ]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version if doc else None)
    )
