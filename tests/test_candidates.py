"""Another candidate as server behaviour: after a paste the formula offers "Replace with candidate N"
code actions in any LSP editor, followed through the user's edits (the real ``texpaste serve`` with a
tiny random model; the scripted editor applies edits as an editor does)."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from texpaste.editor.protocol import CANDIDATE_KIND, REPLACE_WITH_CANDIDATE

from .editor import DATA, b64, start_editor, stop_editor


@pytest.fixture
async def editor(tiny_model_dir):
    ed = await start_editor("--model", str(tiny_model_dir))
    yield ed
    await stop_editor(ed)


async def actions(ed, uri, line, start, end=None, only=None, trigger=types.CodeActionTriggerKind.Invoked):
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri),
        range=types.Range(types.Position(line, start), types.Position(line, start if end is None else end)),
        context=types.CodeActionContext(diagnostics=[], only=only, trigger_kind=trigger),
    )
    found = await ed.client.text_document_code_action_async(params) or []
    return [a for a in found if a.kind == CANDIDATE_KIND]


async def test_a_pasted_formula_offers_its_other_candidates_and_swaps_them_in_place(editor):
    uri = editor.open("alt.md", "Text before \nlast line\n", "markdown")
    pasted = await editor.insert(uri, 0, 12, mode="inline")
    texts = [c.text for c in pasted.candidates]
    assert len(texts) >= 2 and texts[0] == pasted.text
    end = pasted.range.end.character

    offered = await actions(editor, uri, 0, end)  # the cursor right after the formula
    enabled = [a for a in offered if a.disabled is None]
    assert len(enabled) == len(texts) - 1
    for action, (i, c) in zip(enabled, list(enumerate(pasted.candidates))[1:], strict=True):
        assert action.title.startswith(f"Replace with candidate {i + 1}: {' '.join(c.latex.split())[:20]}")
        assert action.command.command == REPLACE_WITH_CANDIDATE
    assert await actions(editor, uri, 1, 0) == []  # elsewhere nothing is offered
    assert len(await actions(editor, uri, 0, end, trigger=types.CodeActionTriggerKind.Automatic)) >= 1

    # edits around it: a new first line, text typed right before and right after the formula
    editor.type(uri, 0, 0, "A new first line\n")
    editor.type(uri, 1, end, " (after)")
    editor.type(uri, 1, 12, "X")
    assert editor.docs[uri] == "A new first line\nText before X" + texts[0] + " (after)\nlast line\n"

    second = next(a for a in await actions(editor, uri, 1, 14) if a.data["index"] == 1)
    result = await editor.command(second.command.command, **second.command.arguments[0])
    assert result.applied is True and result.index == 1
    assert editor.docs[uri] == "A new first line\nText before X" + texts[1] + " (after)\nlast line\n"

    # and back: the first candidate is now the one offered, the second one is current
    back = await actions(editor, uri, 1, 14)
    assert [a.data["index"] for a in back if a.disabled is None] == [i for i in range(len(texts)) if i != 1]
    first = next(a for a in back if a.data["index"] == 0)
    await editor.command(first.command.command, **first.command.arguments[0])
    assert editor.docs[uri] == "A new first line\nText before X" + texts[0] + " (after)\nlast line\n"


async def test_a_picker_gets_the_last_paste_with_the_current_candidate_disabled(editor):
    uri = editor.open("picker.md", "a \n\nfar away\n", "markdown")
    assert await actions(editor, uri, 2, 0, only=[CANDIDATE_KIND]) == []  # nothing pasted yet
    pasted = await editor.insert(uri, 0, 2, mode="inline")
    picked = await actions(editor, uri, 2, 3, only=[CANDIDATE_KIND])  # the cursor is elsewhere
    assert [a.data["index"] for a in picked] == list(range(len(pasted.candidates)))
    assert picked[0].disabled.reason == "This candidate is in the document."
    assert [a.data["text"] for a in picked] == [c.text for c in pasted.candidates]
    assert all(a.data["current"] == 0 for a in picked)
    assert await actions(editor, uri, 2, 3, only=["quickfix"]) == []


async def test_an_edited_formula_is_left_alone(editor):
    uri = editor.open("edited.md", "x \n", "markdown")
    pasted = await editor.insert(uri, 0, 2, mode="inline")
    [offer, *_] = [a for a in await actions(editor, uri, 0, 3) if a.disabled is None]
    editor.type(uri, 0, 3, "Y")  # inside the formula
    edited = editor.docs[uri]
    assert await actions(editor, uri, 0, 3) == []
    with pytest.raises(JsonRpcException) as info:
        await editor.command(offer.command.command, **offer.command.arguments[0])
    assert "was edited since it was pasted" in info.value.message
    assert editor.docs[uri] == edited
    with pytest.raises(JsonRpcException, match="index"):
        await editor.command(REPLACE_WITH_CANDIDATE, uri=uri, paste=1, index=-1)
    assert pasted.text not in editor.docs[uri]


async def test_a_paste_the_editor_inserts_itself_is_followed_too(editor):
    uri = editor.open("pasted.md", "See  here\n", "markdown")
    result = await editor.request(
        "texpaste/recognize",
        {"imageBase64": b64(DATA / "formula.png"), "uri": uri, "position": {"line": 0, "character": 4}},
    )
    assert await actions(editor, uri, 0, 4) == []  # not in the document yet
    editor.type(uri, 0, 4, result.text)  # VS Code applies its paste edit
    offered = await actions(editor, uri, 0, 5)
    assert len([a for a in offered if a.disabled is None]) == len(result.candidates) - 1


async def test_a_whole_document_change_forgets_the_pastes(editor):
    uri = editor.open("whole.md", "x \n", "markdown")
    await editor.insert(uri, 0, 2, mode="inline")
    assert await actions(editor, uri, 0, 3) != []
    editor.replace_all(uri, editor.docs[uri])  # a formatter: same text, but the server cannot follow
    assert await actions(editor, uri, 0, 3) == []
