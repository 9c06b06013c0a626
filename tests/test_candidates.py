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


@pytest.fixture(scope="module")
def unsure_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with a doubt threshold above every score it can give: all its answers are doubtful."""
    import shutil

    import yaml

    out = tmp_path_factory.mktemp("unsure") / "unsure-model"
    shutil.copytree(tiny_model_dir, out)
    config = yaml.safe_load((out / "config.yaml").read_text())
    (out / "config.yaml").write_text(yaml.safe_dump({**config, "doubt_threshold": 0.0}))
    return out


async def _wait_for(check, timeout=5.0):
    import asyncio

    for _ in range(int(timeout / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def test_a_doubtful_formula_is_marked_until_edited_replaced_or_kept(unsure_model_dir, editor):
    ed = await start_editor("--model", str(unsure_model_dir))
    try:
        uri = ed.open("doubt.md", "a \nb \nc \n", "markdown")
        pasted = await ed.insert(uri, 0, 2, mode="inline")
        assert await _wait_for(lambda: len(ed.client.diagnostics.get(uri, [])) == 1)
        [diag] = ed.client.diagnostics[uri]
        assert diag.message == "texpaste is unsure of this formula: Choose another candidate"
        assert diag.severity == types.DiagnosticSeverity.Information and diag.source == "texpaste"
        assert (diag.range.start.line, diag.range.start.character) == (0, 2)
        assert diag.range.end.character == pasted.range.end.character

        ed.type(uri, 0, 0, ">> ")  # an edit before it moves the mark with it
        assert await _wait_for(lambda: ed.client.diagnostics[uri][0].range.start.character == 5)
        ed.type(uri, 0, 6, "Y")  # an edit inside it: the formula is the user's now
        assert await _wait_for(lambda: not ed.client.diagnostics.get(uri)), ed.client.diagnostics

        await ed.insert(uri, 1, 2, mode="inline")  # choosing a candidate settles the doubt
        assert await _wait_for(lambda: len(ed.client.diagnostics[uri]) == 1)
        other = next(a for a in await actions(ed, uri, 1, 3) if a.disabled is None)
        await ed.command(other.command.command, **other.command.arguments[0])
        assert await _wait_for(lambda: not ed.client.diagnostics[uri]), ed.client.diagnostics

        await ed.insert(uri, 2, 2, mode="inline")  # and so does keeping it
        assert await _wait_for(lambda: len(ed.client.diagnostics[uri]) == 1)
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(2, 3), types.Position(2, 3)),
            context=types.CodeActionContext(diagnostics=list(ed.client.diagnostics[uri])),
        )
        keep = next(
            a
            for a in await ed.client.text_document_code_action_async(params)
            if a.title == "Keep this formula"
        )
        assert keep.kind == types.CodeActionKind.QuickFix
        await ed.command(keep.command.command, **keep.command.arguments[0])
        assert await _wait_for(lambda: not ed.client.diagnostics[uri]), ed.client.diagnostics
    finally:
        await stop_editor(ed)

    # a model without a calibrated threshold marks nothing
    uri = editor.open("sure.md", "x \n", "markdown")
    await editor.insert(uri, 0, 2, mode="inline")
    assert not editor.client.diagnostics.get(uri)
